"""Every micro-kernel instantiation against eager torch: the GEMM family (runtime/compute/gemm/gemm_ukernel_impl.h),
the conv family (runtime/compute/conv/conv_simd_impl.h: GEMM tile, depthwise rows, residual epilogue) and every
vector-math path (runtime/compute/vmath/vec_math_impl.h: activations, maps, binary arithmetic).

A small C driver (tests/runtime/ukernel_harness.c) runs the kernels of the ISA config the runtime picks under
PKT_MAX_ISA. GEMM and conv tiles: every row count up to MR, every column count up to NR (so every remainder of the
tile, and for the conv tile every narrow-panel shape), with and without bias, every fused activation, the conv tile
also with K in two chunks (the second accumulating into C) and with B rows read in place far apart (the prefetching
path). Depthwise: 3x3 and other kernels, strides 1 and 2, padding, dilation, in two row bands. Residual: every
column count up to 40. Inputs hold NaN and +-inf; results must match float64 torch (NaN where torch has NaN, the
same infinities, finite values to 1e-4; gelu(+inf) is NaN, as eager float32 gives it) and nothing outside the
written block may change. The config's GEMV runs the same way over row and K counts around its blocks. Host ISAs: portable,
avx2, avx512 (skipped on a CPU without it); NEON on arm64 and armv7 through the zig cross-build and qemu-user
(skipped without them), as tests/runtime/test_cross.py.

The vector math (tests/runtime/vmath_harness.c) runs the picked config's act, vmap and vbinary over a wide range
(|x| up to FLT_MAX, denormals, +-0, +-inf, NaN) out of place, in place, and on every length 1..12 (every tail), on
every SIMD ISA (the portable C rounds like float32 eager, e.g. silu underflows to -0, and is checked against eager
by test_simd.py). Maps must give float64 torch's answer rounded to float32 -- NaN, infinities and the sign of zero
exactly, finite values to a few ulp (relative 1e-5, absolute 1e-43 where the result is denormal) -- or, where eager
float32 gives NaN or an infinity, that; binary arithmetic is bit-exact IEEE; nothing is written past the length.
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
VMATH_HARNESS = pathlib.Path(__file__).with_name("vmath_harness.c")
ROWS, COLS, SENTINEL = 12, 32, np.float32(1234.5)
LO, HI = -0.5, 0.75
ACTS = {  # PKT_ACT_* code order (runtime/op_table.py)
    0: lambda y: y,
    1: torch.relu,
    2: lambda y: torch.clamp(y, 0.0, 6.0),
    3: F.silu,
    4: lambda y: torch.where(y == torch.inf, torch.nan, F.gelu(y)),  # eager float32 gives NaN at +inf
    5: lambda y: F.gelu(y, approximate="tanh"),
    6: F.hardswish,
    7: torch.sigmoid,
    8: lambda y: torch.clamp(y, LO, HI),
    9: torch.tanh,
}


def _sources() -> tuple[list[str], list[str]]:
    """The runtime's sources (the conv family stands on the core's thread pool) and the flags of its build."""
    srcs, flags = build.direct_build(None)
    return [s for s in srcs if "/tools/" not in s], flags


def _host_harness(harness: pathlib.Path, tmp_path_factory) -> list[str]:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    out = tmp_path_factory.mktemp("uk") / harness.stem
    srcs, flags = _sources()
    proc = subprocess.run([cc, *flags, "-Werror", str(harness), *srcs, "-o", str(out), "-lm", "-lpthread"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return [str(out)]


@pytest.fixture(scope="module")
def host_harness(tmp_path_factory) -> list[str]:
    return _host_harness(HARNESS, tmp_path_factory)


def _cross_harness(abi: str, tmp_path_factory, harness: pathlib.Path = HARNESS) -> list[str]:
    if not cross.have_ziglang():
        pytest.skip("needs the ziglang package")
    prefix = cross.launcher(abi)
    if prefix is None:
        pytest.skip(f"this host cannot run {abi} binaries and {cross.ABIS[abi].qemu} is not installed")
    a = cross.abi(abi)
    out = tmp_path_factory.mktemp(f"uk-{abi}") / harness.stem
    srcs, flags = _sources()
    cmd = [*cross.zig_command(), "cc", "-target", a.target, *flags, *a.flags, "-mcpu=baseline", str(harness), *srcs,
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


def _info(cmd: list[str], isa: str) -> dict:
    env = dict(os.environ, PKT_MAX_ISA=isa)
    info = subprocess.run([*cmd, "isa"], capture_output=True, text=True, env=env, check=True).stdout.split()
    info = dict(kv.split("=") for kv in info)
    if info["isa"] != isa:
        pytest.skip(f"this machine has no {isa} (the runtime picks {info['isa']})")
    return info


def _call(cmd: list[str], isa: str, args: list, arrays: list[np.ndarray], tmp_path) -> np.ndarray:
    fin, fout = tmp_path / "in.bin", tmp_path / "out.bin"
    np.concatenate([a.ravel() for a in arrays]).astype(np.float32).tofile(fin)
    proc = subprocess.run([*cmd, *map(str, args), str(fin), str(fout)], capture_output=True, text=True,
                          env=dict(os.environ, PKT_MAX_ISA=isa))
    assert proc.returncode == 0, proc.stderr
    return np.fromfile(fout, dtype=np.float32)


def _run(cmd: list[str], isa: str, K: int, A, B, bias, tmp_path) -> tuple[dict, np.ndarray]:
    info = _info(cmd, isa)
    got = _call(cmd, isa, ["gemm", K, LO, HI], [A, B, bias], tmp_path)
    return info, got.reshape(len(ACTS), 2, int(info["mr"]), COLS, ROWS, COLS)


def _compare(what: str, g: np.ndarray, w: np.ndarray, where) -> None:
    """g against float64 torch's w: the same NaNs and infinities, finite values to 1e-4."""
    bad = np.isnan(g) != np.isnan(w)
    assert not bad.any(), f"{what}: NaN differs at {where(bad)}"
    inf = np.isinf(w)
    assert (g[inf] == w[inf]).all(), f"{what}: infinities differ at {where(inf & (g != w))}"
    ok = np.isfinite(w)
    np.testing.assert_allclose(g[ok], w[ok], rtol=1e-4, atol=1e-4, err_msg=what)


