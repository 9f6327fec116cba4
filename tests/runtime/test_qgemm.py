"""The int8 GEMM family (runtime/compute/qgemm) against an exact integer reference, on every path this host (and
qemu-user) can run.

A small C driver (tests/runtime/qgemm_harness.c) packs B, runs pkt_qgemm and pkt_quantize_rows of the ISA config the
runtime picks under PKT_MAX_ISA, over a batch of cases in one process. The reference is numpy in int64:
acc = (A - a_zp) B + bias, then REQUANT clamp(rint(float32(acc) * scale) + c_zp, c_min, c_max) or DEQUANT
float32(acc) * a_scale * w_scale + fbias and the activation. Cases: M, N, K around every tile and k-group size
(K not a multiple of 4 or 8, N not a multiple of the panel), B read as [K, N] and as a linear weight [N, K], row and
output strides wider than K and N, zero points at -128 and 127 (per tensor and per row), c_min/c_max clamps,
scales that make exact .5 ties (round half to even), the largest products (-128 x -128 with zp 127), two threads.
REQUANT is bit-exact; nothing outside the M x N block may change. Row quantization matches
torch.ops.quantized_decomposed (choose_qparams.tensor + quantize_per_tensor.tensor per row) bit-exactly on finite
rows; a row holding NaN or +-inf gets scale NaN (eager's dequantized row is NaN there, so every output is NaN).
The PT2E static decomposition (dequantize -> float linear -> quantize) is matched within 1 LSB.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest
import torch
import torch.ao.quantization.fx._decomposed  # noqa: F401  (registers torch.ops.quantized_decomposed)

from pockettorch.runtime import build, cross, manifest

HARNESS = pathlib.Path(__file__).with_name("qgemm_harness.c")
REQUANT, DEQUANT = 0, 1
ACT_NONE, ACT_RELU, ACT_RELU6, ACT_CLAMP = 0, 1, 2, 8  # PKT_ACT_* (runtime/op_table.py)
EPS = np.float32(np.finfo(np.float32).eps)
qd = torch.ops.quantized_decomposed


def _sources() -> tuple[list[str], list[str]]:
    """The runtime's core (a build with no kernels: the thread pool and the ISA configs) with the qgemm group, and
    the build's flags."""
    srcs, flags = build.direct_build(())
    qgemm = [str(build.RUNTIME_DIR / f) for f in manifest.GROUPS["qgemm"]]
    return [s for s in srcs if "/tools/" not in s] + qgemm, flags


