"""The int8 elementwise and pooling kernels (compute/qelem: qbinary, quantize, dequantize, qconcat's
requantization, qmax_pool2d; and qavg_pool2d's sums) bit-exactly against a NumPy reference of the kernels' float32
arithmetic, on every x86 path this host runs (PKT_MAX_ISA caps the session's ISA config), with 1 and 2 threads.

The reference takes each instruction's own inputs from the runtime (run_capture): qbinary dequantizes each input,
(float32(q - zp) * float32(scale)), adds or multiplies in float32, multiplies by float32(1 / out_scale), rounds half
to even (NaN as 0) and clamps; quantize rounds float32(x) * float32(1 / scale) the same way; max pooling is the
max of the window cells inside the input. Shapes leave vector tails (odd lengths), broadcast per channel, per
row, a scalar, either operand; large tensors run in several blocks (split across threads)."""
from __future__ import annotations

import struct

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from pockettorch.runtime.module import load

from quant_support import export_int8

ISAS = ("avx512", "avx2", "portable")


def _q(v: np.ndarray, inv: float, oz: int, lo: int, hi: int) -> np.ndarray:
    with np.errstate(all="ignore"):
        v = (v.astype(np.float32) * np.float32(inv)).astype(np.float32)
    v = np.where(np.isnan(v), np.float32(0), v)
    v = np.clip(v, -4e9, 4e9)
    return np.clip(np.rint(v) + oz, lo, hi).astype(np.int8)


def _dq(x: np.ndarray, scale: float, zp: int) -> np.ndarray:
    return (x.astype(np.int32) - zp).astype(np.float32) * np.float32(scale)


def _inv(scale: float) -> float:
    with np.errstate(over="ignore"):
        return float(np.float32(1.0 / scale))


def _avg_pool(p, x: np.ndarray, out_shape) -> np.ndarray:
    """qavg_pool2d's own arithmetic: the int64 sum of (x - zp) over the window's cells inside the input, times
    float32(in_scale) over float32(count) (the divisor, or the cells with or without padding), requantized."""
    H, W = x.shape[2:]
    kh, kw, sh, sw, ph, pw = (p[k] for k in ("kernel_h", "kernel_w", "stride_h", "stride_w", "pad_h", "pad_w"))
    xs = x.astype(np.int64) - p["in_zp"]
    mean = np.zeros(out_shape, np.float32)
    for oy in range(out_shape[2]):
        for ox in range(out_shape[3]):
            y0, x0 = oy * sh - ph, ox * sw - pw
            y1, x1 = min(y0 + kh, H + ph), min(x0 + kw, W + pw)
            padded = (y1 - y0) * (x1 - x0)
            y0, x0, y1, x1 = max(y0, 0), max(x0, 0), min(y1, H), min(x1, W)
            s = xs[:, :, y0:y1, x0:x1].sum((2, 3)).astype(np.float32)
            count = p["divisor"] or (padded if p["count_include_pad"] else (y1 - y0) * (x1 - x0))
            mean[:, :, oy, ox] = s * np.float32(p["in_scale"]) / np.float32(count)
    return _q(mean, _inv(p["out_scale"]), p["out_zp"], -128, 127)


