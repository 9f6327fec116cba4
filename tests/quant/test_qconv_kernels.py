"""qconv2d's kernels bit-exactly against an integer reference, on every x86 path this host runs (PKT_MAX_ISA caps the
session's ISA config): the depthwise row kernels (compute/qdw: the x86 pair kernel, or the AVX512_VNNI quad kernel,
for stride 1/2 and the generic phase kernel for other strides and dilations, portable C), and the GEMM path with the
weights as A and the activations packed per call as B (1x1 stride 1 read in place, im2col otherwise; every qgemm
micro-kernel, the kr 4 row packer).

The reference takes each qconv2d instruction's own int8 input from the runtime (run_capture) and computes what the
kernel always computed: acc = sum (x - in_zp) * w + round_half_even(bias / (in_scale * w_scale)) (int32: the GEMM's
sums wrap, the depthwise int64 ones do not), y = clamp(rint(float32(acc) * float32(in_scale * w_scale / out_scale))
+ out_zp, out_min, out_max). A bias edited to 1e30 saturates the int32 bias: depthwise channels then take the int64
path (the row kernels' int32 sums would wrap), GEMM channels wrap as before."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from pockettorch.runtime.module import load

from quant_support import export_int8

# PKT_MAX_ISA values: AVX-512 with VNNI (avx512vnni GEMM, kr 4 packer; depthwise quad kernel), AVX-512 / AVX2
# without VNNI (avx2 GEMM, portable packer; depthwise pair kernel), portable (C).
ISAS = ("avx512", "avx512:", "avx2:", "portable")


class DepthwiseNet(nn.Module):
    """Depthwise: 3x3 stride 1 and 2 (odd and even sizes), 5x5 stride 2, dilation 2, stride 3 (the generic kernel),
    unpadded, a 3x1 window, with ReLU6 clamps in between."""

    def __init__(self, c=6):
        super().__init__()
        self.convs = nn.ModuleList([
            nn.Conv2d(c, c, 3, 1, 1, groups=c), nn.Conv2d(c, c, 3, 2, 1, groups=c), nn.Conv2d(c, c, 5, 2, 2, groups=c),
            nn.Conv2d(c, c, 3, 1, 2, dilation=2, groups=c), nn.Conv2d(c, c, 3, 3, 1, groups=c),
            nn.Conv2d(c, c, 3, 1, 0, groups=c), nn.Conv2d(c, c, (3, 1), (1, 2), (1, 0), groups=c, bias=False)])

    def forward(self, x):
        outs = []
        for i, conv in enumerate(self.convs):
            y = conv(x)
            outs.append((F.relu6(y) if i % 2 else y).flatten(1))
        return torch.cat(outs, 1)


class DepthwiseWideNet(nn.Module):
    """Depthwise on wider rows (the x86 kernels' full vectors, row ends and narrow rows): 3x3 stride 1 and 2 with
    padding 0, 1, 2, 5x5 and 7x7 (two quads a row on AVX512_VNNI) stride 1 and 2, a 4x4 window, stride 2 along H
    only, a 1x3 window."""

    def __init__(self, c=4):
        super().__init__()
        self.convs = nn.ModuleList([
            nn.Conv2d(c, c, 3, 1, 1, groups=c), nn.Conv2d(c, c, 3, 2, 1, groups=c), nn.Conv2d(c, c, 3, 1, 2, groups=c),
            nn.Conv2d(c, c, 3, 2, 0, groups=c), nn.Conv2d(c, c, 5, 1, 2, groups=c), nn.Conv2d(c, c, 5, 2, 2, groups=c),
            nn.Conv2d(c, c, 7, 1, 3, groups=c), nn.Conv2d(c, c, 7, 2, 1, groups=c), nn.Conv2d(c, c, 4, 2, 1, groups=c),
            nn.Conv2d(c, c, 3, (2, 1), 1, groups=c), nn.Conv2d(c, c, (1, 3), 1, (0, 1), groups=c)])

    def forward(self, x):
        outs = [conv(x) for conv in self.convs]
        return torch.cat([(F.relu6(y) if i % 3 == 1 else y).flatten(1) for i, y in enumerate(outs)], 1)


class DenseNet(nn.Module):
    """The GEMM path: 1x1 stride 1 (read in place) and stride 2, 3x3 stride 1 and 2, 7x7 stride 2 from 3 channels,
    grouped, dilated, a 1x3 window with stride (1, 2); more than 32 output channels (several GEMM row blocks)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 16, 7, 2, 3)
        self.b = nn.Conv2d(16, 40, 1)
        self.c = nn.Conv2d(40, 24, 3, 1, 1)
        self.d = nn.Conv2d(24, 24, 3, 2, 1, groups=2)
        self.e = nn.Conv2d(24, 20, 1, 2, bias=False)
        self.f = nn.Conv2d(20, 20, 3, 1, 2, dilation=2)
        self.g = nn.Conv2d(20, 8, (1, 3), (1, 2))

    def forward(self, x):
        y = F.relu(self.a(x))
        y = F.relu6(self.b(y))
        y = self.c(y)
        y = F.relu(self.d(y))
        y = self.e(y)
        return self.g(F.relu6(self.f(y)))


