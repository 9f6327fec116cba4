package org.pockettorch.sample.bench

import java.util.Locale

/** One benchmark result in the runner's JSON schema `pockettorch.run/1` (runtime/tools/RUN_JSON.md). */
public data class RunReport(
    val model: String,
    val threads: Int,
    val isa: String,
    val iters: Int,
    val warmup: Int,
    val loadMs: Double,
    val firstInferenceMs: Double,
    val latency: LatencyStats,
    val arenaBytes: Long,
    val peakRssKb: Long?,
    val samplesMs: List<Double>,
) {
    /** One JSON object on one line; times with 6 decimals, non-finite values as null, like the runner. */
    public fun toJson(): String = buildString {
        append("{\"schema\":\"pockettorch.run/1\"")
        append(",\"model\":").append(jsonString(model))
        append(",\"runtime\":\"c\"")
        append(",\"threads\":").append(threads)
        append(",\"isa\":").append(jsonString(isa))
        append(",\"iters\":").append(iters)
        append(",\"warmup\":").append(warmup)
        append(",\"load_ms\":").append(ms(loadMs))
        append(",\"first_inference_ms\":").append(ms(firstInferenceMs))
        append(",\"latency_ms\":{")
        append("\"min\":").append(ms(latency.min))
        append(",\"median\":").append(ms(latency.median))
        append(",\"p90\":").append(ms(latency.p90))
        append(",\"p99\":").append(ms(latency.p99))
        append(",\"mean\":").append(ms(latency.mean))
        append(",\"std\":").append(ms(latency.std))
        append("}")
        append(",\"arena_bytes\":").append(arenaBytes)
        append(",\"peak_rss_kb\":").append(peakRssKb?.toString() ?: "null")
        append(",\"samples_ms\":[").append(samplesMs.joinToString(",") { ms(it) }).append("]")
        append("}")
    }

    private companion object {
        fun ms(value: Double): String = if (value.isFinite()) String.format(Locale.ROOT, "%.6f", value) else "null"

        fun jsonString(s: String): String = buildString {
            append('"')
            for (c in s) {
                when {
                    c == '"' -> append("\\\"")
                    c == '\\' -> append("\\\\")
                    c < ' ' -> append(String.format(Locale.ROOT, "\\u%04x", c.code))
                    else -> append(c)
                }
            }
            append('"')
        }
    }
}
