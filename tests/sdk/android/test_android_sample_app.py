"""sample_apps/android: its generate_sdk.sh regenerates the MobileNetV2 SDK, the app compiles with kotlinc
-Werror against that SDK and the android stubs, and its benchmark code runs on the host JVM: statistics as
RUN_JSON.md defines them, and a real benchmark of a model writing a `pockettorch.run/1` object."""
from __future__ import annotations

import concurrent.futures
import json
import os
import pathlib
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from pockettorch.sdk_templates.android import generator
from android_support import HERE, REPO, RUNTIME_JARS, GeneratedSdk, jni_library, kotlinc, run_java
from gradle_kts import settings

pytestmark = pytest.mark.slow

APP = REPO / "sample_apps" / "android"


@pytest.fixture(scope="module")
def sample_build(android_stubs, sdk_root):
    """(classes, JNI library folder) of the app + its regenerated SDK + the host test."""
    sdk_dir, build_dir = sdk_root / "sample-sdk", sdk_root / "sample-build"
    env = {**os.environ, "POCKETTORCH": str(pathlib.Path(sys.executable).parent / "pockettorch")}
    proc = subprocess.run(["sh", str(APP / "generate_sdk.sh"), str(sdk_dir), str(build_dir)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sdk = generator.generate(build_dir / "mobilenet_v2.ptm", "org.pockettorch.sample.classifier", "ImageClassifier",
                             all_kernels=True)
    generated = GeneratedSdk(build_dir / "mobilenet_v2.ptm", sdk_dir, sdk)
    sources = [*generated.kotlin_files, *sorted((APP / "app" / "src" / "main" / "kotlin").rglob("*.kt")),
               *sorted((HERE / "kotlin_sample").glob("*.kt"))]
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        native = pool.submit(jni_library, generated)
        classes = kotlinc(sources, [android_stubs, *RUNTIME_JARS], explicit_api=False)
        lib_dir = native.result()
    assert (lib_dir / "gcc.log").read_text() == ""
    return classes, lib_dir


def test_generate_script_writes_the_sdk_the_app_expects(sample_build, sdk_root):
    sdk = sdk_root / "sample-sdk"
    assert (sdk / "src/main/kotlin/org/pockettorch/sample/classifier/ImageClassifier.kt").is_file()
    assert (sdk / "src/main/assets/mobilenet_v2.ptm").is_file()
    assert "/mobilenet-sdk/" in (APP / ".gitignore").read_text().split()  # generated, never checked in


def test_app_gradle_files_and_manifest():
    project = settings((APP / "settings.gradle.kts").read_text())
    assert project["include"] == [[":app"], [":mobilenet-sdk"]]
    app = settings((APP / "app" / "build.gradle.kts").read_text())
    assert app["plugins.id"] == [["com.android.application"]]
    assert app["android.defaultConfig.applicationId"] == ["org.pockettorch.sample"]
    assert app["android.defaultConfig.minSdk"] == [24]
    assert app["kotlin.compilerOptions.jvmTarget"] == ["JvmTarget.JVM_17"]
    assert ("project", [":mobilenet-sdk"]) in [args[0] for args in app["dependencies.implementation"]]
    ns = "{http://schemas.android.com/apk/res/android}"
    activities = {a.get(f"{ns}name"): a for a in ET.parse(APP / "app/src/main/AndroidManifest.xml").iter("activity")}
    assert set(activities) == {".MainActivity", ".BenchmarkActivity"}
    assert activities[".BenchmarkActivity"].get(f"{ns}exported") == "true"  # `am start` from the shell


def test_benchmark_writes_run_json(sample_build, sdks, tmp_path):
    classes, lib_dir = sample_build
    samples = [3.0, 1.0, 4.0, 1.5, 9.0, 2.5, 6.0]
    (tmp_path / "samples.txt").write_text("".join(f"{s}\n" for s in samples))
    output = tmp_path / "device" / "result.json"
    model = sdks["embed"].ptm  # int64 inputs: exercises the runner-like random ids in [0, 10)
    proc = run_java(classes, [lib_dir], "org.pockettorch.sample.bench.SampleBenchHostKt",
                    tmp_path / "samples.txt", tmp_path / "stats.txt", model, output)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "sample bench host test passed" in proc.stdout

    stats = [float(v) for v in (tmp_path / "stats.txt").read_text().split()]
    a = np.array(samples)
    want = [a.min(), np.percentile(a, 50), np.percentile(a, 90), np.percentile(a, 99), a.mean(), a.std(ddof=0)]
    np.testing.assert_allclose(stats, want, rtol=1e-12)

    report = json.loads(output.read_text())
    assert report["schema"] == "pockettorch.run/1" and report["runtime"] == "c"
    assert report["model"] == "token_embed"
    assert (report["iters"], report["warmup"], report["threads"]) == (7, 2, 1)
    assert report["isa"] in ("avx512", "avx2", "portable")
    assert report["arena_bytes"] == pockettorch_arena(model) and report["peak_rss_kb"] > 0
    assert report["load_ms"] > 0 and report["first_inference_ms"] > 0
    s = np.array(report["samples_ms"])
    assert len(s) == 7
    lat = report["latency_ms"]
    for key, value in [("min", s.min()), ("median", np.percentile(s, 50)), ("p90", np.percentile(s, 90)),
                       ("p99", np.percentile(s, 99)), ("mean", s.mean()), ("std", s.std())]:
        assert abs(lat[key] - value) <= 2e-6, key


def pockettorch_arena(path) -> int:
    from pockettorch.runtime.module import load

    return load(path).arena_bytes