class GemmShapesNet(nn.Module):
    """The AVX-512 VNNI convolution GEMM's edges: stride 2 with and without padding on odd and even sizes (the vector
    gather), K = 27 and 147 (not a multiple of 4), 12 and 20 output channels (not a multiple of the 8-row tile),
    K = 576 over 575 columns (two column blocks, the last one ragged), a 1x1 conv over 575 columns (read in place,
    a ragged 16-column chunk), 1x1 stride 2, an input zero point of -128 (all-positive input, ReLU), and 56 = 48 + 8
    columns at K = 1600 (the last narrow panel by column products; stride 3)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 64, 3, 2, 1)
        self.c = nn.Conv2d(64, 12, 3, 1, 1)
        self.d = nn.Conv2d(12, 10, 1, 2)
        self.e = nn.Conv2d(12, 20, 5, 2, 2)
        self.f = nn.Conv2d(12, 16, 1)
        self.g = nn.Conv2d(3, 8, (3, 5), 2, (0, 2))
        self.h = nn.Conv2d(3, 12, 7, 2, 3, bias=False)
        self.i = nn.Conv2d(64, 20, 5, 3, 1)

    def forward(self, x):
        r = F.relu(self.a(x))
        y = self.c(r)
        return torch.cat([self.d(y).flatten(1), self.e(y).flatten(1), self.f(y).flatten(1), self.g(x).flatten(1),
                          self.h(x).flatten(1), self.i(r).flatten(1)], 1)


class HwcNet(nn.Module):
    """Convs with 16k channels a group, which AVX-512 VNNI sessions run from a padded HWC copy of the input: 32, 48
    (a partial 64-byte load), 80 (64 + 16) and 16 channels a group (3 groups), stride 2, a 1x3 window with stride
    (2, 1), dilation 2, planes wider than 16 with ragged tails, and a 7x7 plane at K = 2304 (its last narrow panel
    by column products); and 6 channels a group with a dilated width, which still gathers im2col rows."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(32, 48, 3, 1, 1)
        self.h = nn.Conv2d(48, 16, 3, 1, 2, dilation=(1, 2), groups=8)
        self.b = nn.Conv2d(48, 16, 3, 2, 1)
        self.c = nn.Conv2d(48, 24, 3, 1, 2, dilation=2, groups=3)
        self.d = nn.Conv2d(32, 80, (1, 3), (2, 1), (0, 1))
        self.e = nn.Conv2d(80, 72, 3, 1, 1, bias=False)
        self.pool = nn.AdaptiveAvgPool2d(7)
        self.f = nn.Conv2d(80, 256, 1)
        self.g = nn.Conv2d(256, 40, 3, 1, 1)

    def forward(self, x):
        a = F.relu(self.a(x))
        d = self.d(x)
        g = self.g(F.relu(self.f(self.pool(d))))
        return torch.cat([self.b(a).flatten(1), self.c(a).flatten(1), self.e(d).flatten(1), g.flatten(1),
                          self.h(a).flatten(1)], 1)


def _reference(node, x: np.ndarray) -> np.ndarray:
    p = node.params
    w = node.inputs[1].data.astype(np.float64)
    unit = p["in_scale"] * node.inputs[2].data.astype(np.float64)
    scale = (unit / p["out_scale"]).astype(np.float32)
    bias = node.inputs[3].data.astype(np.float64) if len(node.inputs) > 3 else np.zeros(w.shape[0])
    ibias = np.clip(np.rint(bias / unit), -2.0 ** 31, 2.0 ** 31 - 1).astype(np.int64)
    acc = F.conv2d(torch.from_numpy(x.astype(np.float64) - p["in_zp"]), torch.from_numpy(w), None,
                   (p["stride_h"], p["stride_w"]), (p["pad_h"], p["pad_w"]), (p["dil_h"], p["dil_w"]), p["groups"])
    acc = acc.numpy().astype(np.int64) + ibias[None, :, None, None]  # exact: |sums| < 2^53
    if not (w.shape[1] == 1 and p["groups"] == w.shape[0]):  # the GEMM's int32 sums wrap
        acc = acc.astype(np.int32).astype(np.int64)
    f = acc.astype(np.float32) * scale[None, :, None, None]
    return np.clip(np.rint(f) + p["out_zp"], p["out_min"], p["out_max"]).astype(np.int8)


