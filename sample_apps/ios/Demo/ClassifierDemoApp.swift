import SwiftUI

/// Classifies a photo with the `Classifier` package generated from the zoo's MobileNetV2.
@main
struct ClassifierDemoApp: App {
    var body: some Scene {
        WindowGroup {
            ContentView()
        }
    }
}