def _check_tiles(what: str, got: np.ndarray, want_of, mr: int, nr: int) -> None:
    """got[act, bias, ..., mr - 1, nr - 1, ROWS, COLS] (leading axes as want_of's): each call's mr x nr block
    against want_of(act, bias)[:ROWS, :COLS], the rest still the sentinel."""
    r, c = np.arange(ROWS), np.arange(COLS)
    m, n = np.arange(1, mr + 1), np.arange(1, nr + 1)
    # inside[m - 1, n - 1, row, col]: the mr x nr block a call may write
    inside = (r[None, None, :, None] < m[:, None, None, None]) & (c[None, None, None, :] < n[None, :, None, None])
    for act, fn in ACTS.items():
        for with_bias in (0, 1):
            want = np.broadcast_to(want_of(fn, with_bias)[:ROWS, :COLS], inside.shape)
            gs = got[act, with_bias]
            for i, g in enumerate(gs.reshape(-1, *inside.shape)):
                at = f"{what} act={act} bias={with_bias} call={i}"
                assert (g[~inside] == SENTINEL).all(), f"{at}: wrote outside the tile at {np.argwhere((g != SENTINEL) & ~inside)[:4]}"
                _compare(at, g[inside], want[inside], lambda bad: f"(mr-1, nr-1, row, col) {np.argwhere(inside)[bad][:4]}")


def _check(info: dict, got: np.ndarray, A, B, bias) -> None:
    with np.errstate(invalid="ignore"):
        pre = torch.from_numpy(A.astype(np.float64) @ B.astype(np.float64))
    b = torch.from_numpy(bias.astype(np.float64))
    _check_tiles(info["ukernel"], got, lambda fn, with_bias: fn(pre + b if with_bias else pre).numpy(),
                 int(info["mr"]), COLS)


