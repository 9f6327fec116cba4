import PhotosUI
import SwiftUI
import UIKit

/// Pick a photo, see the model's five best classes and how long the prediction took.
struct ContentView: View {
    @StateObject private var viewModel = ClassifierViewModel()
    @State private var selection: PhotosPickerItem?
    @State private var image: UIImage?

    var body: some View {
        NavigationStack {
            List {
                Section {
                    if let image {
                        Image(uiImage: image)
                            .resizable()
                            .scaledToFit()
                            .frame(maxHeight: 240)
                    }
                    PhotosPicker("Choose a photo", selection: $selection, matching: .images)
                }
                Section(viewModel.status) {
                    ForEach(viewModel.rows) { row in
                        HStack {
                            Text(row.label)
                            Spacer()
                            Text(row.score, format: .number.precision(.fractionLength(3)))
                                .monospacedDigit()
                        }
                    }
                    if let latency = viewModel.latencyMilliseconds {
                        LabeledContent("Latency", value: latency, format: .number.precision(.fractionLength(1)))
                    }
                }
            }
            .navigationTitle("PocketTorch")
            .onChange(of: selection) { item in
                Task { await load(item) }
            }
        }
    }

    private func load(_ item: PhotosPickerItem?) async {
        guard let data = try? await item?.loadTransferable(type: Data.self),
              let picked = UIImage(data: data),
              let upright = picked.uprightCGImage() else { return }
        image = picked
        await viewModel.classify(upright)
    }
}

private extension UIImage {
    /// The pixels as displayed: EXIF orientation applied, since CGImage carries none.
    func uprightCGImage() -> CGImage? {
        if imageOrientation == .up {
            return cgImage
        }
        let format = UIGraphicsImageRendererFormat()
        format.scale = 1
        return UIGraphicsImageRenderer(size: size, format: format).image { _ in draw(at: .zero) }.cgImage
    }
}