def _check(program, inputs, isa, monkeypatch, threads=1) -> int:
    monkeypatch.setenv("PKT_MAX_ISA", isa)
    with load(program.to_bytes(), num_threads=threads) as module:
        _, per_instruction = module.run_capture([t.numpy() for t in inputs])
    produced = {id(t): v for node, outs in zip(program.graph.nodes, per_instruction) for t, v in zip(node.outputs, outs)}
    checked = 0
    for i, (node, outs) in enumerate(zip(program.graph.nodes, per_instruction)):
        if node.op != "qconv2d":
            continue
        want = _reference(node, produced[id(node.inputs[0])])
        got = outs[0]
        bad = got != want
        assert not bad.any(), f"{isa} instruction {i} ({getattr(node, 'source', '')}): {bad.sum()} of {bad.size} differ, " \
                              f"first at {np.argwhere(bad)[:3].tolist()}"
        checked += 1
    return checked


@pytest.fixture(scope="module")
def programs():
    torch.manual_seed(0)
    out = {}
    for name, model, shape in (("depthwise", DepthwiseNet(), (2, 6, 17, 22)), ("dense", DenseNet(), (2, 3, 29, 34)),
                               ("depthwise_narrow", DepthwiseNet(3), (1, 3, 9, 7)),
                               ("depthwise_wide", DepthwiseWideNet(), (1, 4, 13, 131)),
                               ("depthwise_even", DepthwiseWideNet(), (2, 4, 16, 64)),
                               ("gemm_shapes", GemmShapesNet(), (1, 3, 50, 46)), ("hwc", HwcNet(), (2, 32, 23, 37))):
        x = (torch.rand(shape) * 4,) if name == "gemm_shapes" else (torch.randn(shape),)
        out[name] = (export_int8(model.eval(), x), x)
    return out


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("name", ["depthwise", "dense", "depthwise_narrow", "depthwise_wide", "depthwise_even",
                                  "gemm_shapes", "hwc"])
def test_qconv2d_bit_exact_per_isa(programs, name, isa, monkeypatch):
    program, x = programs[name]
    expected = {"depthwise": 7, "dense": 7, "depthwise_narrow": 7, "depthwise_wide": 11, "depthwise_even": 11,
                "gemm_shapes": 8, "hwc": 8}[name]
    assert _check(program, x, isa, monkeypatch) == expected


@pytest.mark.parametrize("isa", ["avx512", "avx2:"])
def test_qconv2d_gemm_two_threads(programs, isa, monkeypatch):
    """Two threads: the columns split (each thread packs its own blocks) or, for few columns, the row blocks; the
    depthwise planes split between the threads, each writing its own."""
    for name, count in (("dense", 7), ("gemm_shapes", 8), ("hwc", 8), ("depthwise", 7), ("depthwise_even", 11)):
        program, x = programs[name]
        assert _check(program, x, isa, monkeypatch, threads=2) == count
    assert any(n.params["in_zp"] == -128 for n in programs["gemm_shapes"][0].graph.nodes if n.op == "qconv2d")


@pytest.mark.parametrize("isa", ISAS)
def test_a_bias_beyond_int32_keeps_its_path(programs, isa, monkeypatch):
    """One channel's bias 1e30 (int32 bias saturated): the depthwise conv's int64 loop for that channel, the GEMM's
    wrapping sums for a dense one, both as the reference."""
    for name in ("depthwise", "dense"):
        program, x = programs[name]
        edited = [n for n in program.graph.nodes if n.op == "qconv2d" and len(n.inputs) > 3][:2]
        saved = [n.inputs[3].data for n in edited]
        try:
            for n in edited:
                b = n.inputs[3].data.copy()
                b[1] = 1e30
                n.inputs[3].data = b
            program._bytes = None
            _check(program, x, isa, monkeypatch)
        finally:
            for n, d in zip(edited, saved):
                n.inputs[3].data = d
            program._bytes = None
