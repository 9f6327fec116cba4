/// Latency statistics as `runtime/tools/RUN_JSON.md` defines them: percentiles interpolate linearly
/// between the two nearest samples (numpy's `linear`), `std` is the population standard deviation.
/// Values are rounded to 6 decimals, as the runner writes them.
struct LatencyStats: Encodable, Equatable {
    let min: Double
    let median: Double
    let p90: Double
    let p99: Double
    let mean: Double
    let std: Double

    /// Statistics of at least one sample.
    init?(samples: [Double]) {
        guard !samples.isEmpty else {
            return nil
        }
        let sorted = samples.sorted()
        func percentile(_ q: Double) -> Double {
            let position = Double(sorted.count - 1) * q / 100
            let lower = Int(position.rounded(.down))
            let upper = Int(position.rounded(.up))
            return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower))
        }
        let mean = sorted.reduce(0, +) / Double(sorted.count)
        let std = (sorted.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(sorted.count)).squareRoot()
        self.min = ReportWriter.milliseconds(sorted[0])
        self.median = ReportWriter.milliseconds(percentile(50))
        self.p90 = ReportWriter.milliseconds(percentile(90))
        self.p99 = ReportWriter.milliseconds(percentile(99))
        self.mean = ReportWriter.milliseconds(mean)
        self.std = ReportWriter.milliseconds(std)
    }
}
