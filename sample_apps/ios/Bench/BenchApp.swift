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
            fail("\(error)")
            exit(2)
        }
        let output = documents.appendingPathComponent(arguments.output)
        let succeeded = await Task.detached(priority: .userInitiated) { () -> Bool in
            do {
                try ReportWriter.write(Benchmark(arguments: arguments, documents: documents).run(), to: output)
                return true
            } catch let failure as Benchmark.Failure {
                // Like pkt_runner: no report, the status and the reason on one line; the harness shows it.
                fail("\(failure.name): \(failure.detail)")
            } catch {
                fail("PKT_IO: cannot write Documents/\(arguments.output): \(error)")
            }
            return false
        }.value
        exit(succeeded ? 0 : 1)
    }
}

/// One line on stdout and stderr, which the harness collects from the app's process output.
private func fail(_ message: String) {
    let line = Data("pockettorch-bench: \(message)\n".utf8)
    FileHandle.standardOutput.write(line)
    FileHandle.standardError.write(line)
}
