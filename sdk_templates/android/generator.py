"""Render the Android library module for one model: Gradle files, Kotlin API, JNI glue, runtime sources, asset.

Layout of the module (paths relative to --out):
    build.gradle.kts, consumer-rules.pro, README.md, pockettorch-manifest.json
    src/main/AndroidManifest.xml
    src/main/assets/<asset>.ptm
    src/main/cpp/CMakeLists.txt, src/main/cpp/pockettorch_jni.c, src/main/cpp/runtime/...   (selective build)
    src/main/kotlin/<package>/pockettorch/...   generic layer (Tensor, Model, PocketTorchException, ...)
    src/main/kotlin/<package>/<Class>*.kt       the typed class and its helpers

Files that import android.* are listed in `AndroidSdk.android_only`, so the host-JVM tests can leave them out.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from pockettorch.runtime import error_catalogue as errors
from pockettorch.runtime import manifest as runtime_manifest
from pockettorch.sdk_templates import model_info, names, render, sources

TARGET = "android"
MIN_SDK = 24
# Delegate backends the Android SDK compiles in on request (--backend), and the NDK libraries each links: every
# Android 7.0+ (API 24, MIN_SDK) device has the Vulkan loader, libvulkan.so, in the NDK's sysroot.
OFFERED_BACKENDS = ("vulkan",)
BACKEND_NDK_LIBS = {"vulkan": ("vulkan",)}
COMPILE_SDK = 36
JVM_TARGET = 17
ABIS = ("arm64-v8a", "armeabi-v7a", "x86_64")
COROUTINES = "org.jetbrains.kotlinx:kotlinx-coroutines-core:1.10.2"
# Compile flags of the native library, written into CMakeLists.txt; the tests compile with the same list.
# The runtime's optimization flags (its manifest), hidden symbols and sections the linker can drop.
C_FLAGS = (*runtime_manifest.OPT_FLAGS, "-Wall", "-Wextra", "-fvisibility=hidden", "-ffunction-sections",
           "-fdata-sections")
RUNTIME_SUBPACKAGE = "pockettorch"  # generic layer: <package>.pockettorch, one copy per generated module

KOTLIN_TYPES = {  # torch dtype -> (Tensor subclass, Kotlin array type)
    "float32": ("Float32", "FloatArray"), "int64": ("Int64", "LongArray"), "int32": ("Int32", "IntArray"),
    "bool": ("Bool", "BooleanArray"), "uint8": ("UInt8", "ByteArray"), "int8": ("Int8", "ByteArray"),
    "float16": ("Float16", "ShortArray"),
}
# Names the generated code already uses beside the tensors' (run's locals and extra parameter, Output's methods):
# a tensor with one of these names gets a "_" suffix, so nothing is shadowed.
RESERVED_PARAMETERS = {"dispatcher", "model", "out"}
RESERVED_PROPERTIES = {"toString", "hashCode", "equals"}
GENERIC_KOTLIN = ("DType.kt", "Tensor.kt", "TensorSpec.kt", "ErrorCode.kt", "PocketTorchException.kt",
                  "NativeBridge.kt", "Model.kt", "Prediction.kt", "ImagePreprocessing.kt", "MetadataName.kt")
GENERIC_ANDROID_KOTLIN = ("Assets.kt",)
# The typed class's file imports these (the generic layer's types and a few platform ones): it cannot share a name.
# Output and Companion are declared inside the typed class.
TAKEN_CLASS_NAMES = {n[:-3] for n in GENERIC_KOTLIN + GENERIC_ANDROID_KOTLIN} | {
    "File", "IOException", "ByteBuffer", "CoroutineDispatcher", "Dispatchers", "Context", "AssetManager", "Bitmap",
    "Build", "Output", "Companion"}


@dataclass(frozen=True)
class AndroidSdk:
    class_name: str
    package: str
    kernels: tuple[str, ...]
    library: str  # the native library, lib<library>.so
    files: dict[str, str | bytes]
    android_only: tuple[str, ...]  # Kotlin files that need the Android SDK (android.*)


def _tensors(specs, reserved: set[str]) -> list[dict]:
    idents = [names.camel(s.name, "kotlin", "tensor") for s in specs]
    idents = names.unique_names([i + "_" if i in reserved else i for i in idents])
    return [{"name": s.name, "ident": ident, "dtype": s.dtype, "shape": list(s.shape), "ranges": s.ranges,
             "tensor_class": KOTLIN_TYPES[s.dtype][0], "array_type": KOTLIN_TYPES[s.dtype][1], "index": i}
            for i, (s, ident) in enumerate(zip(specs, idents))]


def _class_name(info: model_info.ModelInfo, class_name: str | None) -> str:
    """--class-name, checked; or one derived from the model's name, renamed away from the SDK's own types."""
    if class_name is not None:
        return names.check_type_name(class_name, "kotlin", TAKEN_CLASS_NAMES, "class")
    return names.derived_type_name(info.name, "kotlin", TAKEN_CLASS_NAMES)


def generate(model_path, package: str, class_name: str | None = None, all_kernels: bool = False,
             with_reference: bool = False, backends: tuple[str, ...] = ()) -> AndroidSdk:
    """Everything the module holds, as {relative path: content}; raises the catalogue's errors on bad input.

    all_kernels: compile every kernel in, not only the model's (for apps that load other programs at run time,
    such as a benchmark app); the default selective build holds only what this model needs. backends: delegate
    backends to compile in (OFFERED_BACKENDS), with their generated sources and the NDK libraries they link."""
    names.check_package(package)
    backends = sources.check_backends(backends, OFFERED_BACKENDS, TARGET)
    info = model_info.read_model(model_path, with_reference)
    cls = _class_name(info, class_name)
    runtime = sources.for_model(info, all_kernels, backends=backends)
    kernels = tuple(k.kernel for k in runtime.kernels)
    lib = "pockettorch_" + names.snake(cls, "model")
    asset = names.snake(info.name, "model") + ".ptm"
    image = None
    if info.image is not None:
        image = {"input": info.image.input_index, "layout": info.image.layout, "height": info.image.height,
                 "width": info.image.width, "channels": info.image.channels, "mean": list(info.image.mean),
                 "std": list(info.image.std)}
    ctx = {
        "package": package, "runtime_package": f"{package}.{RUNTIME_SUBPACKAGE}",
        "jni_runtime_path": f"{package}.{RUNTIME_SUBPACKAGE}".replace(".", "/"),
        "class_name": cls, "library": lib, "asset": asset, "model_name": info.name, "sha256": info.sha256,
        "inputs": _tensors(info.inputs, RESERVED_PARAMETERS), "outputs": _tensors(info.outputs, RESERVED_PROPERTIES),
        "image": image, "labels": list(info.labels) if info.labels and info.outputs[0].dtype == "float32" else None,
        "catalogue": [e for e in errors.CATALOGUE if e.code != 0],
        "min_sdk": MIN_SDK, "compile_sdk": COMPILE_SDK, "jvm_target": JVM_TARGET, "abis": list(ABIS),
        "coroutines": COROUTINES, "c_flags": list(C_FLAGS), "c_standard": runtime_manifest.C_STANDARD,
        "include_dirs": sources.include_dirs("runtime", public=True) + sources.include_dirs("runtime", public=False),
        "c_sources": ["pockettorch_jni.c"] + [f"runtime/{p}" for p in runtime.c_files],
        "kernels": list(kernels),
        "backends": list(backends),
        "link_libs": list(dict.fromkeys(lib for b in backends for lib in (
            *runtime_manifest.BACKENDS[b].get("link_libs", ()), *BACKEND_NDK_LIBS.get(b, ())))),
    }
    env = render.environment(TARGET)
    kotlin_root = "src/main/kotlin/" + package.replace(".", "/")
    runtime_dir = f"{kotlin_root}/{RUNTIME_SUBPACKAGE}"
    files: dict[str, str | bytes] = {
        "build.gradle.kts": env.get_template("build.gradle.kts.j2").render(ctx),
        "consumer-rules.pro": env.get_template("consumer-rules.pro.j2").render(ctx),
        "README.md": env.get_template("README.md.j2").render(ctx),
        "src/main/AndroidManifest.xml": env.get_template("AndroidManifest.xml.j2").render(ctx),
        f"src/main/assets/{asset}": info.data,
        "src/main/cpp/CMakeLists.txt": env.get_template("CMakeLists.txt.j2").render(ctx),
        "src/main/cpp/pockettorch_jni.c": env.get_template("pockettorch_jni.c.j2").render(ctx),
        "pockettorch-manifest.json": json.dumps({
            "model": info.name, "sha256": info.sha256, "class": f"{package}.{cls}", "ops": list(info.ops),
            "backends": list(backends),
            "runtime_sources": sources.manifest(runtime)}, indent=2, sort_keys=True) + "\n",
    }
    for rel, data in runtime.files.items():
        files[f"src/main/cpp/runtime/{rel}"] = data
    for name in GENERIC_KOTLIN + GENERIC_ANDROID_KOTLIN:
        files[f"{runtime_dir}/{name}"] = env.get_template(f"kotlin/{name}.j2").render(ctx)
    files[f"{kotlin_root}/{cls}.kt"] = env.get_template("kotlin/TypedModel.kt.j2").render(ctx)
    files[f"{kotlin_root}/{cls}Assets.kt"] = env.get_template("kotlin/TypedModelAssets.kt.j2").render(ctx)
    android_only = [f"{runtime_dir}/{n}" for n in GENERIC_ANDROID_KOTLIN] + [f"{kotlin_root}/{cls}Assets.kt"]
    if image is not None:
        files[f"{kotlin_root}/{cls}Bitmaps.kt"] = env.get_template("kotlin/TypedModelBitmaps.kt.j2").render(ctx)
        android_only.append(f"{kotlin_root}/{cls}Bitmaps.kt")
    if ctx["labels"] is not None:
        files[f"{kotlin_root}/{cls}Labels.kt"] = env.get_template("kotlin/TypedModelLabels.kt.j2").render(ctx)
    return AndroidSdk(cls, package, kernels, lib, files, tuple(sorted(android_only)))
