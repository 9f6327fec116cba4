package org.pockettorch.sample

import android.app.Activity
import android.os.Bundle
import android.util.Log
import android.widget.TextView
import java.io.IOException
import kotlin.concurrent.thread
import org.pockettorch.sample.bench.BenchmarkConfig
import org.pockettorch.sample.bench.runBenchmark
import org.pockettorch.sample.bench.writeAtomically
import org.pockettorch.sample.classifier.pockettorch.ErrorCode
import org.pockettorch.sample.classifier.pockettorch.PocketTorchException

/**
 * Benchmarks any .ptm, started by the device harness:
 *
 *     am start -W -n org.pockettorch.sample/.BenchmarkActivity --es model /data/local/tmp/pockettorch/m.ptm \
 *         --ei iterations 50 --ei warmup 5 --ei threads 1 --es output /sdcard/Android/data/org.pockettorch.sample/files/r.json
 *
 * It writes one `pockettorch.run/1` JSON object to `output` (atomically) and finishes. On failure it writes
 * `<output>.error.json` ({"status", "code", "message"}) instead, so a harness polling for either file never hangs.
 */
public class BenchmarkActivity : Activity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val status = TextView(this)
        status.setText("Benchmarking…")
        setContentView(status)
        val output = intent.getStringExtra("output")
        thread(name = "pockettorch-benchmark") {
            try {
                val config = BenchmarkConfig.fromExtras(intent::getStringExtra, intent::getIntExtra)
                writeAtomically(config.output, runBenchmark(config).toJson() + "\n")
                Log.i(TAG, "wrote ${config.output}")
            } catch (e: PocketTorchException) {
                fail(output, e.errorCode, e.message ?: "")
            } catch (e: IllegalArgumentException) {
                fail(output, ErrorCode.INVALID_ARGUMENT, e.message ?: "")
            } catch (e: IOException) {
                fail(output, ErrorCode.IO, e.message ?: "")
            }
            runOnUiThread { finish() }
        }
    }

    private fun fail(output: String?, error: ErrorCode, message: String) {
        Log.e(TAG, "PKT_${error.name}: $message")
        if (output != null) {
            val escaped = message.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", " ")
            val json = "{\"status\":\"PKT_${error.name}\",\"code\":${error.code},\"message\":\"$escaped\"}\n"
            runCatching { writeAtomically("$output.error.json", json) }
        }
    }

    private companion object {
        const val TAG = "PocketTorchBenchmark"
    }
}
