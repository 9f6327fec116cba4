"""Tools for the Android SDK tests: javac for the android.* stubs, kotlinc from npm `kotlin-compiler`, gcc with the
JDK's JNI headers, and a content-keyed build cache so xdist workers and later sessions share the slow builds
(kotlinc is ~10-40 s per call) instead of repeating them."""
from __future__ import annotations

import dataclasses
import hashlib
import os
import pathlib
import shutil
import subprocess
import tempfile
from typing import Callable

import pytest

from pockettorch.runtime import build
from pockettorch.sdk_templates.android import generator
from support_tools import BUILD_DIR

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]
CACHE = BUILD_DIR  # kotlinc and JNI builds, keyed by their inputs like the runtime's
KOTLIN_HOME = REPO / "node_modules" / "kotlin-compiler"
KOTLINC = KOTLIN_HOME / "bin" / "kotlinc"
KOTLIN_LIB = KOTLIN_HOME / "lib"
RUNTIME_JARS = tuple(KOTLIN_LIB / j for j in ("kotlin-stdlib.jar", "kotlinx-coroutines-core-jvm.jar", "kotlin-test.jar"))
STUBS = HERE / "stubs"


@dataclasses.dataclass(frozen=True)
class GeneratedSdk:
    ptm: pathlib.Path  # the model it was generated from
    out: pathlib.Path  # the module folder
    sdk: generator.AndroidSdk
    case: object = None  # the test model (conftest.Case), when there is one

    @property
    def kotlin_files(self) -> list[pathlib.Path]:
        return [self.out / p for p in sorted(self.sdk.files) if p.endswith(".kt")]

    @property
    def cpp(self) -> pathlib.Path:
        return self.out / "src" / "main" / "cpp"

    @property
    def include_flags(self) -> list[str]:
        """The include folders CMakeLists.txt gives the compiler."""
        return [arg for d in ("include", ".") for arg in ("-I", str(self.cpp / "runtime" / d))]


def java_home() -> pathlib.Path | None:
    javac = shutil.which("javac")
    if javac is None:
        return None
    home = pathlib.Path(javac).resolve().parents[1]
    return home if (home / "include" / "jni.h").is_file() else None


def require_kotlin() -> None:
    if not KOTLINC.is_file():
        pytest.skip("the Kotlin compiler is missing: run `make install` (npm ci installs kotlin-compiler)")
    if java_home() is None:
        pytest.skip("a JDK with javac and JNI headers is needed (JDK 17)")


def cached_build(kind: str, inputs: list[pathlib.Path], settings: str, make: Callable[[pathlib.Path], None]) -> pathlib.Path:
    """The folder `make(folder)` fills, reused while the inputs' contents and `settings` are unchanged."""
    h = hashlib.sha256(settings.encode())
    for path in sorted(inputs, key=lambda p: (p.name, p.read_bytes())):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    key = h.hexdigest()[:16]
    final = CACHE / f"android-{kind}-{key}"
    with build._locked(CACHE / f".lock-android-{kind}-{key}"):
        if not (final / "BUILD_OK").exists():
            tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".android-{kind}-", dir=CACHE))
            try:
                make(tmp)
                build.publish(tmp, final, key)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return final


def kotlinc(sources: list[pathlib.Path], classpath: list[pathlib.Path], explicit_api: bool = True) -> pathlib.Path:
    """Compiled classes of `sources`, with warnings as errors (and explicit API mode for libraries)."""
    flags = ["-Werror", *(["-Xexplicit-api=strict"] if explicit_api else []), "-jvm-target", "17"]

    def make(out: pathlib.Path) -> None:
        cmd = [str(KOTLINC), *flags, "-cp", os.pathsep.join(map(str, classpath)), "-d", str(out), *map(str, sources)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0 or "warning:" in proc.stderr:
            pytest.fail(f"kotlinc failed (exit {proc.returncode}):\n{proc.stderr[-6000:]}")

    settings = repr((flags, [p.name for p in classpath], (KOTLIN_HOME / "build.txt").read_text()))
    return cached_build("kotlin", sources, settings, make)


def javac_stubs() -> pathlib.Path:
    sources = sorted(STUBS.rglob("*.java"))

    def make(out: pathlib.Path) -> None:
        proc = subprocess.run(["javac", "-Xlint:all", "-Werror", "--release", "17", "-d", str(out), *map(str, sources)],
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            pytest.fail(f"javac of the android stubs failed:\n{proc.stderr[-4000:]}")

    return cached_build("stubs", sources, "javac --release 17", make)


def c_sources(sdk: GeneratedSdk) -> list[str]:
    """The source list of the generated CMakeLists.txt's add_library(...)."""
    text = (sdk.cpp / "CMakeLists.txt").read_text()
    block = text[text.index("add_library("):]
    return block[:block.index(")")].split()[2:]


def jni_library(sdk: GeneratedSdk) -> pathlib.Path:
    """Folder holding lib<library>.so (gcc: the JNI glue + selected runtime, the CMake flags) and gcc.log."""
    jdk = java_home()
    cmd = ["gcc", "-std=c11", "-shared", "-fPIC", *generator.C_FLAGS,
           "-I", str(jdk / "include"), "-I", str(jdk / "include" / "linux"),
           *sdk.include_flags,
           *[str(sdk.cpp / src) for src in c_sources(sdk)], "-lm", "-lpthread"]

    def make(out: pathlib.Path) -> None:
        proc = subprocess.run([*cmd, "-o", str(out / f"lib{sdk.sdk.library}.so")], capture_output=True, text=True,
                              timeout=600)
        if proc.returncode != 0:
            pytest.fail(f"gcc failed for {sdk.sdk.library}:\n{proc.stderr[-4000:]}")
        (out / "gcc.log").write_text(proc.stderr)

    gcc = subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout
    inputs = sorted(p for p in sdk.cpp.rglob("*") if p.is_file())
    return cached_build("jni", inputs, repr((generator.C_FLAGS, gcc, sdk.sdk.library)), make)


def run_java(classes: pathlib.Path, library_dirs: list[pathlib.Path], main_class: str, *args) -> subprocess.CompletedProcess:
    cp = os.pathsep.join(map(str, [classes, *RUNTIME_JARS]))
    return subprocess.run(["java", f"-Djava.library.path={os.pathsep.join(map(str, library_dirs))}", "-cp", cp,
                           main_class, *map(str, args)], capture_output=True, text=True, timeout=300)


def readme_snippet(sdk: GeneratedSdk, out: pathlib.Path) -> pathlib.Path:
    """The generated README's Kotlin example as a compilable file: its imports, then its body in a function
    given the `context` (and `bitmap`) the example says the app provides."""
    text = (sdk.out / "README.md").read_text()
    block = text[text.index("## Use it"):]
    block = block[block.index("```kotlin\n") + 10:]
    lines = block[:block.index("```")].splitlines()
    imports = [line for line in lines if line.startswith("import ")]
    body = [line for line in lines if line and not line.startswith(("import ", "//"))]
    params = ["context: android.content.Context"]
    if "bitmap" in "\n".join(body):
        params.append("bitmap: android.graphics.Bitmap")
    source = "\n".join([f"package com.test.readme.{sdk.sdk.class_name.lower()}", "", *imports, "",
                        f"internal fun readmeExample({', '.join(params)}) {{", *body, "}", ""])
    path = out / f"Readme{sdk.sdk.class_name}.kt"
    path.write_text(source)
    return path
