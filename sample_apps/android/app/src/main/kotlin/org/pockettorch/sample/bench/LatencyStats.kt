package org.pockettorch.sample.bench

/**
 * Latency statistics as runtime/tools/RUN_JSON.md defines them: percentiles interpolate linearly between the
 * two nearest sorted samples (numpy's default, position q/100 * (n - 1)); std is the population one (ddof = 0).
 */
public data class LatencyStats(
    val min: Double,
    val median: Double,
    val p90: Double,
    val p99: Double,
    val mean: Double,
    val std: Double,
) {
    public companion object {
        /** Statistics of [samples] (milliseconds); at least one sample. */
        public fun of(samples: List<Double>): LatencyStats {
            require(samples.isNotEmpty()) { "latency statistics need at least one sample" }
            val sorted = samples.sorted()
            val mean = samples.sum() / samples.size
            val variance = samples.sumOf { (it - mean) * (it - mean) } / samples.size
            return LatencyStats(
                min = sorted.first(),
                median = percentile(sorted, 50.0),
                p90 = percentile(sorted, 90.0),
                p99 = percentile(sorted, 99.0),
                mean = mean,
                std = kotlin.math.sqrt(variance),
            )
        }

        /** The [q]th percentile of already [sorted] values, interpolated linearly. */
        public fun percentile(sorted: List<Double>, q: Double): Double {
            val position = q / 100.0 * (sorted.size - 1)
            val lower = kotlin.math.floor(position).toInt()
            val upper = kotlin.math.ceil(position).toInt()
            return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower)
        }
    }
}
