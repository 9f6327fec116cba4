package org.pockettorch.sample.bench

import java.io.File
import java.util.Random
import org.pockettorch.sample.classifier.pockettorch.Model
import org.pockettorch.sample.classifier.pockettorch.Tensor
import org.pockettorch.sample.classifier.pockettorch.TensorSpec

/** What the BenchmarkActivity was asked to do (its `am start` extras). */
public data class BenchmarkConfig(
    val model: String,
    val iterations: Int,
    val warmup: Int,
    val threads: Int,
    val output: String,
) {
    public companion object {
        /**
         * Reads the extras `model`, `output` (strings) and `iterations`, `warmup`, `threads` (ints; defaults
         * 20, 3, 1 like the runner), checking each; the functions are the Intent's getStringExtra/getIntExtra.
         */
        public fun fromExtras(string: (String) -> String?, int: (String, Int) -> Int): BenchmarkConfig {
            val model = requireNotNull(string("model")) { "missing --es model <path of the .ptm on the device>" }
            val output = requireNotNull(string("output")) { "missing --es output <path of the results JSON>" }
            val config = BenchmarkConfig(model, int("iterations", 20), int("warmup", 3), int("threads", 1), output)
            require(config.iterations >= 1) { "--ei iterations must be >= 1, got ${config.iterations}" }
            require(config.warmup >= 0) { "--ei warmup must be >= 0, got ${config.warmup}" }
            require(config.threads >= 0) { "--ei threads must be >= 0 (0 = big cores), got ${config.threads}" }
            return config
        }
    }
}

/**
 * Measures like the runner (RUN_JSON.md, "How the runner measures"): load and prepare, one first run, [BenchmarkConfig.warmup]
 * untimed runs, then [BenchmarkConfig.iterations] timed runs on fixed random inputs. Each timed run is one
 * [Model.run], so it includes copying inputs and outputs across JNI: the latency an app sees.
 */
public fun runBenchmark(config: BenchmarkConfig, clock: () -> Long = System::nanoTime): RunReport {
    val start = clock()
    Model(File(config.model), config.threads).use { model ->
        val loadMs = (clock() - start) / 1e6
        val inputs = randomInputs(model.inputs, seed = 0)
        val firstMs = timeMs(clock) { model.run(inputs) }
        repeat(config.warmup) { model.run(inputs) }
        val samples = List(config.iterations) { timeMs(clock) { model.run(inputs) } }
        return RunReport(
            model = model.name.ifEmpty { File(config.model).nameWithoutExtension },
            threads = model.numThreads,
            isa = model.isa,
            iters = config.iterations,
            warmup = config.warmup,
            loadMs = loadMs,
            firstInferenceMs = firstMs,
            latency = LatencyStats.of(samples),
            arenaBytes = model.arenaBytes,
            peakRssKb = peakRssKb(),
            samplesMs = samples,
        )
    }
}

/** Writes [text] to [path] through a temporary file, so a reader polling for the file never sees half of it. */
public fun writeAtomically(path: String, text: String) {
    val target = File(path)
    target.absoluteFile.parentFile?.mkdirs()
    val tmp = File(target.path + ".tmp")
    tmp.writeText(text)
    check(tmp.renameTo(target)) { "cannot move $tmp to $target" }
}

private inline fun timeMs(clock: () -> Long, block: () -> Unit): Double {
    val t0 = clock()
    block()
    return (clock() - t0) / 1e6
}

/** Inputs like the runner's: floats uniform in [-1, 1), integers in [0, 10) (valid token ids), bools 0/1; float16 zeros. */
internal fun randomInputs(specs: List<TensorSpec>, seed: Long): List<Tensor> {
    val random = Random(seed)
    return specs.map { spec ->
        val t = Tensor.zeros(spec.dtype, spec.shape)
        when (t) {
            is Tensor.Float32 -> for (i in t.data.indices) t.data[i] = random.nextFloat() * 2f - 1f
            is Tensor.Int64 -> for (i in t.data.indices) t.data[i] = random.nextInt(10).toLong()
            is Tensor.Int32 -> for (i in t.data.indices) t.data[i] = random.nextInt(10)
            is Tensor.UInt8 -> for (i in t.data.indices) t.data[i] = random.nextInt(10).toByte()
            is Tensor.Int8 -> for (i in t.data.indices) t.data[i] = random.nextInt(10).toByte()
            is Tensor.Bool -> for (i in t.data.indices) t.data[i] = random.nextBoolean()
            is Tensor.Float16 -> Unit
        }
        t
    }
}

/** Peak resident set size in KiB (VmHWM of /proc/self/status, what getrusage's ru_maxrss reports on Linux). */
internal fun peakRssKb(): Long? =
    runCatching {
        File("/proc/self/status").readLines().firstOrNull { it.startsWith("VmHWM:") }
            ?.split(Regex("\\s+"))?.getOrNull(1)?.toLong()
    }.getOrNull()