def _reference(node, ins: list[np.ndarray], out_shape) -> np.ndarray:
    p = node.params
    if node.op == "qbinary":
        fa, fb = _dq(ins[0], p["a_scale"], p["a_zp"]), _dq(ins[1], p["b_scale"], p["b_zp"])
        with np.errstate(all="ignore"):
            s = (fa * fb if p["kind"] == 2 else fa + fb).astype(np.float32)
        return _q(np.broadcast_to(s, out_shape), _inv(p["out_scale"]), p["out_zp"], p["out_min"], p["out_max"])
    if node.op == "quantize":
        return _q(ins[0], _inv(p["scale"]), p["zp"], p["qmin"], p["qmax"])
    if node.op == "dequantize":
        return _dq(ins[0], p["scale"], p["zp"])
    if node.op == "qmax_pool2d":
        x = torch.from_numpy(ins[0].astype(np.float32))
        k, s = (p["kernel_h"], p["kernel_w"]), (p["stride_h"], p["stride_w"])
        y = F.max_pool2d(x, k, s, (p["pad_h"], p["pad_w"]), (p["dil_h"], p["dil_w"]), ceil_mode=True)
        return y[:, :, :out_shape[2], :out_shape[3]].numpy().astype(np.int8)  # ceil or floor mode
    if node.op == "qavg_pool2d":
        return _avg_pool(p, ins[0], out_shape)
    if node.op == "qconcat":
        parts, qp = [], p["qparams"]
        for i, x in enumerate(ins):
            scale, zp = struct.unpack("<d", struct.pack("<q", qp[2 * i]))[0], qp[2 * i + 1]
            same = scale == p["out_scale"] and zp == p["out_zp"]
            parts.append(x if same else _q(_dq(x, scale, zp), _inv(p["out_scale"]), p["out_zp"], -128, 127))
        return np.concatenate(parts, p["axis"])
    raise AssertionError(node.op)


OPS = ("qbinary", "quantize", "dequantize", "qmax_pool2d", "qavg_pool2d", "qconcat")


def _check(program, inputs, isa, monkeypatch, threads=1) -> dict[str, int]:
    monkeypatch.setenv("PKT_MAX_ISA", isa)
    arrays = [t.numpy() for t in inputs]
    with load(program.to_bytes(), num_threads=threads) as module:
        _, per_instruction = module.run_capture(arrays)
    values = {id(t): a for t, a in zip(program.graph.inputs, arrays)}
    for node, outs in zip(program.graph.nodes, per_instruction):
        values.update({id(t): v for t, v in zip(node.outputs, outs)})
    checked: dict[str, int] = {}
    for i, (node, outs) in enumerate(zip(program.graph.nodes, per_instruction)):
        if node.op not in OPS:
            continue
        ins = [t.data if t.data is not None else values[id(t)] for t in node.inputs]
        want, got = _reference(node, ins, outs[0].shape), outs[0]
        same = (got.view(np.int32) == want.view(np.int32)) if got.dtype == np.float32 else got == want
        where = np.argwhere(~same)[:3].tolist()
        assert same.all(), f"{isa} x{threads} instruction {i} {node.op} ({getattr(node, 'source', '')}) " \
                           f"{node.params}: {(~same).sum()} of {same.size} differ, first at {where}"
        checked[node.op] = checked.get(node.op, 0) + 1
    return checked


class Binary(nn.Module):
    """Same shapes, per-channel and per-row broadcasts of either operand, a scalar, add + ReLU, mul."""

    def __init__(self, c):
        super().__init__()
        self.c = nn.Conv2d(c, c, 1)

    def forward(self, x, ch, row):
        a = self.c(x)
        s = F.relu(a + x)
        m = s * ch  # ch [1, C, 1, 1]
        r = row + m  # row [1, 1, 1, W]: a broadcast, the rows of b step
        u = a * a[:, :1, :1, :1]  # a scalar
        return torch.cat([(r + a).flatten(1), u.flatten(1), (ch * u).flatten(1)], 1)


class Pools(nn.Module):
    """Max: the resnet stem's 3x3 stride 2 pad 1, 2x2 stride 2, 3x3 stride 1, ceil mode, dilation, a (3, 2) window;
    average: padding counted or not, ceil mode, the global average."""

    def forward(self, x):
        outs = [F.max_pool2d(x, 3, 2, 1), F.max_pool2d(x, 2, 2), F.max_pool2d(x, 3, 1, 1),
                F.max_pool2d(x, 3, 2, ceil_mode=True), F.max_pool2d(x, 3, 1, 1, dilation=2),
                F.max_pool2d(x, (3, 2), (2, 1), (1, 1)), F.avg_pool2d(x, 3, 2, 1),
                F.avg_pool2d(x, 2, ceil_mode=True, count_include_pad=False), F.adaptive_avg_pool2d(x, 1)]
        return torch.cat([o.flatten(1) for o in outs], 1)


