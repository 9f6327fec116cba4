import Foundation

/// One `pockettorch.run/1` object (runtime/tools/RUN_JSON.md), plus `samples_ms`.
struct RunReport: Encodable {
    let schema = "pockettorch.run/1"
    let model: String
    let runtime = "c"
    let threads: Int
    let isa: String
    let iters: Int
    let warmup: Int
    let loadMs: Double
    let firstInferenceMs: Double
    let latencyMs: LatencyStats
    /// No delegate backend is offered on iOS yet (Vulkan is Android's; Metal comes later): always empty.
    let delegates: [String] = []
    let arenaBytes: Int
    let peakRssKb: Int
    let samplesMs: [Double]
}

enum ReportWriter {
    /// Writes `report` as one JSON object with snake_case keys.
    static func write<Report: Encodable>(_ report: Report, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(report).write(to: url, options: .atomic)
    }

    /// Milliseconds with 6 decimals, as the runner writes times.
    static func milliseconds(_ value: Double) -> Double {
        (value * 1e6).rounded() / 1e6
    }
}
