"""Fixtures for the Android SDK tests: small exported models, their generated SDKs, and the real tools that
build them (javac for the android.* stubs, kotlinc from npm `kotlin-compiler`, gcc with the JDK's JNI headers).

Everything expensive is session-scoped and batched: one kotlinc call compiles every SDK plus the host tests,
one gcc call per SDK builds its JNI library.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest
import torch
from torch import nn

import pockettorch
from pockettorch.sdk_templates import render
from pockettorch.sdk_templates.android import generator

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[2]
KOTLIN_HOME = REPO / "node_modules" / "kotlin-compiler"
KOTLINC = KOTLIN_HOME / "bin" / "kotlinc"
KOTLIN_LIB = KOTLIN_HOME / "lib"
STUBS = HERE / "stubs"
HOST_TESTS = HERE / "kotlin"
RUNTIME_JARS = ("kotlin-stdlib.jar", "kotlinx-coroutines-core-jvm.jar", "kotlin-test.jar")


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


def kotlinc(sources: list[pathlib.Path], out: pathlib.Path, classpath: list[pathlib.Path], explicit_api: bool = True) -> None:
    """Compile with warnings as errors (and explicit API mode for libraries); fail with the compiler's output."""
    cmd = [str(KOTLINC), "-Werror", *(["-Xexplicit-api=strict"] if explicit_api else []), "-jvm-target", "17",
           "-cp", os.pathsep.join(str(p) for p in classpath), "-d", str(out), *map(str, sources)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or "warning:" in proc.stderr:
        pytest.fail(f"kotlinc failed (exit {proc.returncode}):\n{proc.stderr[-6000:]}")


def javac_stubs(out: pathlib.Path) -> pathlib.Path:
    out.mkdir(parents=True, exist_ok=True)
    sources = sorted(str(p) for p in STUBS.rglob("*.java"))
    proc = subprocess.run(["javac", "-Xlint:all", "-Werror", "--release", "17", "-d", str(out), *sources],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"javac of the android stubs failed:\n{proc.stderr[-4000:]}")
    return out


# ---- the models ------------------------------------------------------------------------------------------

class TinyClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


class TwoInputs(nn.Module):
    def forward(self, a, b):
        return a + b, a * b - 1.0


class TokenEmbed(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.embed = nn.Embedding(10, 4)

    def forward(self, tokens):
        return self.embed(tokens)


class DictHeads(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(2)
        self.fc = nn.Linear(6, 3)

    def forward(self, features):
        logits = self.fc(features)
        return {"logits": logits, "class": torch.softmax(logits, dim=-1)}


IMAGE = {"layout": "NCHW", "size": [8, 8], "channels": "RGB", "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]}
LABELS = ["cat", "dog", "bird", "fish", "frog"]


@dataclasses.dataclass(frozen=True)
class Case:
    key: str  # also the Kotlin host test's file stem and package suffix
    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    name: str
    metadata: dict
    class_name: str | None = None

    @property
    def package(self) -> str:
        return f"com.test.{self.key}"


def _cases() -> list[Case]:
    g = torch.Generator().manual_seed(3)
    return [
        Case("classifier", TinyClassifier(), (torch.rand(1, 3, 8, 8, generator=g),), "tiny_classifier",
             {"image": IMAGE, "labels": LABELS}),
        Case("multi", TwoInputs(), (torch.randn(1, 4, generator=g), torch.randn(1, 4, generator=g)), "two_inputs", {}),
        Case("embed", TokenEmbed(), (torch.tensor([[1, 7, 3]], dtype=torch.int64),), "token_embed", {}),
        Case("heads", DictHeads(), (torch.randn(1, 6, generator=g),), "dict_heads", {}, class_name="Heads"),
    ]


@dataclasses.dataclass(frozen=True)
class GeneratedSdk:
    case: Case
    ptm: pathlib.Path
    out: pathlib.Path
    sdk: generator.AndroidSdk

    @property
    def kotlin_files(self) -> list[pathlib.Path]:
        return [self.out / p for p in sorted(self.sdk.files) if p.endswith(".kt")]

    @property
    def library(self) -> str:
        return self.sdk.library


@pytest.fixture(scope="session")
def sdk_root(tmp_path_factory) -> pathlib.Path:
    return tmp_path_factory.mktemp("android-sdk")


@pytest.fixture(scope="session")
def sdks(sdk_root) -> dict[str, GeneratedSdk]:
    """Each test model exported, and its SDK generated into <root>/<key>/sdk."""
    out = {}
    for case in _cases():
        folder = sdk_root / case.key
        folder.mkdir()
        ptm = folder / f"{case.name}.ptm"
        pockettorch.export(case.module, case.inputs, name=case.name, metadata=case.metadata).save(ptm)
        for i, t in enumerate(case.inputs):
            np.ascontiguousarray(t.numpy()).tofile(folder / f"input_{i}.bin")
        sdk = generator.generate(ptm, case.package, case.class_name)
        render.write_tree(folder / "sdk", sdk.files)
        out[case.key] = GeneratedSdk(case, ptm, folder / "sdk", sdk)
    return out


@pytest.fixture(scope="session")
def android_stubs(sdk_root) -> pathlib.Path:
    require_kotlin()
    return javac_stubs(sdk_root / "stubs-classes")


@pytest.fixture(scope="session")
def kotlin_classes(sdks, android_stubs, sdk_root) -> pathlib.Path:
    """Every generated SDK (Android-only files against the stubs) and the host tests, in one kotlinc call."""
    out = sdk_root / "classes"
    sources = [f for s in sdks.values() for f in s.kotlin_files] + sorted(HOST_TESTS.glob("*.kt"))
    kotlinc(sources, out, [android_stubs, *(KOTLIN_LIB / j for j in RUNTIME_JARS)])
    return out


def build_jni_library(sdk: GeneratedSdk, out_dir: pathlib.Path) -> subprocess.CompletedProcess:
    """gcc the SDK's src/main/cpp (JNI glue + selected runtime) into lib<library>.so, with the CMake flags."""
    cpp = sdk.out / "src" / "main" / "cpp"
    jdk = java_home()
    cmd = ["gcc", "-std=c11", "-shared", "-fPIC", *generator.C_FLAGS,
           "-I", str(jdk / "include"), "-I", str(jdk / "include" / "linux"),
           *[arg for d in ("include", "src", "kernels") for arg in ("-I", str(cpp / "runtime" / d))],
           *[str(cpp / src) for src in c_sources(sdk)], "-o", str(out_dir / f"lib{sdk.library}.so"),
           "-lm", "-lpthread"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def c_sources(sdk: GeneratedSdk) -> list[str]:
    """The source list of the generated CMakeLists.txt's add_library(...)."""
    text = (sdk.out / "src" / "main" / "cpp" / "CMakeLists.txt").read_text()
    block = text[text.index("add_library("):]
    block = block[:block.index(")")]
    return [w for w in block.split()[2:]]


@pytest.fixture(scope="session")
def jni_libraries(sdks, sdk_root) -> tuple[pathlib.Path, dict[str, subprocess.CompletedProcess]]:
    """Every SDK's native library built for the host; returns (folder, {key: gcc result})."""
    require_kotlin()
    out = sdk_root / "jni"
    out.mkdir(exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(sdks, pool.map(lambda s: build_jni_library(s, out), sdks.values())))
    return out, results


@pytest.fixture(scope="session")
def run_host_test(kotlin_classes, jni_libraries):
    """run_host_test(main_class, *args) runs a Kotlin host test main on the JVM with the JNI libraries."""
    lib_dir, results = jni_libraries
    failed = {k: r.stderr for k, r in results.items() if r.returncode != 0}
    if failed:
        pytest.fail(f"JNI libraries did not build: {failed}")
    return lambda main_class, *args: run_java(kotlin_classes, lib_dir, main_class, *args)


def run_java(classes: pathlib.Path, lib_dir: pathlib.Path, main_class: str, *args) -> subprocess.CompletedProcess:
    cp = os.pathsep.join([str(classes), *(str(KOTLIN_LIB / j) for j in RUNTIME_JARS)])
    return subprocess.run(["java", f"-Djava.library.path={lib_dir}", "-cp", cp, main_class, *map(str, args)],
                          capture_output=True, text=True, timeout=300)
