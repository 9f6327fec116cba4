"""Every GEMM micro-kernel instantiation (runtime/compute/gemm/gemm_ukernel_impl.h) against eager torch.

A small C driver (tests/runtime/ukernel_harness.c) runs the micro-kernel of the ISA config the runtime picks under
PKT_MAX_ISA on every row count up to its MR, every column count of a 32-column panel (so every remainder of its NR
tile), with and without bias, and every fused activation, over inputs holding NaN and +-inf. Results must match
float64 torch (NaN where torch has NaN, the same infinities, finite values to 1e-4) and nothing outside the
mr x nr block may be written. Host ISAs: portable, avx2, avx512 (skipped on a CPU without it); NEON on arm64 and
armv7 through the zig cross-build and qemu-user (skipped without them), as tests/runtime/test_cross.py.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pockettorch.runtime import build, cross

HARNESS = pathlib.Path(__file__).with_name("ukernel_harness.c")
ROWS, COLS, SENTINEL = 12, 32, np.float32(1234.5)
LO, HI = -0.5, 0.75
ACTS = {  # PKT_ACT_* code order (runtime/op_table.py)
    0: lambda y: y,
    1: torch.relu,
    2: lambda y: torch.clamp(y, 0.0, 6.0),
    3: F.silu,
    4: F.gelu,
    5: lambda y: F.gelu(y, approximate="tanh"),
    6: F.hardswish,
    7: torch.sigmoid,
    8: lambda y: torch.clamp(y, LO, HI),
    9: torch.tanh,
}


def _sources() -> tuple[list[str], list[str]]:
    """The GEMM and vector-math families and what they stand on; the flags of the runtime's build."""
    _, flags = build.direct_build(None)
    root = build.RUNTIME_DIR
    srcs = [root / f for f in ("backends/cpu/cpu.c", "backends/cpu/isa_config.c", "core/kernel_util.c",
                               "core/platform_posix.c")]
    srcs += sorted(root.glob("compute/gemm/*.c")) + sorted(root.glob("compute/vmath/*.c"))
    return [str(p) for p in srcs], flags


@pytest.fixture(scope="module")
def host_harness(tmp_path_factory) -> list[str]:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    out = tmp_path_factory.mktemp("uk") / "ukernel_harness"
    srcs, flags = _sources()
    proc = subprocess.run([cc, *flags, "-Werror", str(HARNESS), *srcs, "-o", str(out), "-lm", "-lpthread"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return [str(out)]


def _cross_harness(abi: str, tmp_path_factory) -> list[str]:
    if not cross.have_ziglang():
        pytest.skip("needs the ziglang package")
    prefix = cross.launcher(abi)
    if prefix is None:
        pytest.skip(f"this host cannot run {abi} binaries and {cross.ABIS[abi].qemu} is not installed")
    a = cross.abi(abi)
    out = tmp_path_factory.mktemp(f"uk-{abi}") / "ukernel_harness"
    srcs, flags = _sources()
    cmd = [*cross.zig_command(), "cc", "-target", a.target, *flags, *a.flags, "-mcpu=baseline", str(HARNESS), *srcs,
           "-static", "-o", str(out), "-lm", "-lpthread"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=cross.zig_env(build.default_cache_dir().parent))
    assert proc.returncode == 0, proc.stderr[-4000:]
    return [*prefix, str(out)]


def _inputs(K: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((ROWS, K)).astype(np.float32)
    B = (rng.standard_normal((K, COLS)) * 0.7).astype(np.float32)
    bias = (rng.standard_normal(COLS) * 2.0).astype(np.float32)
    if K > 5:
        A[1, 3] = np.nan        # row 1 is NaN everywhere
        B[5, 7] = np.inf        # column 7 is +-inf (A[r, 5] is never 0)
        B[4, 20] = -np.inf      # column 20 too
        A[7 % ROWS, 2] = 40.0   # large values: past every clamp, into the activations' saturated ranges
    return A, B, bias


def _run(cmd: list[str], isa: str, K: int, A, B, bias, tmp_path) -> tuple[dict, np.ndarray]:
    env = dict(os.environ, PKT_MAX_ISA=isa)
    info = subprocess.run([*cmd, "isa"], capture_output=True, text=True, env=env, check=True).stdout.split()
    info = dict(kv.split("=") for kv in info)
    if info["isa"] != isa:
        pytest.skip(f"this machine has no {isa} (the runtime picks {info['isa']})")
    fin, fout = tmp_path / "in.bin", tmp_path / "out.bin"
    np.concatenate([A.ravel(), B.ravel(), bias.ravel()]).astype(np.float32).tofile(fin)
    proc = subprocess.run([*cmd, "gemm", str(K), str(LO), str(HI), str(fin), str(fout)], capture_output=True,
                          text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    mr = int(info["mr"])
    return info, np.fromfile(fout, dtype=np.float32).reshape(len(ACTS), 2, mr, COLS, ROWS, COLS)


def _check(info: dict, got: np.ndarray, A, B, bias) -> None:
    mr = int(info["mr"])
    with np.errstate(invalid="ignore"):
        pre = torch.from_numpy(A.astype(np.float64) @ B.astype(np.float64))
    r, c = np.arange(ROWS), np.arange(COLS)
    m, n = np.arange(1, mr + 1), np.arange(1, COLS + 1)
    # inside[m - 1, n - 1, row, col]: the mr x nr block a call may write
    inside = (r[None, None, :, None] < m[:, None, None, None]) & (c[None, None, None, :] < n[None, :, None, None])
    for act, fn in ACTS.items():
        for with_bias in (0, 1):
            want = fn(pre + torch.from_numpy(bias.astype(np.float64)) if with_bias else pre).numpy()[:ROWS, :COLS]
            want = np.broadcast_to(want, inside.shape)
            g = got[act, with_bias]
            what = f"{info['ukernel']} act={act} bias={with_bias}"
            assert (g[~inside] == SENTINEL).all(), f"{what}: wrote outside the tile at {np.argwhere((g != SENTINEL) & ~inside)[:4]}"
            g, w = g[inside], want[inside]
            bad = np.isnan(g) != np.isnan(w)
            assert not bad.any(), f"{what}: NaN differs at (mr-1, nr-1, row, col) {np.argwhere(inside)[bad][:4]}"
            inf = np.isinf(w)
            assert (g[inf] == w[inf]).all(), f"{what}: infinities differ"
            ok = np.isfinite(w)
            np.testing.assert_allclose(g[ok], w[ok], rtol=1e-4, atol=1e-4, err_msg=what)


@pytest.mark.parametrize("K", [1, 3, 9, 37])
@pytest.mark.parametrize("isa", ["portable", "avx2", "avx512"])
def test_host_instantiations(host_harness, isa, K, tmp_path):
    A, B, bias = _inputs(K, seed=K)
    info, got = _run(host_harness, isa, K, A, B, bias, tmp_path)
    _check(info, got, A, B, bias)


@pytest.mark.parametrize("abi", ["arm64-v8a", "armeabi-v7a"])
def test_neon_instantiations(abi, tmp_path_factory, tmp_path):
    cmd = _cross_harness(abi, tmp_path_factory)
    for isa in ("portable", "neon"):
        for K in (1, 9, 37):
            A, B, bias = _inputs(K, seed=K)
            info, got = _run(cmd, isa, K, A, B, bias, tmp_path)
            assert info["ukernel"] == {"portable": "portable_4x32", "neon": "neon_6x16" if abi == "arm64-v8a"
                                       else "neon_6x8"}[isa]
            _check(info, got, A, B, bias)
