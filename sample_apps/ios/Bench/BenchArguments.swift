import Foundation

/// The launch arguments the device harness passes:
/// `--model <file in Documents> --iterations N --warmup N --threads N --output <file in Documents>`.
struct BenchArguments: Equatable {
    var model: String
    var iterations = 20  // the runner's defaults
    var warmup = 3
    var threads = 1
    var output = "results.json"

    /// A usage error: which argument was wrong and what it must be.
    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    /// Parses the arguments after the executable; nil when no `--model` is given (launched by hand).
    static func parse(_ arguments: [String]) throws -> BenchArguments? {
        var values: [String: String] = [:]
        var index = 0
        while index < arguments.count {
            let key = arguments[index]
            guard ["--model", "--iterations", "--warmup", "--threads", "--output"].contains(key) else {
                // Xcode and the system add their own arguments (e.g. -NSDocumentRevisionsDebugMode YES): skip them.
                index += 1
                continue
            }
            guard index + 1 < arguments.count else {
                throw UsageError(description: "\(key) needs a value")
            }
            values[key] = arguments[index + 1]
            index += 2
        }
        guard let model = values["--model"] else {
            return nil
        }
        var parsed = BenchArguments(model: try fileName(model, "--model"))
        parsed.iterations = try count(values["--iterations"], "--iterations", default: parsed.iterations, minimum: 1)
        parsed.warmup = try count(values["--warmup"], "--warmup", default: parsed.warmup, minimum: 0)
        parsed.threads = try count(values["--threads"], "--threads", default: parsed.threads, minimum: 0)
        parsed.output = try fileName(values["--output"] ?? parsed.output, "--output")
        return parsed
    }

    private static func count(_ text: String?, _ name: String, default value: Int, minimum: Int) throws -> Int {
        guard let text else {
            return value
        }
        guard let number = Int(text), number >= minimum, number <= Int(Int32.max) else {
            throw UsageError(description: "\(name) must be an integer >= \(minimum), got '\(text)'")
        }
        return number
    }

    // Files live in the app's Documents folder; a path could escape the sandbox container the harness reads.
    private static func fileName(_ text: String, _ name: String) throws -> String {
        guard !text.isEmpty, !text.contains("/"), text != ".", text != ".." else {
            throw UsageError(description: "\(name) must be a file name inside Documents, got '\(text)'")
        }
        return text
    }
}
