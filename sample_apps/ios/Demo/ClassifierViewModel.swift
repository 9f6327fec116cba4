import Classifier
import CoreGraphics
import Foundation

/// Loads the model once, classifies images off the main actor and publishes top-5 and latency.
@MainActor
final class ClassifierViewModel: ObservableObject {
    /// One row of the result list.
    struct Row: Identifiable, Equatable {
        let id: Int
        let label: String
        let score: Float
    }

    @Published private(set) var rows: [Row] = []
    @Published private(set) var latencyMilliseconds: Double?
    @Published private(set) var status = "Pick a photo to classify."

    private var classifier: MobilenetV2?

    /// Classifies `image`; the latency covers preprocessing (resize, normalize) and the inference.
    func classify(_ image: CGImage) async {
        status = "Classifying…"
        do {
            let model = try loadedClassifier()
            let clock = ContinuousClock()
            var output: MobilenetV2Output?
            let elapsed = try await clock.measure {
                output = try await model.prediction(image: image)
            }
            guard let output else { return }
            // The zoo model has random weights and no labels: classes are shown by index.
            rows = Classification.top(5, of: output.output).map { Row(id: $0.index, label: "class \($0.label)", score: $0.score) }
            latencyMilliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1e3
            status = "Top 5 of \(output.output.count) classes"
        } catch let error as PocketTorchError {
            status = "\(error.name): \(error.detail)\n\(error.hint)"
        } catch {
            status = "\(error)"
        }
    }

    private func loadedClassifier() throws -> MobilenetV2 {
        if let classifier {
            return classifier
        }
        let loaded = try MobilenetV2(configuration: .init(threads: 0))
        classifier = loaded
        return loaded
    }
}
