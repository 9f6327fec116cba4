import ClassifierCRuntime
import Darwin
import Foundation

/// Runs a `.ptm` the way `pkt_runner` does (runtime/tools/RUN_JSON.md, "How the runner measures"), through the
/// runtime's C API so each timed run is exactly one `pkt_session_run`: load and prepare, one first run,
/// `warmup` untimed runs, `iterations` timed runs. Inputs are copied in before every run, outside the timing.
struct Benchmark {
    /// A runtime failure: its status and the runtime's sentence about it.
    struct Failure: Error {
        let code: Int
        let name: String
        let detail: String
    }

    let arguments: BenchArguments
    let documents: URL

    func run() throws -> RunReport {
        let url = documents.appendingPathComponent(arguments.model)
        var errorText = [CChar](repeating: 0, count: 512)
        let loadStart = DispatchTime.now().uptimeNanoseconds
        var loaded: OpaquePointer?
        try check(pkt_program_load_file(url.path, &loaded, &errorText, errorText.count), errorText)
        guard let program = loaded else {
            throw Failure(code: Int(PKT_INTERNAL.rawValue), name: "PKT_INTERNAL", detail: "no program")
        }
        defer { pkt_program_free(program) }
        var options = pkt_session_options_default()
        options.num_threads = Int32(arguments.threads)
        var created: OpaquePointer?
        try check(pkt_session_create(program, &options, &created, &errorText, errorText.count), errorText)
        guard let session = created else {
            throw Failure(code: Int(PKT_INTERNAL.rawValue), name: "PKT_INTERNAL", detail: "no session")
        }
        defer { pkt_session_free(session) }
        let loadMs = milliseconds(since: loadStart)

        let inputs = try randomInputs(program)
        func timedRun() throws -> Double {
            for (index, bytes) in inputs.enumerated() {
                let status = bytes.withUnsafeBytes { pkt_session_set_input(session, Int32(index), $0.baseAddress, $0.count) }
                try check(status, [])
            }
            let start = DispatchTime.now().uptimeNanoseconds
            try check(pkt_session_run(session), [])
            return milliseconds(since: start)
        }
        let first = try timedRun()
        for _ in 0..<arguments.warmup {
            _ = try timedRun()
        }
        // Each latency as it is measured, like `pkt_runner --progress`: the harness keeps these if the device
        // is lost or the run times out before the report is written.
        let samples = try (0..<arguments.iterations).map { index -> Double in
            let sample = try timedRun()
            FileHandle.standardOutput.write(Data(String(format: "pkt-sample %ld %.6f\n", index, sample).utf8))
            return sample
        }
        guard let stats = LatencyStats(samples: samples) else {
            throw Failure(code: Int(PKT_INVALID_ARGUMENT.rawValue), name: "PKT_INVALID_ARGUMENT", detail: "no timed runs")
        }
        return RunReport(
            model: modelName(program), threads: Int(pkt_session_num_threads(session)),
            isa: pkt_session_isa(session).map { String(cString: $0) } ?? "unknown",
            iters: arguments.iterations, warmup: arguments.warmup,
            loadMs: ReportWriter.milliseconds(loadMs), firstInferenceMs: ReportWriter.milliseconds(first),
            latencyMs: stats, arenaBytes: pkt_program_arena_bytes(program), peakRssKb: peakResidentKilobytes(),
            samplesMs: samples.map(ReportWriter.milliseconds))
    }

    // The runner's deterministic inputs: floats uniform in [-1, 1), integers in [0, 10), bools 0/1
    // (float16: random sign, magnitude in [0.5, 1)). Seeded, so every launch runs the same data.
    private func randomInputs(_ program: OpaquePointer) throws -> [[UInt8]] {
        var random = SplitMix64(seed: 0)
        return try (0..<Int(pkt_program_num_inputs(program))).map { index in
            var info = pkt_tensor_info()
            try check(pkt_program_input_info(program, Int32(index), &info), [])
            let count = info.nbytes / max(pkt_dtype_size(info.dtype), 1)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(info.nbytes)
            for _ in 0..<count {
                switch info.dtype {
                case 1: append(Float(random.unit() * 2 - 1), to: &bytes)
                case 2: append(Int64(random.next() % 10), to: &bytes)
                case 3: append(Int32(random.next() % 10), to: &bytes)
                case 4: bytes.append(UInt8(random.next() % 2))
                case 5: bytes.append(UInt8(random.next() % 10))
                case 6: append(Int8(random.next() % 10), to: &bytes)
                default: append(UInt16(random.next() % 2) << 15 | 14 << 10 | UInt16(random.next() % 1024), to: &bytes)
                }
            }
            return bytes
        }
    }

    private func append<Value>(_ value: Value, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }

    // The metadata's top-level "name"; the file name without its extension when there is none.
    private func modelName(_ program: OpaquePointer) -> String {
        var length = 0
        if let text = pkt_program_metadata(program, &length) {
            let data = Data(bytes: text, count: length)
            if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let name = object["name"] as? String {
                return name
            }
        }
        return (arguments.model as NSString).deletingPathExtension
    }

    private func check(_ status: pkt_status, _ errorText: [CChar]) throws {
        guard status == PKT_OK else {
            let detail = String(decoding: errorText.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let name = pkt_status_name(status).map { String(cString: $0) } ?? "PKT_UNKNOWN_STATUS"
            throw Failure(code: Int(status.rawValue), name: name, detail: detail.isEmpty ? "\(arguments.model): \(name)" : detail)
        }
    }

    private func milliseconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }

    // ru_maxrss is in bytes on Apple platforms (KiB on Linux).
    private func peakResidentKilobytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF, &usage)
        return Int(usage.ru_maxrss) / 1024
    }
}

/// A small, seedable generator (SplitMix64), so inputs do not depend on the system's random source.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double {
        Double(next() >> 11) / Double(1 << 53)
    }
}