def _check_gemv(cmd: list[str], isa: str, tmp_path) -> None:
    """The config's GEMV (batch-1 linear layers, the LSTM's recurrence) on row counts around its 4-row blocks and
    K around its 16- and 8-step passes, with NaN and +-inf in x and W."""
    for N in (1, 4, 7):
        for K in (1, 7, 8, 16, 24, 37, 45):
            rng = np.random.default_rng(N * 100 + K)
            x = rng.standard_normal(K).astype(np.float32)
            W = rng.standard_normal((N, K + 3)).astype(np.float32)
            if K > 5 and N > 2:
                x[4] = np.nan if K % 2 else x[4]  # every row NaN for odd K
                W[1, 2], W[2, K - 1] = np.inf, -np.inf
            got = _call(cmd, isa, ["gemv", N, K], [x, W], tmp_path)
            assert got[N] == SENTINEL, f"{isa} gemv N={N} K={K} wrote past y"
            with np.errstate(invalid="ignore"):
                want = W[:, :K].astype(np.float64) @ x.astype(np.float64)
            np.testing.assert_array_equal(np.isnan(got[:N]), np.isnan(want), err_msg=f"{isa} gemv N={N} K={K}")
            ok = ~np.isnan(want)
            np.testing.assert_allclose(got[:N][ok], want[ok], rtol=1e-5, atol=1e-5, err_msg=f"{isa} gemv N={N} K={K}")


def _conv_tiles(cmd: list[str], isa: str, tmp_path) -> None:
    """The conv tile on K of 1, 9 and 37, B rows 32 apart (a packed panel) and 200 apart (read in place)."""
    info = _info(cmd, isa)
    mr, nr = int(info["conv_mr"]), int(info["conv_nr"])
    for K, ldb in ((1, 32), (9, 32), (37, 200), (40, 32)):
        A, B, _ = _inputs(K, seed=K + ldb)
        Bw = np.random.default_rng(K).standard_normal((K, ldb)).astype(np.float32)
        Bw[:, :COLS] = B
        bias = (np.random.default_rng(K + 1).standard_normal(ROWS) * 2.0).astype(np.float32)
        got = _call(cmd, isa, ["conv", K, ldb, LO, HI], [A, Bw, bias], tmp_path)
        got = got.reshape(len(ACTS), 2, 2, mr, nr, ROWS, COLS)
        with np.errstate(invalid="ignore"):
            pre = torch.from_numpy(A.astype(np.float64) @ B.astype(np.float64))
        b = torch.from_numpy(bias.astype(np.float64))[:, None]
        _check_tiles(f"conv {isa} K={K} ldb={ldb}", got, lambda fn, with_bias: fn(pre + b if with_bias else pre).numpy(),
                     mr, nr)


DW_CASES = [  # H, W, kh, kw, sh, sw, ph, pw, dh, dw
    (9, 21, 3, 3, 1, 1, 1, 1, 1, 1), (10, 37, 3, 3, 2, 2, 1, 1, 1, 1), (7, 19, 3, 3, 1, 1, 0, 0, 1, 1),
    (12, 40, 3, 3, 1, 1, 2, 2, 2, 2), (11, 33, 5, 5, 2, 2, 2, 2, 1, 1), (8, 18, 7, 7, 1, 1, 3, 3, 1, 1),
    (6, 17, 1, 3, 1, 3, 0, 1, 1, 1), (13, 26, 9, 9, 1, 1, 4, 4, 1, 1),
]


def _dw(cmd: list[str], isa: str, tmp_path) -> None:
    """Depthwise rows (conv_dw_band through the ISA's row kernel) against torch's conv2d of one plane."""
    _info(cmd, isa)
    for case in DW_CASES:
        H, W, kh, kw, sh, sw, ph, pw, dh, dw = case
        rng = np.random.default_rng(H * W)
        x = rng.standard_normal((H, W)).astype(np.float32)
        x[H // 2, 3], x[1, W - 2], x[H - 1, W // 2] = np.nan, np.inf, -np.inf
        x[2, 5] = 40.0
        w = rng.standard_normal((kh, kw)).astype(np.float32)
        bias = np.float32(rng.standard_normal() * 2)
        got = _call(cmd, isa, ["dw", *case, LO, HI], [x, w, np.array([bias])], tmp_path)
        pre = F.conv2d(torch.from_numpy(x.astype(np.float64))[None, None], torch.from_numpy(w.astype(np.float64))[None, None],
                       stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw))[0, 0]
        got = got.reshape(len(ACTS), 2, *pre.shape)
        for act, fn in ACTS.items():
            for with_bias in (0, 1):
                want = fn(pre + float(bias) if with_bias else pre).numpy()
                _compare(f"dw {isa} {case} act={act} bias={with_bias}", got[act, with_bias], want,
                         lambda bad: np.argwhere(bad)[:4])


