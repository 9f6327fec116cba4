"""The SDK's native sources for ARM: the selected runtime sources of each test model, with the runner's main,
cross-compile for aarch64-linux-musl with ziglang and run the model under qemu-aarch64-static with the same
outputs as `pockettorch.load`; the JNI glue compiles warning-free for every ABI in the module's abiFilters.
Tier 2 (DESIGN.md): skips with the reason when ziglang or qemu-user is missing."""
from __future__ import annotations

import concurrent.futures
import json
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

import pockettorch
from pockettorch.runtime import build, cross
from pockettorch.sdk_templates.android import generator
from android_support import c_sources, cached_build, java_home
from support_tools import BUILD_DIR

pytestmark = pytest.mark.slow

TOOLS = build.RUNTIME_DIR / "tools"
ZIG_CACHE_ROOT = BUILD_DIR.parent  # zig keeps its compiled musl per target beside the runtime builds


def zig_cc(abi: str, *args) -> subprocess.CompletedProcess:
    a = cross.abi(abi)
    cmd = [*cross.zig_command(), "cc", "-target", a.target, *a.flags, "-mcpu=baseline", "-std=c11",
           *generator.C_FLAGS, *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=cross.zig_env(ZIG_CACHE_ROOT))


def arm64_runner(sdk) -> pathlib.Path:
    """Folder with a static aarch64 pkt_runner built from this SDK's runtime sources only (and zig.log)."""
    runtime_c = [sdk.cpp / s for s in c_sources(sdk) if s.startswith("runtime/")]
    tools = [TOOLS / f for f in ("pkt_runner.c", "npy.c", "json.c", "stats.c")]

    def make(out: pathlib.Path) -> None:
        proc = zig_cc("arm64-v8a", *sdk.include_flags, "-I", TOOLS, *tools, *runtime_c, "-static", "-s",
                      "-o", out / "pkt_runner", "-lm", "-lpthread")
        if proc.returncode != 0:
            pytest.fail(f"zig cc for arm64 failed:\n{proc.stderr[-3000:]}")
        (out / "zig.log").write_text(proc.stderr)

    inputs = [p for p in sdk.cpp.joinpath("runtime").rglob("*") if p.is_file()] + sorted(TOOLS.glob("*.[ch]"))
    return cached_build("arm64-runner", inputs, repr((generator.C_FLAGS, cross.zig_version())), make)


@pytest.fixture(scope="module")
def arm64_runners(sdks):
    """{model key: folder of the aarch64 runner built from that SDK's sources}."""
    if not cross.have_ziglang():
        pytest.skip(f"ziglang is not installed (pip install '{cross.ZIGLANG_PIN}')")
    if cross.launcher("arm64-v8a") is None:
        pytest.skip("qemu-aarch64-static is not installed (apt-get install qemu-user-static)")
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(sdks, pool.map(arm64_runner, sdks.values())))


@pytest.mark.parametrize("key", ["classifier", "multi", "embed", "heads", "int8", "int8dyn", "w4"])
def test_selective_runtime_runs_on_arm64(key, sdks, arm64_runners, tmp_path):
    runner = arm64_runners[key] / "pkt_runner"
    log = (arm64_runners[key] / "zig.log").read_text()
    assert "warning:" not in log, log[-3000:]
    sdk = sdks[key]
    inputs = [t.numpy() for t in sdk.case.inputs]
    for i, x in enumerate(inputs):
        np.save(tmp_path / f"in_{i}.npy", x)
    run = subprocess.run([*cross.launcher("arm64-v8a"), str(runner), str(sdk.ptm), "--iters", "1", "--warmup", "0",
                          "--input", *[str(tmp_path / f"in_{i}.npy") for i in range(len(inputs))],
                          "--output-dir", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["isa"] == "neon"
    expected = pockettorch.load(sdk.ptm).run_numpy(inputs)
    for i, want in enumerate(expected):
        got = np.load(tmp_path / f"output_{i}.npy")
        assert got.shape == want.shape
        assert np.max(np.abs(got - want)) <= 1e-5, f"output {i} differs on arm64"


@pytest.mark.parametrize("abi", generator.ABIS)
def test_module_sources_compile_for_every_abi(abi, sdks, tmp_path):
    """The module's native library for each ABI in abiFilters, from the sources CMakeLists.txt lists (the JNI
    glue and the selected runtime, with its NEON paths on ARM): it builds, with no warnings."""
    if not cross.have_ziglang():
        pytest.skip(f"ziglang is not installed (pip install '{cross.ZIGLANG_PIN}')")
    jdk = java_home()
    if jdk is None:
        pytest.skip("needs the JDK's jni.h")
    sdk = sdks["classifier"]  # conv2d and linear: the GEMM and convolution paths per ISA
    # jni_md.h for Linux fits every Linux-like ABI (jint is int, jlong is 64-bit); Android's NDK has its own copy.
    # -nodefaultlibs: libc stays undefined in the library (the device's libc provides it), so no libc is built here.
    library = tmp_path / f"lib{sdk.sdk.library}.so"
    proc = zig_cc(abi, "-shared", "-fPIC", "-nodefaultlibs", "-I", jdk / "include", "-I", jdk / "include" / "linux",
                  *sdk.include_flags, *[sdk.cpp / s for s in c_sources(sdk)], "-o", library)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr[-3000:]
    assert library.read_bytes()[:4] == b"\x7fELF"
    if shutil.which("readelf"):  # hidden visibility: JNI_OnLoad is all the library exports
        symbols = subprocess.run(["readelf", "--dyn-syms", "-W", str(library)], capture_output=True, text=True).stdout
        exported = {f[7] for f in (line.split() for line in symbols.splitlines())
                    if len(f) >= 8 and f[4] == "GLOBAL" and f[6] != "UND"}
        assert exported == {"JNI_OnLoad"}
