pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "PocketTorchSample"
include(":app")

// The SDK module is generated from the model, not checked in: ./generate_sdk.sh writes it to mobilenet-sdk/.
check(file("mobilenet-sdk/build.gradle.kts").isFile) {
    "mobilenet-sdk/ is missing: run ./generate_sdk.sh first (see README.md)"
}
include(":mobilenet-sdk")