def _residual(cmd: list[str], isa: str, tmp_path) -> None:
    _info(cmd, isa)
    rng = np.random.default_rng(7)
    y, r = rng.standard_normal((2, 3, 40)).astype(np.float32) * 2
    y[1, 5], r[2, 9], y[0, 33], r[0, 33] = np.nan, np.inf, np.inf, -np.inf
    got = _call(cmd, isa, ["residual", LO, HI], [y, r], tmp_path).reshape(40, 3, 40)
    with np.errstate(invalid="ignore"):
        full = torch.clamp(torch.from_numpy(y.astype(np.float64) + r.astype(np.float64)), LO, HI).numpy()
    for cols in range(1, 41):
        want = np.where(np.arange(40) < cols, full, y)
        _compare(f"residual {isa} cols={cols}", got[cols - 1], want, lambda bad: np.argwhere(bad)[:4])


@pytest.mark.parametrize("K", [1, 3, 9, 37])
@pytest.mark.parametrize("isa", ["portable", "avx2", "avx512"])
def test_host_instantiations(host_harness, isa, K, tmp_path):
    A, B, bias = _inputs(K, seed=K)
    info, got = _run(host_harness, isa, K, A, B, bias, tmp_path)
    _check(info, got, A, B, bias)
    if K == 1:
        _check_gemv(host_harness, isa, tmp_path)


@pytest.mark.parametrize("isa", ["portable", "avx2", "avx512"])
def test_host_conv_instantiations(host_harness, isa, tmp_path):
    _conv_tiles(host_harness, isa, tmp_path)
    _dw(host_harness, isa, tmp_path)
    _residual(host_harness, isa, tmp_path)


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
        _check_gemv(cmd, isa, tmp_path)
        _conv_tiles(cmd, isa, tmp_path)
        _dw(cmd, isa, tmp_path)
        _residual(cmd, isa, tmp_path)

# ---- vector math ----
def _gelu64(x: torch.Tensor) -> torch.Tensor:
    """F.gelu in float64 without its cancellation (0.5 x (1 + erf) is 0 below x = -8, 0.5 x erfc(-x/sqrt2) is not),
    NaN at +inf as eager float32."""
    return torch.where(x == torch.inf, torch.nan, 0.5 * x * torch.special.erfc(-x * 0.7071067811865476))


def _gelu_tanh64(x: torch.Tensor) -> torch.Tensor:
    """F.gelu(approximate="tanh") in float64 as x sigmoid(2u), the same function without 1 + tanh's cancellation."""
    return x * torch.sigmoid(2 * 0.7978845608028654 * (x + 0.044715 * x ** 3))


EAGER = {code: fn for code, fn in ACTS.items() if code} | {64: torch.exp, 65: F.hardsigmoid}  # + PKT_VMAP_*
EXACT = EAGER | {4: _gelu64, 5: _gelu_tanh64}  # evaluated in float64
VBIN = {0: np.add, 1: np.subtract, 2: np.multiply, 3: np.divide}  # PKT_VBIN_*
SHORT, ROW = 12, 16
GELU_RTOL = 3e-5  # erf-gelu's tail (|x| > 8, results below 1e-15): exp(-z^2) of an argument near -100


def _wide(n: int = 4099) -> np.ndarray:
    """Specials first, then finite floats over [-110, 110] dense near 0 and normals; odd length (a tail)."""
    f32 = np.finfo(np.float32)
    special = [0.5, -2.0, 1.0, np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-30, -1e-30, 1e-40, -1e-40, f32.max, -f32.max,
               f32.tiny, 88.7, 88.8, 89.0, -87.5, -103.0, -104.5, -110.0, 20.0, -20.0, 40.0, -40.0, 9.0, -9.0,
               0.625, -0.625, 0.6249, 3.0, -3.0, 6.0, -6.0]
    rng = np.random.default_rng(0)
    k = (n - len(special)) // 2
    body = np.concatenate([np.linspace(-1.0, 1.0, k) ** 3 * 110.0, rng.standard_normal(n - len(special) - k) * 4.0])
    return np.concatenate([special, body]).astype(np.float32)


