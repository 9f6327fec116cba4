import ClassifierCRuntime
import Foundation
import SwiftUI

/// The benchmark app the device harness launches (bundle id `ai.pockettorch.bench` by default):
/// it runs the model named by the launch arguments, writes one `pockettorch.run/1` JSON object into
/// Documents and exits. Launched by hand (no `--model`), it shows how to use it.
@main
struct BenchApp: App {
    @State private var status = "Waiting for launch arguments…"

    var body: some Scene {
        WindowGroup {
            Text(status)
                .padding()
                .task { status = await BenchApp.runFromLaunchArguments() }
        }
    }

    /// Runs the benchmark off the main actor and exits when launched by the harness; returns the text to show.
    static func runFromLaunchArguments() async -> String {
        let documents = FileManager.default.urls(for: .documentDirectory, in: .userDomainMask)[0]
        let arguments: BenchArguments
        do {
            guard let parsed = try BenchArguments.parse(Array(ProcessInfo.processInfo.arguments.dropFirst())) else {
                return "Launch with --model <file in Documents> --iterations N --warmup N --threads N --output <file>"
            }
            arguments = parsed
        } catch {
            // No output file is known to be valid yet: report on stderr (visible in the harness's syslog) and exit 2.
            FileHandle.standardError.write(Data("pockettorch-bench: \(error)\n".utf8))
            exit(2)
        }
        let output = documents.appendingPathComponent(arguments.output)
        let succeeded = await Task.detached(priority: .userInitiated) { () -> Bool in
            do {
                let report = try Benchmark(arguments: arguments, documents: documents).run()
                try ReportWriter.write(report, to: output)
                return true
            } catch let failure as Benchmark.Failure {
                let report = FailureReport(error: .init(code: failure.code, name: failure.name, detail: failure.detail))
                try? ReportWriter.write(report, to: output)
                return false
            } catch {
                let report = FailureReport(error: .init(code: Int(PKT_IO.rawValue), name: "PKT_IO", detail: "\(error)"))
                try? ReportWriter.write(report, to: output)
                return false
            }
        }.value
        exit(succeeded ? 0 : 1)
    }
}
