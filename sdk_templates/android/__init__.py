"""Android SDK generator: a Gradle library module (Kotlin API + JNI glue + the runtime sources one model needs).

`generator.generate(model_path, package, class_name)` returns the files; `command` is `pockettorch sdk android`.
"""
