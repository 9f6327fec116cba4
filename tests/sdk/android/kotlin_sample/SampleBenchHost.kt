// Host test of the sample app's benchmark code: statistics, extras parsing and a real run writing the JSON.
package org.pockettorch.sample.bench

import java.io.File
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith

/** args: samples file (one latency per line), stats output file, model.ptm, results JSON path */
fun main(args: Array<String>) {
    val (samplesPath, statsPath, modelPath, outputPath) = args
    val stats = LatencyStats.of(File(samplesPath).readLines().map { it.toDouble() })
    File(statsPath).writeText(listOf(stats.min, stats.median, stats.p90, stats.p99, stats.mean, stats.std).joinToString("\n"))

    val extras = mapOf("model" to modelPath, "output" to outputPath)
    val ints = mapOf("iterations" to 7, "warmup" to 2, "threads" to 1)
    val config = BenchmarkConfig.fromExtras(extras::get) { k, d -> ints[k] ?: d }
    assertEquals(BenchmarkConfig(modelPath, 7, 2, 1, outputPath), config)
    assertEquals(20, BenchmarkConfig.fromExtras(extras::get) { _, d -> d }.iterations)
    val missing = assertFailsWith<IllegalArgumentException> { BenchmarkConfig.fromExtras({ null }) { _, d -> d } }
    check("--es model" in missing.message!!) { missing.message!! }
    val zero = assertFailsWith<IllegalArgumentException> { BenchmarkConfig.fromExtras(extras::get) { _, _ -> 0 } }
    check("iterations must be >= 1" in zero.message!!) { zero.message!! }

    writeAtomically(config.output, runBenchmark(config).toJson() + "\n")
    check(!File("$outputPath.tmp").exists())
    println("sample bench host test passed")
}