@pytest.fixture(scope="module")
def programs():
    torch.manual_seed(0)
    out = {}
    for name, model, shapes in (
            ("binary", Binary(5), [(1, 5, 9, 37), (1, 5, 1, 1), (1, 1, 1, 37)]),
            ("binary_large", Binary(3), [(2, 3, 67, 131), (1, 3, 1, 1), (1, 1, 1, 131)]),
            ("pools", Pools(), [(2, 3, 17, 23)]),
            ("pools_wide", Pools(), [(1, 2, 5, 2501)]),
            ("pools_large", Pools(), [(1, 8, 70, 113)])):
        x = tuple(torch.randn(s) for s in shapes)
        out[name] = (export_int8(model.eval(), x), x)
    return out


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("name", ["binary", "binary_large", "pools", "pools_wide", "pools_large"])
def test_bit_exact_per_isa(programs, name, isa, monkeypatch):
    program, x = programs[name]
    op, expected = ("qbinary", 6) if name.startswith("binary") else ("qmax_pool2d", 6)
    for threads in (1, 2):
        checked = _check(program, x, isa, monkeypatch, threads)
        assert checked[op] == expected and checked.get("qavg_pool2d", 0) == (3 if op == "qmax_pool2d" else 0), checked
        assert checked["quantize"] >= 1 and checked["dequantize"] >= 1 and checked["qconcat"] == 1, checked


@pytest.mark.parametrize("isa", ISAS)
def test_quantize_nan_inf_and_extremes(programs, isa, monkeypatch):
    """NaN (to the zero point), +-inf and huge values (to the clamps), halves (to even), odd lengths."""
    program, (x, ch, row) = programs["binary"]
    x = x.clone()
    flat = x.view(-1)
    special = torch.tensor([float("nan"), float("inf"), -float("inf"), 3e38, -3e38, 1e-45, -0.0])
    flat[:special.numel()] = special
    flat[100:300:7] = float("nan")
    scale = next(n for n in program.graph.nodes if n.op == "quantize").params["scale"]
    flat[300:340] = (torch.arange(40) - 20.5) * scale  # about half-way points
    assert _check(program, (x, ch, row), isa, monkeypatch)["quantize"] >= 1


@pytest.mark.parametrize("isa", ISAS)
def test_edited_qparams_keep_their_bytes(programs, isa, monkeypatch):
    """Zero points away from 0, clamps that are not the full range (a fused ReLU6-like [zp, zp + 40]), an output
    scale so small its inverse is infinite (the portable row's NaN handling), a huge input scale."""
    program, x = programs["binary"]
    nodes = [n for n in program.graph.nodes if n.op == "qbinary"]
    saved = [dict(n.params) for n in nodes]
    try:
        for i, n in enumerate(nodes):
            n.params.update(a_zp=17 - i, b_zp=-9 + 3 * i, out_zp=5 * i - 7)
            n.params.update(out_min=n.params["out_zp"], out_max=n.params["out_zp"] + 40)
        nodes[0].params["out_scale"] = 1e-40
        nodes[1].params["a_scale"] = 1e29
        program._bytes = None
        assert _check(program, x, isa, monkeypatch)["qbinary"] == len(nodes)
    finally:
        for n, p in zip(nodes, saved):
            n.params = p
        program._bytes = None


def test_two_threads_match_one(programs, monkeypatch):
    program, x = programs["binary_large"]
    outs = []
    for threads in (1, 2):
        with load(program.to_bytes(), num_threads=threads) as module:
            outs.append(module.run_capture([t.numpy() for t in x])[1])
    for a, b in zip(*outs):
        for u, v in zip(a, b):
            assert np.array_equal(u.view(np.uint8), v.view(np.uint8))