@pytest.fixture(scope="module")
def host_harness(tmp_path_factory) -> list[str]:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    out = tmp_path_factory.mktemp("qg") / "qgemm_harness"
    srcs, flags = _sources()
    proc = subprocess.run([cc, *flags, "-Werror", str(HARNESS), *srcs, "-o", str(out), "-lm", "-lpthread"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return [str(out)]


def cross_harness(abi: str, tmp_path_factory, qemu_cpu: str | None = None) -> list[str]:
    if not cross.have_ziglang():
        pytest.skip("needs the ziglang package")
    prefix = cross.launcher(abi)
    if prefix is None:
        pytest.skip(f"this host cannot run {abi} binaries and {cross.ABIS[abi].qemu} is not installed")
    a = cross.abi(abi)
    out = tmp_path_factory.mktemp(f"qg-{abi}") / "qgemm_harness"
    srcs, flags = _sources()
    cmd = [*cross.zig_command(), "cc", "-target", a.target, *flags, *a.flags, "-mcpu=baseline", "-Werror",
           str(HARNESS), *srcs, "-static", "-o", str(out), "-lm", "-lpthread"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=cross.zig_env(build.default_cache_dir().parent))
    assert proc.returncode == 0, proc.stderr[-4000:]
    if prefix and qemu_cpu:
        prefix = [*prefix, "-cpu", qemu_cpu]
    return [*prefix, str(out)]


def info(cmd: list[str], isa: str) -> dict:
    out = subprocess.run([*cmd, "isa"], capture_output=True, text=True, env=dict(os.environ, PKT_MAX_ISA=isa),
                         check=True).stdout.split()
    return dict(kv.split("=") for kv in out)


# ---- cases ----
class Gemm:
    def __init__(self, rng, M, N, K, *, epilogue=REQUANT, b_rows_n=False, bias=True, zp=None, per_row=False,
                 c_zp=0, c_min=-128, c_max=127, act=ACT_NONE, lo=-1.0, hi=1.0, threads=1, fbias=True,
                 extreme=False, ties=False, pad=(3, 5)):
        self.M, self.N, self.K, self.epilogue, self.b_rows_n = M, N, K, epilogue, b_rows_n
        self.lda, self.ldc = K + pad[0], N + pad[1]
        self.per_row, self.c_zp, self.c_min, self.c_max, self.act, self.threads = per_row, c_zp, c_min, c_max, act, threads
        self.lo, self.hi, self.ties = np.float32(lo), np.float32(hi), ties
        if extreme:  # the largest |(a - zp) * b|: a = -128, zp = 127, b = -128
            self.A = np.full((M, self.lda), -128, np.int8)
            self.B = np.full((K, N), -128, np.int8)
        elif ties:  # small products so that acc * 2^-k lands on exact halves inside the output range
            self.A = rng.integers(-3, 4, (M, self.lda), dtype=np.int8)
            self.B = rng.integers(-3, 4, (K, N), dtype=np.int8)
        else:
            self.A = rng.integers(-128, 128, (M, self.lda), dtype=np.int8)
            self.B = rng.integers(-128, 128, (K, N), dtype=np.int8)
        self.bias = rng.integers(-50000, 50000, N, dtype=np.int32) if bias else None
        if ties and bias:
            self.bias = rng.integers(-20, 21, N, dtype=np.int32)
        if zp is None:
            zp = rng.integers(-4 if ties else -128, 4 if ties else 128, M if per_row else 1, dtype=np.int32)
        self.a_zp = np.asarray(zp, np.int32).reshape(-1)
        if ties:  # acc * 2^-k: many exact halves
            self.scale = (2.0 ** -rng.integers(1, 3, N)).astype(np.float32)
        else:
            self.scale = (rng.uniform(0.2, 2.0, N) / max(1.0, 128.0 * np.sqrt(K))).astype(np.float32)
        self.a_scale = rng.uniform(0.001, 0.1, M).astype(np.float32)
        self.w_scale = rng.uniform(0.001, 0.05, N).astype(np.float32)
        self.fbias = rng.standard_normal(N).astype(np.float32) if fbias else None

    def encode(self) -> bytes:
        head = [0, self.M, self.N, self.K, self.lda, self.ldc, int(self.b_rows_n), int(self.bias is not None),
                self.epilogue, int(self.per_row), self.c_zp, self.c_min, self.c_max, self.act, self.threads,
                int(self.fbias is not None)]
        B = np.ascontiguousarray(self.B.T) if self.b_rows_n else self.B
        parts = [np.array(head, np.int64), self.A, B, self.bias, self.a_zp, self.scale, self.a_scale, self.w_scale,
                 self.fbias, np.array([self.lo, self.hi], np.float32)]
        return b"".join(p.tobytes() for p in parts if p is not None)

    def out_bytes(self) -> int:
        return self.M * self.ldc * (1 if self.epilogue == REQUANT else 4)

    def acc(self) -> np.ndarray:
        zp = self.a_zp[:, None] if self.per_row else self.a_zp[0]
        acc = (self.A[:, :self.K].astype(np.int64) - zp) @ self.B.astype(np.int64)
        if self.bias is not None:
            acc += self.bias
        assert np.abs(acc).max() < 2 ** 31
        return acc

    def check(self, raw: bytes, what: str) -> None:
        acc = self.acc().astype(np.float32)
        M, N = self.M, self.N
        if self.epilogue == REQUANT:
            got = np.frombuffer(raw, np.int8).reshape(M, self.ldc)
            f = np.clip(acc * self.scale, np.float32(self.c_min - self.c_zp), np.float32(self.c_max - self.c_zp))
            want = (np.rint(f) + self.c_zp).astype(np.int8)
            assert not self.ties or (np.abs(f % 1) == 0.5).sum() > 20, "the case lost its ties"
            bad = got[:, :N] != want
            assert not bad.any(), f"{what}: {bad.sum()} differ, first (m, n) {np.argwhere(bad)[:4].tolist()}"
            assert (got[:, N:].view(np.uint8) == 0x5A).all(), f"{what}: wrote past N"
        else:
            got = np.frombuffer(raw, np.float32).reshape(M, self.ldc)
            want = acc * self.a_scale[:, None] * self.w_scale
            if self.fbias is not None:
                want = want + self.fbias
            want = {ACT_NONE: want, ACT_RELU: np.maximum(want, 0), ACT_RELU6: np.clip(want, 0, 6),
                    ACT_CLAMP: np.clip(want, self.lo, self.hi)}[self.act]
            np.testing.assert_allclose(got[:, :N], want, rtol=1e-6, atol=1e-6, err_msg=what)
            assert (got[:, N:] == np.float32(1234.5)).all(), f"{what}: wrote past N"


class Quant:
    def __init__(self, x: np.ndarray, ldx_pad: int = 2):
        self.M, self.K = x.shape
        self.x = np.full((self.M, self.K + ldx_pad), 7.0, np.float32)
        self.x[:, :self.K] = x

    def encode(self) -> bytes:
        head = np.array([1, self.M, self.K, self.K + (self.x.shape[1] - self.K)] + [0] * 12, np.int64)
        return head.tobytes() + self.x.tobytes()

    def out_bytes(self) -> int:
        return self.M * self.K + 8 * self.M

    def check(self, raw: bytes, what: str) -> None:
        M, K = self.M, self.K
        q = np.frombuffer(raw[:M * K], np.int8).reshape(M, K)
        s = np.frombuffer(raw[M * K:M * K + 4 * M], np.float32)
        zp = np.frombuffer(raw[M * K + 4 * M:], np.int32)
        for m in range(M):
            row = torch.from_numpy(self.x[m, :K].copy())
            if not torch.isfinite(row).all():
                assert np.isnan(s[m]), f"{what} row {m}: a non-finite row must get scale NaN, got {s[m]}"
                continue
            ws, wz = qd.choose_qparams.tensor(row, -128, 127, float(EPS), torch.int8)
            wq = qd.quantize_per_tensor.tensor(row, ws, wz, -128, 127, torch.int8).numpy()
            assert s[m] == np.float32(ws.item()) and zp[m] == wz.item(), \
                f"{what} row {m}: qparams ({s[m]}, {zp[m]}) != torch ({ws.item()}, {wz.item()})"
            bad = q[m] != wq
            assert not bad.any(), f"{what} row {m}: q differs at {np.argwhere(bad)[:4].ravel().tolist()}"


def gemm_cases(seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    cases = []
    for M, N, K in ((1, 1, 1), (2, 3, 3), (3, 17, 5), (5, 16, 7), (7, 33, 9), (12, 31, 15), (13, 40, 17),
                    (4, 64, 31), (25, 20, 100), (9, 48, 64), (6, 15, 257), (16, 8, 4), (17, 65, 8), (1, 96, 33)):
        for b_rows_n in (False, True):
            cases.append(Gemm(rng, M, N, K, b_rows_n=b_rows_n, c_zp=int(rng.integers(-20, 20))))
        cases.append(Gemm(rng, M, N, K, epilogue=DEQUANT, per_row=True, b_rows_n=bool(K % 2)))
    cases += [
        Gemm(rng, 5, 19, 13, zp=[-128], c_zp=127, bias=False),
        Gemm(rng, 5, 19, 13, zp=[127], c_zp=-128),
        Gemm(rng, 6, 21, 11, c_zp=-128, c_min=-128, c_max=-128 + 100),  # ReLU-like: clamp at the zero point
        Gemm(rng, 6, 21, 11, c_zp=10, c_min=-10, c_max=50),
        Gemm(rng, 11, 37, 23, per_row=True, zp=rng.integers(-128, 128, 11).tolist()[:-2] + [-128, 127]),
        Gemm(rng, 8, 35, 29, ties=True, c_zp=3),
        Gemm(rng, 8, 35, 29, ties=True, per_row=True, c_zp=-4, b_rows_n=True),
        Gemm(rng, 7, 18, 300, zp=[127], extreme=True, bias=False, c_min=-128, c_max=127),
        Gemm(rng, 7, 18, 1024, zp=[127], extreme=True, epilogue=DEQUANT, per_row=False, fbias=False),
        Gemm(rng, 9, 40, 40, epilogue=DEQUANT, per_row=True, act=ACT_RELU),
        Gemm(rng, 9, 40, 40, epilogue=DEQUANT, per_row=True, act=ACT_RELU6, fbias=False),
        Gemm(rng, 9, 40, 40, epilogue=DEQUANT, per_row=True, act=ACT_CLAMP, lo=-0.3, hi=0.4),
        Gemm(rng, 70, 100, 130, threads=2, c_zp=5, b_rows_n=True),
        Gemm(rng, 70, 100, 130, threads=2, epilogue=DEQUANT, per_row=True),
        Gemm(rng, 3, 200, 90, threads=2),  # few rows: split over panels
    ]
    return cases


def quant_cases(seed: int = 1) -> list:
    rng = np.random.default_rng(seed)
    f32 = np.finfo(np.float32)
    cases = []
    for K in (1, 3, 8, 15, 16, 17, 31, 64, 67):
        x = (rng.standard_normal((6, K)) * rng.uniform(0.01, 50, (6, 1))).astype(np.float32)
        x[1] = np.abs(x[1])
        x[2] = -np.abs(x[2])
        x[3] = 0.0
        cases.append(Quant(x))
    special = np.array([
        [1.0, np.nan, 2.0, 3.0, -1.0, 0.5, 0.25, 4.0, 5.0],
        [1.0, np.inf, 2.0, 3.0, -1.0, 0.5, 0.25, 4.0, 5.0],
        [-np.inf, 1.0, 2.0, 3.0, -1.0, 0.5, 0.25, 4.0, 5.0],
        [f32.max, -f32.max, 0, 1, 2, 3, 4, 5, 6],
        [1e-40, -1e-40, 1e-45, 0, 0, 0, 0, 0, 1e-38],
        [-128.0, 127.0, 0.5, 1.5, 2.5, -0.5, -1.5, 100.5, -99.5],  # scale 1, zero point 0: ties in x / scale
        [-62.5, 192.5, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0],  # scale 1: the zero point's min / scale is a tie
        [3e38, 2e38, 1e38, 0, 0, 0, 0, 0, 0],
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, np.nan],  # NaN in the last lane (a vector tail)
    ], np.float32)
    cases.append(Quant(special))
    return cases


def run_cases(cmd: list[str], isa: str, cases: list, tmp_path: pathlib.Path) -> None:
    fin, fout = tmp_path / "in.bin", tmp_path / "out.bin"
    fin.write_bytes(b"".join(c.encode() for c in cases))
    proc = subprocess.run([*cmd, "run", str(fin), str(fout)], capture_output=True, text=True,
                          env=dict(os.environ, PKT_MAX_ISA=isa))
    assert proc.returncode == 0, proc.stderr
    raw, at = fout.read_bytes(), 0
    for i, c in enumerate(cases):
        n = c.out_bytes()
        c.check(raw[at:at + n], f"{isa} case {i} ({type(c).__name__} {vars(c).get('M')}x{vars(c).get('N')}x"
                                f"{vars(c).get('K')})")
        at += n
    assert at == len(raw)


def check_path(cmd: list[str], isa: str, kernel: str, tmp_path) -> None:
    got = info(cmd, isa)
    if got["qgemm"] != kernel:
        pytest.skip(f"this machine does not run {kernel} under PKT_MAX_ISA={isa} (picks {got['qgemm']})")
    run_cases(cmd, isa, gemm_cases() + quant_cases(), tmp_path)


HOST_PATHS = [("portable", "portable_4x16")]


@pytest.mark.parametrize("isa,kernel", HOST_PATHS)
def test_host_paths(host_harness, isa, kernel, tmp_path):
    check_path(host_harness, isa, kernel, tmp_path)


def test_pt2e_static_reference_within_one_lsb(host_harness, tmp_path):
    """A linear layer through PT2E's reference decomposition (quantize_per_tensor the input, per-channel symmetric
    int8 weights, dequantize -> float linear + bias -> quantize_per_tensor) against the REQUANT epilogue with
    scale = a_scale * w_scale / c_scale and bias round(fbias / (a_scale * w_scale)): within 1 LSB everywhere."""
    rng = np.random.default_rng(5)
    M, N, K = 40, 48, 72
    x = torch.from_numpy(rng.standard_normal((M, K)).astype(np.float32))
    w = torch.from_numpy((rng.standard_normal((N, K)) * 0.1).astype(np.float32))
    b = torch.from_numpy((rng.standard_normal(N) * 0.2).astype(np.float32))
    a_s, a_z = qd.choose_qparams.tensor(x, -128, 127, float(EPS), torch.int8)
    qx = qd.quantize_per_tensor.tensor(x, a_s, a_z, -128, 127, torch.int8)
    w_s = (w.abs().amax(1) / 127.0).to(torch.float32)
    qw = qd.quantize_per_channel(w, w_s, torch.zeros(N, dtype=torch.int64), 0, -127, 127, torch.int8)
    y = torch.nn.functional.linear(qd.dequantize_per_tensor.tensor(qx, a_s, a_z, -128, 127, torch.int8),
                                   qd.dequantize_per_channel(qw, w_s, torch.zeros(N, dtype=torch.int64), 0, -127, 127,
                                                             torch.int8), b)
    c_s, c_z = qd.choose_qparams.tensor(y, -128, 127, float(EPS), torch.int8)
    want = qd.quantize_per_tensor.tensor(y, c_s, c_z, -128, 127, torch.int8).numpy()
    a_scale, c_scale = np.float32(a_s.item()), np.float32(c_s.item())
    ws = w_s.numpy()
    case = Gemm(rng, M, N, K, b_rows_n=True, zp=[int(a_z.item())], c_zp=int(c_z.item()), pad=(0, 0))
    case.A, case.B = qx.numpy(), np.ascontiguousarray(qw.numpy().T)
    case.bias = np.rint(b.numpy() / (a_scale * ws)).astype(np.int32)
    case.scale = (a_scale * ws / c_scale).astype(np.float32)
    fin, fout = tmp_path / "in.bin", tmp_path / "out.bin"
    fin.write_bytes(case.encode())
    subprocess.run([*host_harness, "run", str(fin), str(fout)], check=True)
    got = np.frombuffer(fout.read_bytes(), np.int8).reshape(M, N)
    diff = np.abs(got.astype(np.int32) - want.astype(np.int32))
    assert diff.max() <= 1, f"PT2E reference differs by {diff.max()} LSB"
    assert (diff == 0).mean() > 0.97  # off by one only where the float sums straddle a rounding boundary
