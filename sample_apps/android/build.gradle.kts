// Versions of the Android Gradle Plugin for every module (AGP 9+: Kotlin support is built in).
plugins {
    id("com.android.application") version "9.1.1" apply false
    id("com.android.library") version "9.1.1" apply false
}