def _reference(code: int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(float64 torch rounded to float32, eager float32 torch) for map `code` over x."""
    w64 = EXACT[code](torch.from_numpy(x.astype(np.float64))).numpy().astype(np.float32)
    return w64, EAGER[code](torch.from_numpy(x)).numpy()


def _vmath_check(got: np.ndarray, want: tuple[np.ndarray, np.ndarray], what: str, rtol: float = 1e-5) -> None:
    """Where eager float32 gives NaN or +-inf, the same is right too (hardswish(3e38) overflows there, and
    gelu(+inf) is NaN); everything else must be float64's answer: NaN, infinities, the sign of zero, a few ulp."""
    w64, w32 = want
    as_eager = ~np.isfinite(w32) & ((got == w32) | (np.isnan(got) & np.isnan(w32)))
    got, want = got[~as_eager], w64[~as_eager]
    bad = np.isnan(got) != np.isnan(want)
    assert not bad.any(), f"{what}: NaN differs at {np.argwhere(bad)[:4].ravel()}"
    inf = np.isinf(want) | np.isinf(got)
    assert (got[inf] == want[inf]).all(), f"{what}: infinities differ at {np.argwhere(inf & (got != want))[:4].ravel()}"
    zero = (want == 0) & (got == 0)
    sign = np.signbit(got[zero]) != np.signbit(want[zero])
    assert not sign.any(), f"{what}: sign of zero differs at {np.argwhere(zero)[sign][:4].ravel()}"
    ok = np.isfinite(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=rtol, atol=1e-43, err_msg=what)


def _check_vmap(cmd: list[str], isa: str, tmp_path) -> None:
    x = _wide()
    n = x.size
    for code in EAGER:
        got = _call(cmd, isa, ["map", str(code), str(LO), str(HI)], [x], tmp_path)
        want = _reference(code, x)
        what, rtol = f"{isa} map {code}", GELU_RTOL if code == 4 else 1e-5
        _vmath_check(got[:n], want, f"{what} out of place", rtol)
        _vmath_check(got[n:2 * n], want, f"{what} in place", rtol)
        rows = got[2 * n:].reshape(SHORT, ROW)
        for L in range(1, SHORT + 1):
            assert (rows[L - 1, L:] == SENTINEL).all(), f"{what}: length {L} wrote past its end"
            _vmath_check(rows[L - 1, :L], (want[0][:L], want[1][:L]), f"{what} length {L}", rtol)


def _check_vbinary(cmd: list[str], isa: str, tmp_path) -> None:
    x = _wide()
    a, b = x, np.roll(x[::-1], 7)  # every special meets specials and finite values
    n = x.size
    for code, op in VBIN.items():
        got = _call(cmd, isa, ["binary", str(code)], [a, b], tmp_path)
        with np.errstate(all="ignore"):  # IEEE arithmetic: bit-exact, NaN where numpy has NaN
            wants = [op(a, b), op(a, b[0]), op(a[0], b), op(a, b)]
        for k, want in enumerate(wants):
            np.testing.assert_array_equal(got[k * n:(k + 1) * n], want, err_msg=f"{isa} binary {code} layout {k}")
        rows = got[4 * n:].reshape(SHORT, ROW)
        for L in range(1, SHORT + 1):
            assert (rows[L - 1, L:] == SENTINEL).all(), f"{isa} binary {code}: length {L} wrote past its end"
            np.testing.assert_array_equal(rows[L - 1, :L], wants[0][:L])


@pytest.fixture(scope="module")
def host_vmath(tmp_path_factory) -> list[str]:
    return _host_harness(VMATH_HARNESS, tmp_path_factory)


@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_host_vmath(host_vmath, isa, tmp_path):
    info = _info(host_vmath, isa)
    _check_vmap(host_vmath, isa, tmp_path)
    if info["vbinary"] == "1":
        _check_vbinary(host_vmath, isa, tmp_path)


def test_neon_vmath(tmp_path_factory, tmp_path):
    """arm64 NEON under qemu-aarch64: every map, activation and binary op of the NEON config (and its vbinary
    exists: the elementwise kernels take the vector path)."""
    cmd = _cross_harness("arm64-v8a", tmp_path_factory, VMATH_HARNESS)
    info = _info(cmd, "neon")
    assert info["vbinary"] == "1"
    _check_vmap(cmd, "neon", tmp_path)
    _check_vbinary(cmd, "neon", tmp_path)
