"""Convolution, pooling, padding and resizing: export -> .ptm -> C runtime, compared with eager torch."""
from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import pockettorch
from pockettorch import errors
from pockettorch.exporter.api import Program
from pockettorch.exporter.ir import Graph
from pockettorch.exporter.lower import LoweringContext
from pockettorch.exporter.lowering.conv import emit_index_as_pad, match_pad_index
from pockettorch.exporter.memory_plan import plan_memory
from pockettorch.runtime.op_table import enum_value


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class Multi(nn.Module):
    """Several small cases in one export (one torch.export per test keeps the file fast)."""

    def __init__(self, *modules):
        super().__init__()
        self.cases = nn.ModuleList(modules)

    def forward(self, *xs):
        return tuple(m(x) for m, x in zip(self.cases, xs))


def _x(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g)


def _seeded(module, seed=0):
    torch.manual_seed(seed)
    return module


# ---------------------------------------------------------------- conv2d
# (C, O, kernel, stride, padding, dilation, groups, bias, H, W)
CONV2D_CASES = [
    (3, 4, 1, 1, 0, 1, 1, True, 5, 7),       # pointwise
    (8, 5, 1, 2, 0, 1, 1, False, 9, 9),      # pointwise strided
    (3, 6, 3, 1, 1, 1, 1, True, 8, 8),
    (4, 5, 3, 2, 1, 1, 1, False, 11, 9),     # odd sizes, stride 2
    (2, 3, 5, 1, 3, 1, 1, True, 6, 7),       # padding > kernel / 2
    (3, 4, 7, 2, 3, 1, 1, True, 15, 13),     # resnet stem shape
    (4, 4, 3, 1, 2, 2, 1, True, 9, 10),      # dilation
    (4, 6, 3, 1, 1, 1, 2, True, 7, 7),       # groups 2
    (6, 6, 3, 1, 1, 1, 6, True, 9, 8),       # depthwise
    (6, 6, 3, 2, 1, 1, 6, False, 10, 11),    # depthwise strided
    (4, 8, 5, 1, 2, 2, 4, True, 12, 12),     # depthwise multiplier 2, dilation
    (3, 5, 2, 3, 0, 1, 1, True, 10, 11),     # stride > kernel
    (1, 7, 3, 1, 1, 1, 1, True, 6, 6),       # single input channel (direct path)
    (17, 9, 3, 1, 1, 1, 1, True, 5, 6),      # channels not multiple of blocks
    (5, 3, 1, 1, 0, 1, 1, True, 1, 1),       # 1x1 image
]


ISAS = ["portable", "avx2", "avx512"]
_ISA_RANK = {"portable": 0, "neon": 1, "avx2": 2, "avx512": 3}


_PROBE: list = []


@pytest.fixture(params=ISAS)
def isa(request, monkeypatch):
    """Run the test on one SIMD implementation (PKT_MAX_ISA caps the choice at session creation)."""
    monkeypatch.delenv("PKT_MAX_ISA", raising=False)
    if not _PROBE:
        _PROBE.append(pockettorch.export(_seeded(nn.Conv2d(2, 2, 1)), (_x(1, 2, 2, 2),)).to_bytes())
    best = pockettorch.load(_PROBE[0]).isa
    if _ISA_RANK.get(best, 0) < _ISA_RANK[request.param]:
        pytest.skip(f"this CPU has no {request.param}")
    monkeypatch.setenv("PKT_MAX_ISA", request.param)
    assert pockettorch.load(_PROBE[0]).isa == request.param
    return request.param


@pytest.mark.parametrize("case", CONV2D_CASES, ids=lambda c: "C{}O{}k{}s{}p{}d{}g{}b{}_{}x{}".format(*c))
def test_conv2d(check_eager, case):
    C, O, k, s, p, d, g, bias, H, W = case
    m = _seeded(nn.Conv2d(C, O, k, stride=s, padding=p, dilation=d, groups=g, bias=bias))
    check_eager(m, (_x(2, C, H, W),))


def test_conv2d_cases_isas(check_eager, isa):
    # every CONV2D_CASES shape in one export (output i is case i), on each SIMD implementation
    ms, xs = [], []
    for i, (C, O, k, s, p, d, g, bias, H, W) in enumerate(CONV2D_CASES):
        torch.manual_seed(i)
        ms.append(nn.Conv2d(C, O, k, stride=s, padding=p, dilation=d, groups=g, bias=bias))
        xs.append(_x(2, C, H, W, seed=i))
    check_eager(Multi(*ms), tuple(xs))


# Shapes that reach every part of the fast paths: several panels and row blocks with remainders,
# K slices (K > 256), depthwise 3x3/5x5/7x7 at strides 1 and 2 with rows wider than a vector,
# channel multipliers, and row bands (fewer planes than threads).
FAST_CASES = [
    # (C, O, kernel, stride, padding, groups, H, W, threads that reach the split)
    (40, 30, 1, 1, 0, 1, 9, 11, 1),      # 1x1: 99 pixels = 3 full panels + tail, 30 rows
    (300, 14, 1, 1, 0, 1, 5, 7, 2),      # 1x1 with K slices, threads split tiles
    (16, 100, 1, 1, 0, 1, 13, 27, 2),    # 1x1 with K <= 32: row mode, row and panel tails, split rows
    (24, 30, 1, 1, 0, 1, 9, 11, 1),      # ... too few rows to split: row mode at 1 thread only
    (24, 60, 1, 1, 0, 1, 5, 7, 2),       # 1x1 with more channels than pixels: threads split the rows
    (33, 25, 3, 1, 1, 1, 10, 9, 2),      # 3x3: K = 297 > one slice; rows of 9: panels gather from a padded plane
    (6, 10, 3, 2, 1, 1, 13, 11, 2),      # ... strided, 7x6 outputs: windows every other padded column and row
    (8, 16, 3, 2, 1, 1, 37, 35, 2),      # strided im2col with segments across output rows
    (3, 13, 7, 2, 3, 1, 40, 36, 1),      # stem-like 7x7 stride 2: rows split into column phases once
    (5, 7, 4, 2, 2, 1, 23, 70, 2),       # even kernel stride 2, input rows longer than a phase buffer
    (24, 24, 3, 1, 1, 24, 37, 40, 2),    # depthwise 3x3: rows of 40 (2.5 AVX-512 vectors)
    (24, 24, 3, 2, 1, 24, 37, 41, 2),    # depthwise 3x3 stride 2, odd sizes
    (16, 16, 5, 1, 2, 16, 21, 35, 1),    # depthwise 5x5
    (16, 16, 5, 2, 2, 16, 22, 33, 2),    # depthwise 5x5 stride 2
    (8, 8, 7, 1, 3, 8, 19, 23, 1),       # depthwise 7x7
    (8, 8, 7, 2, 3, 8, 20, 19, 2),       # depthwise 7x7 stride 2
    (2, 6, 3, 1, 1, 2, 30, 20, 2),       # depthwise multiplier 3, few planes -> row bands
    (1, 1, 3, 1, 1, 1, 33, 18, 2),       # one plane split into row bands
]


@pytest.mark.parametrize("threads", [1, 2])
def test_conv2d_fast_paths(check_eager, isa, threads):
    # every FAST_CASES shape in one export (output i is case i), with a fused ReLU6
    ms, xs = [], []
    for i, (C, O, k, s, p, g, H, W, _) in enumerate(FAST_CASES):
        torch.manual_seed(i)
        ms.append(nn.Sequential(nn.Conv2d(C, O, k, stride=s, padding=p, groups=g), nn.ReLU6()))
        xs.append(_x(1, C, H, W, seed=i))
    check_eager(Multi(*ms), tuple(xs), threads=threads, tol=2e-4)


# How threads share a GEMM conv, and the loop orders that go with it (runtime/kernels/conv2d.c,
# runtime/compute/conv/conv_ksplit.c). Each case reaches its path at 2 threads (and at 1, the plain path):
#  - windowed convs on rows of 32+ output pixels build the im2col of one output row at a time and take
#    whole output rows per thread: strides 1 and 2, padding wider than the kernel's half, dilation, K in
#    two slices, an even kernel at stride 2, a tail panel of a few pixels;
#  - 1x1 convs reducing 3x+ channels (384+) split K, the input channels, and add the partial sums by pixels:
#    bias or none, a tail panel, the channel count not a multiple of the threads, an activation after the sum;
#  - 1x1 convs with K <= 32 on images of 2048+ pixels take row blocks within a thread's pixels;
#  - strided 1x1 convs with more output channels than pixels split the panels, not the row blocks.
SPLIT_CASES = [
    # (C, O, kernel, stride, padding, dilation, bias, H, W, activation)
    (3, 32, 3, 2, 1, 1, True, 64, 70, nn.ReLU6),      # mobilenet stem: 35 outputs a row, tail of 3
    (3, 8, 7, 2, 3, 1, False, 30, 70, nn.Identity),   # resnet stem: 7 columns in even/odd pairs
    (4, 10, 5, 1, 3, 1, True, 9, 40, nn.ReLU),        # stride 1, padding 3 > 5 // 2
    (3, 6, 3, 1, 2, 2, True, 12, 36, nn.Identity),    # dilation 2
    (12, 20, 5, 1, 2, 1, True, 6, 36, nn.ReLU6),      # K = 300: two slices
    (5, 7, 4, 2, 2, 1, True, 9, 66, nn.Identity),     # even kernel, stride 2
    (384, 64, 1, 1, 0, 1, True, 14, 14, nn.Identity), # mobilenet projection: K split
    (400, 50, 1, 1, 0, 1, False, 7, 9, nn.Hardswish), # ... no bias, 63 pixels, an activation after the sum
    (390, 24, 1, 1, 0, 1, True, 5, 5, nn.ReLU6),      # ... 25 pixels: one panel, packed
    (24, 40, 1, 1, 0, 1, True, 47, 49, nn.ReLU6),     # 1x1, K <= 32: row blocks within a thread's pixels
    (64, 96, 1, 2, 0, 1, True, 14, 13, nn.Identity),  # 1x1 stride 2, more channels than pixels: panels split
]


@pytest.mark.parametrize("threads", [1, 2])
def test_conv2d_thread_splits(check_eager, isa, threads):
    ms, xs = [], []
    for i, (C, O, k, s, p, d, bias, H, W, act) in enumerate(SPLIT_CASES):
        torch.manual_seed(i)
        ms.append(nn.Sequential(nn.Conv2d(C, O, k, stride=s, padding=p, dilation=d, bias=bias), act()))
        xs.append(_x(1, C, H, W, seed=i))
    check_eager(Multi(*ms), tuple(xs), threads=threads, tol=2e-4)


# Depthwise convs whose output rows are as long as the input rows run on flat planes (16 pixels a vector
# across row ends, masked loads at the plane's and the rows' edges): planes narrower than a vector, one
# column wide, kernels taller or wider than their padding, dilation, batch 2 split across the threads,
# planes over one mask table (1024 pixels), and activations applied after the kernel; 3x3 convs with
# padding 1 on rows of 12 or more pixels take a row kernel (AVX-512).
FLAT_DW_CASES = [
    # (C, kernel, padding, dilation, N, H, W, activation)
    (40, 3, 1, 1, 1, 7, 7, nn.ReLU6),          # mobilenet's 7x7 planes: 4 vectors of 16 pixels
    (20, 3, 1, 1, 1, 14, 14, nn.Hardswish),    # 14x14, an activation the kernel does not clamp
    (3, 3, 1, 1, 1, 5, 1, nn.ReLU),            # one-column planes: every left and right tap is padding
    (6, (3, 1), 0, 1, 1, 9, 5, nn.Identity),   # fewer output rows than input rows
    (6, (1, 5), (1, 2), 1, 1, 4, 6, nn.ReLU6), # more output rows: the padded rows hold the bias
    (5, 3, 2, 2, 2, 12, 17, nn.ReLU6),         # dilation 2, batch 2: a thread's planes span two images
    (4, 5, 2, 1, 1, 33, 40, nn.GELU),          # 1320 pixels: two mask tables; 5x5 with a GELU
    # 3x3 padding 1 on rows of 12+ pixels: the row kernel (taps shifted across a row's vectors)
    (6, 3, 1, 1, 2, 9, 16, nn.ReLU6),          # rows of exactly one vector, batch 2
    (5, 3, 1, 1, 1, 6, 17, nn.ReLU),           # 16 + 1: the right tap of pixel 15 from the next vector
    (3, 3, 1, 1, 1, 1, 33, nn.Hardswish),      # one row: both neighbours are padding; an activation after
    (4, 3, 1, 1, 1, 11, 12, nn.Identity),      # the narrowest rows it takes
    # AVX2's 3x3 rows kernel: 8-pixel vectors, the first and the last ones masked at the row's ends, output
    # rows in pairs (odd heights leave one)
    (3, 3, 1, 1, 1, 5, 8, nn.ReLU6),           # exactly one vector, odd height
    (2, 3, 1, 1, 2, 4, 9, nn.Hardtanh),        # 8 + 1: the second vector's right tap is padding; clamp
    (2, 3, 1, 1, 1, 7, 25, nn.SiLU),           # unmasked vectors in the middle; an activation after
    (3, 3, 1, 1, 1, 1, 7, nn.ReLU),            # one row shorter than a vector
    (2, 3, 1, 1, 1, 6, 26, nn.Identity),       # 24 + 2: the last unmasked vector ends one pixel before
]


@pytest.mark.parametrize("threads", [1, 2])
def test_depthwise_flat_planes(check_eager, isa, threads):
    ms, xs = [], []
    for i, (C, k, p, d, N, H, W, act) in enumerate(FLAT_DW_CASES):
        torch.manual_seed(i)
        ms.append(nn.Sequential(nn.Conv2d(C, C, k, padding=p, dilation=d, groups=C), act()))
        xs.append(_x(N, C, H, W, seed=i))
    check_eager(Multi(*ms), tuple(xs), threads=threads, tol=2e-4)


# Depthwise 3x3, stride 2, padding 1 read whole input rows in place (AVX-512): two loads split into even
# and odd columns per output vector. Rows of fewer than a vector, exactly 32 columns (one output vector),
# 33 (a second vector of one pixel reading past the row), odd and even heights (the last output row's
# lower tap is padding), one row, few planes split into row bands across threads, batch 2.
STRIDE2_DW_CASES = [
    # (C, N, H, W, activation)
    (24, 1, 28, 28, nn.ReLU6),     # mobilenet_v2's 28 -> 14
    (5, 2, 9, 7, nn.ReLU),         # rows shorter than a vector, batch 2
    (3, 1, 12, 32, nn.Identity),   # exactly one output vector
    (4, 1, 11, 33, nn.Hardswish),  # 17 output columns; an activation after the kernel
    (2, 1, 1, 40, nn.ReLU6),       # one input row: the rows above and below are padding
    (1, 1, 30, 45, nn.ReLU6),      # one plane: bands of output rows on the threads
    # AVX2: 8 output pixels (16 input columns) a vector, masked where its taps leave the row
    (3, 1, 5, 16, nn.ReLU),        # exactly one output vector
    (2, 1, 6, 17, nn.Hardtanh),    # 9 output columns: the second vector reads one input column
    (2, 2, 7, 48, nn.SiLU),        # unmasked vectors in the middle; an activation after; batch 2
    (3, 1, 4, 15, nn.Identity),    # an odd width: the last right tap is padding
]


@pytest.mark.parametrize("threads", [1, 2])
def test_depthwise_stride2_rows(check_eager, isa, threads):
    ms, xs = [], []
    for i, (C, N, H, W, act) in enumerate(STRIDE2_DW_CASES):
        torch.manual_seed(i)
        ms.append(nn.Sequential(nn.Conv2d(C, C, 3, stride=2, padding=1, groups=C), act()))
        xs.append(_x(N, C, H, W, seed=i))
    check_eager(Multi(*ms), tuple(xs), threads=threads, tol=2e-4)


# Output pixel counts whose last panel of 32 ends 1-4 columns past a vector of 16 (or has only 1-4): the
# micro-kernel computes those columns as rows-by-one products (AVX-512), one slice of K or several, with
# and without bias, activations clamped in the kernel or applied after it.
REMAINDER_CASES = [
    # (C, O, kernel, padding, H, W, bias, activation)
    (20, 14, 3, 1, 7, 7, True, nn.ReLU6),        # 49 pixels: 32 + 16 + 1 (resnet18's layer4)
    (300, 26, 1, 0, 6, 3, False, nn.Identity),  # 18: 16 + 2, K = 300 in two slices
    (8, 13, 3, 1, 1, 19, True, nn.Hardswish),   # 19: 16 + 3, an activation after the kernel
    (16, 24, 1, 0, 4, 5, True, nn.ReLU),        # 20: 16 + 4
    (12, 15, 1, 0, 1, 1, True, nn.ReLU6),       # 1 pixel
    (6, 7, 3, 1, 1, 2, False, nn.GELU),         # 2 pixels
    (280, 30, 1, 0, 6, 6, True, nn.ReLU6),      # 36: 32 + 4, K in two slices (mobilenet's 14x14: 196 = 6*32 + 4)
]


@pytest.mark.parametrize("threads", [1, 2])
def test_conv2d_panel_remainders(check_eager, isa, threads):
    ms, xs = [], []
    for i, (C, O, k, p, H, W, bias, act) in enumerate(REMAINDER_CASES):
        torch.manual_seed(i)
        ms.append(nn.Sequential(nn.Conv2d(C, O, k, padding=p, bias=bias), act()))
        xs.append(_x(1, C, H, W, seed=i))
    check_eager(Multi(*ms), tuple(xs), threads=threads, tol=2e-4)


def test_conv2d_non_constant_weight_isas(check_eager, isa):
    class M(nn.Module):
        def forward(self, x, w):
            return F.conv2d(x, w, padding=1, groups=2)

    check_eager(M(), (_x(1, 6, 9, 8), _x(14, 3, 3, 3, seed=1)), threads=2)


def test_conv2d_rectangular_params(check_eager):
    m = _seeded(nn.Conv2d(4, 6, (3, 5), stride=(2, 1), padding=(1, 3), dilation=(1, 2)))
    check_eager(m, (_x(1, 4, 9, 12),))


def test_conv2d_padding_same(check_eager):
    m = _seeded(nn.Conv2d(3, 4, 4, padding="same"))
    check_eager(m, (_x(1, 3, 7, 8),))


def test_conv2d_banded_large(check_eager):
    # the packed input exceeds the scratch cap, so the kernel processes output pixels in bands
    m = _seeded(nn.Conv2d(64, 8, 5, padding=2))
    check_eager(m, (_x(1, 64, 48, 50),), tol=2e-4)


@pytest.mark.parametrize("groups", [1, 3, 12])
def test_conv2d_two_threads(check_eager, groups):
    m = _seeded(nn.Conv2d(12, 12, 3, stride=1, padding=1, groups=groups))
    check_eager(m, (_x(2, 12, 13, 11),), threads=2)


def test_conv2d_non_constant_weight(check_eager):
    class M(nn.Module):
        def forward(self, x, w):
            return F.conv2d(x, w, padding=1)

    check_eager(M(), (_x(1, 3, 6, 6), _x(4, 3, 3, 3, seed=1)))


def test_conv_bn_relu_fused(check_eager):
    m = _seeded(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()))
    with torch.no_grad():
        m[1].running_mean.uniform_(-1, 1)
        m[1].running_var.uniform_(0.5, 2)
        m[1].weight.uniform_(0.5, 1.5)
        m[1].bias.uniform_(-1, 1)
    program = check_eager(m, (_x(1, 3, 10, 10),))
    hist = program.graph.op_histogram()
    assert hist == {"conv2d": 1}, hist


def test_conv_relu_fused(check_eager):
    m = _seeded(nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.ReLU()))
    program = check_eager(m, (_x(1, 4, 9, 9),))
    assert program.graph.op_histogram() == {"conv2d": 1}


# ---------------------------------------------------------------- fused conv pairs (conv_pw_dw, conv_dw_pw)
def _with_bn(*layers):
    """conv/activation layers with a batch norm after each conv (folded by the exporter)."""
    out = []
    for layer in layers:
        out.append(layer)
        if isinstance(layer, nn.Conv2d):
            out.append(nn.BatchNorm2d(layer.out_channels))
    m = nn.Sequential(*out)
    with torch.no_grad():
        for b in (x for x in m if isinstance(x, nn.BatchNorm2d)):
            b.running_mean.uniform_(-0.5, 0.5)
            b.running_var.uniform_(0.5, 2)
    return m


def _expand_dw(cin, cm, k, s, p, act1=nn.ReLU6, act2=nn.ReLU6):
    """mobilenet's expansion and depthwise conv."""
    return _with_bn(nn.Conv2d(cin, cm, 1), act1(), nn.Conv2d(cm, cm, k, s, p, groups=cm), act2())


def _dw_project(c, o, k, s, p, d=1, act1=nn.ReLU6, act2=nn.Identity):
    """mobilenet's depthwise conv and projection."""
    return _with_bn(nn.Conv2d(c, c, k, s, p, dilation=d, groups=c), act1(), nn.Conv2d(c, o, 1), act2())


def _fuse_any_size(monkeypatch):
    fcp = importlib.import_module("pockettorch.exporter.passes.fuse_conv_pairs")
    monkeypatch.setattr(fcp, "MIN_INTERMEDIATE_BYTES", 0)


@pytest.fixture
def fuse_small(monkeypatch):
    """Fuse intermediates of any size, so small test shapes take the fused kernels."""
    _fuse_any_size(monkeypatch)


PW_DW_CASES = [
    # (C, M, kernel, stride, padding, N, H, W, act1, act2)
    (16, 96, 3, 2, 1, 1, 40, 37, nn.ReLU6, nn.ReLU6),   # mobilenet_v2 block 2, odd width: several bands
    (5, 24, 5, 2, 2, 2, 23, 18, nn.ReLU, nn.Hardswish),  # 5x5, batch 2, an activation applied after the kernel
    (300, 20, 3, 2, 1, 1, 9, 11, nn.ReLU6, nn.ReLU6),    # K > one micro-kernel slice, few rows
    (8, 13, 3, 2, 0, 1, 3, 3, nn.Identity, nn.ReLU6),    # no padding: one output pixel
]
DW_PW_CASES = [
    # (C, O, kernel, stride, padding, dilation, N, H, W, act1, act2)
    (32, 16, 3, 1, 1, 1, 1, 40, 37, nn.ReLU6, nn.Identity),  # mobilenet_v2 block 1, several bands
    (24, 7, 5, 2, 2, 1, 2, 23, 18, nn.ReLU, nn.Hardswish),   # strided 5x5, batch 2, activations after the kernels
    (300, 20, 3, 1, 2, 2, 1, 9, 11, nn.ReLU6, nn.ReLU6),     # dilated; K = C > one micro-kernel slice
    (8, 13, 3, 2, 0, 1, 1, 3, 3, nn.Identity, nn.ReLU6),     # no padding: one output pixel
]


@pytest.mark.parametrize("threads", [1, 2])
def test_conv_pairs_fused_isas(check_eager, isa, threads, fuse_small):
    ms, xs = [], []
    for i, (C, M, k, s, p, N, H, W, a1, a2) in enumerate(PW_DW_CASES):
        torch.manual_seed(i)
        ms.append(_expand_dw(C, M, k, s, p, a1, a2))
        xs.append(_x(N, C, H, W, seed=i))
    for i, (C, O, k, s, p, d, N, H, W, a1, a2) in enumerate(DW_PW_CASES):
        torch.manual_seed(10 + i)
        ms.append(_dw_project(C, O, k, s, p, d, a1, a2))
        xs.append(_x(N, C, H, W, seed=10 + i))
    program = check_eager(Multi(*ms), tuple(xs), threads=threads, tol=2e-4)
    assert program.graph.op_histogram() == {"conv_pw_dw": len(PW_DW_CASES), "conv_dw_pw": len(DW_PW_CASES)}


@pytest.mark.parametrize("module,op", [(_expand_dw(4, 8, 3, 2, 1), "conv_pw_dw"), (_dw_project(4, 8, 3, 1, 1), "conv_dw_pw")])
def test_conv_pair_names_both_layers(fuse_small, module, op):
    (node,) = pockettorch.export(module, (_x(1, 4, 12, 12),)).graph.nodes
    assert node.op == op and "0 (Conv2d)" in node.source and "3 (Conv2d)" in node.source, node.source


@pytest.mark.parametrize("case", ["stride 1", "used twice", "small", "no bias"])
def test_conv_pairs_left_apart(check_eager, case, monkeypatch):
    """Only pairs on an intermediate of >= 1 MiB that nothing else reads are fused, conv_pw_dw only at stride 2."""
    if case != "small":
        _fuse_any_size(monkeypatch)
    x = _x(1, 4, 12, 12)
    if case == "used twice":
        pw, dw, pw2 = _seeded(nn.Conv2d(4, 8, 1)), _seeded(nn.Conv2d(8, 8, 3, 2, 1, groups=8)), nn.Conv2d(8, 3, 1)
        m = Fn(lambda t: (lambda u: (lambda v: (pw2(v), v.sum()))(dw(u)) + (u.sum(),))(pw(t)))  # both read twice
        m.pw, m.dw, m.pw2 = pw, dw, pw2
    elif case == "no bias":
        m = nn.Sequential(nn.Conv2d(4, 8, 1, bias=False), nn.Conv2d(8, 8, 3, 2, 1, groups=8, bias=False),
                          nn.Conv2d(8, 3, 1, bias=False))
    else:
        m = _seeded(_expand_dw(4, 8, 3, 1 if case == "stride 1" else 2, 1))
    program = check_eager(m, (x,))
    assert not {"conv_pw_dw", "conv_dw_pw"} & set(program.graph.op_histogram())


def test_mobilenet_blocks_fused_at_full_size(check_eager):
    """mobilenet_v2's first two blocks at 112x112 are fused by default (1.6 and 4.8 MB intermediates)."""
    m = nn.Sequential(_dw_project(32, 16, 3, 1, 1), _expand_dw(16, 96, 3, 2, 1))
    program = check_eager(_seeded(m), (_x(1, 32, 112, 112),), threads=2, tol=2e-4)
    assert program.graph.op_histogram() == {"conv_dw_pw": 1, "conv_pw_dw": 1}


# ---------------------------------------------------------------- residual adds fused into conv2d
class Residual(nn.Module):
    """act(conv(x) + skip(x)), the sum in either order; skip is the identity or a second conv (resnet's
    downsample branch, which torch computes after the main conv)."""

    def __init__(self, conv, act=nn.Identity, skip=None, skip_first=False):
        super().__init__()
        self.conv, self.act, self.skip, self.skip_first = conv, act(), skip or nn.Identity(), skip_first

    def forward(self, x):
        y, r = self.conv(x), self.skip(x)
        return self.act(r + y if self.skip_first else y + r)


RESIDUAL_CASES = [
    # (C, H, W, conv, act, skip, skip_first): every conv2d path adding the residual
    (24, 9, 11, lambda c: nn.Conv2d(c, c, 1), nn.Identity, None, False),               # 1x1, panels and tails
    (100, 5, 7, lambda c: nn.Conv2d(c, c, 1), nn.ReLU6, None, True),                   # 1x1, more rows than pixels
    (33, 10, 9, lambda c: nn.Conv2d(c, c, 3, padding=1), nn.ReLU, None, False),        # im2col, K in two slices
    (20, 14, 14, lambda c: nn.Conv2d(c, c, 3, padding=1, groups=c), nn.ReLU6, None, False),  # flat depthwise
    (16, 24, 24, lambda c: nn.Conv2d(c, c, 3, padding=1), nn.ReLU, None, True),        # Winograd F(4x4)
    (16, 14, 14, lambda c: nn.Conv2d(c, c, 3, padding=1), nn.Hardswish, None, False),  # Winograd F(2x2), act after
    (12, 8, 8, lambda c: nn.Conv2d(c, c, 3, padding=1), nn.ReLU,                       # resnet downsample block:
     lambda c: nn.Conv2d(c, c, 1), False),                                             # the later conv takes it
    (8, 6, 36, lambda c: nn.Conv2d(c, c, 5, padding=2), nn.ReLU6, None, True),         # im2col of whole rows
    (384, 7, 9, lambda c: nn.Conv2d(c, 48, 1), nn.ReLU6, lambda c: nn.Conv2d(c, 48, 1), False),  # K split (2 threads)
]


@pytest.mark.parametrize("threads", [1, 2])
def test_residual_add_fused_into_conv_isas(check_eager, isa, threads):
    ms, xs = [], []
    for i, (C, H, W, conv, act, skip, skip_first) in enumerate(RESIDUAL_CASES):
        torch.manual_seed(i)
        ms.append(Residual(conv(C), act, skip(C) if skip else None, skip_first))
        xs.append(_x(1, C, H, W, seed=i))
    program = check_eager(Multi(*ms), tuple(xs), threads=threads, tol=2e-4)
    hist = program.graph.op_histogram()
    skips = sum(case[5] is not None for case in RESIDUAL_CASES)
    assert "binary" not in hist and hist["conv2d"] == len(RESIDUAL_CASES) + skips, hist
    assert sum(len(n.inputs) == 4 for n in program.graph.nodes) == len(RESIDUAL_CASES)


# (C, N, H, W, kernel, padding, dilation, act): residual adds of mobilenet's blocks whose projection is fused with
# the depthwise conv before it (conv_dw_pw): the flat and the padded-buffer depthwise paths, batch 2, several
# bands, an activation applied after the add.
DW_PW_RESIDUAL_CASES = [
    (24, 1, 21, 19, 3, 1, 1, nn.Identity),
    (16, 2, 9, 13, 5, 4, 2, nn.Hardswish),
]


@pytest.mark.parametrize("threads", [1, 2])
def test_residual_add_fused_into_conv_dw_pw_isas(check_eager, isa, threads, fuse_small):
    ms, xs = [], []
    for i, (C, N, H, W, k, p, d, act) in enumerate(DW_PW_RESIDUAL_CASES):
        torch.manual_seed(i)
        ms.append(Residual(_dw_project(C, C, k, 1, p, d), act))
        xs.append(_x(N, C, H, W, seed=i))
    program = check_eager(Multi(*ms), tuple(xs), threads=threads, tol=2e-4)
    assert program.graph.op_histogram() == {"conv_dw_pw": len(DW_PW_RESIDUAL_CASES)}
    assert all(len(n.inputs) == 6 for n in program.graph.nodes)


@pytest.mark.parametrize("case", ["conv output used twice", "broadcast", "conv has an activation", "subtract"])
def test_residual_add_left_apart(check_eager, case):
    """Only a same-shape float add of a conv2d output that nothing else reads, whose conv applies no activation."""
    conv = _seeded(nn.Conv2d(6, 6, 1))
    bias = _x(1, 6, 1, 1, seed=3)
    fns = {"conv output used twice": lambda x: (lambda y: (y + x, y.sum()))(conv(x)),
           "broadcast": lambda x: conv(x) + bias,
           "conv has an activation": lambda x: torch.relu(conv(x)) + x,
           "subtract": lambda x: conv(x) - x}
    m = Fn(fns[case])
    m.conv = conv
    program = check_eager(m, (_x(1, 6, 5, 5),))
    assert all(len(n.inputs) <= 3 for n in program.graph.nodes if n.op == "conv2d")
    assert "binary" in program.graph.op_histogram()


@pytest.mark.parametrize("op", ["conv2d", "conv_dw_pw"])
def test_residual_input_shape_is_checked(op, fuse_small):
    """A .ptm whose residual input does not match the conv's output is refused at load, naming it."""
    conv = nn.Conv2d(4, 4, 1) if op == "conv2d" else _dw_project(4, 4, 3, 1, 1)
    program = pockettorch.export(_seeded(Residual(conv)), (_x(1, 4, 5, 5),))
    (node,) = program.graph.nodes
    assert node.op == op and node.inputs[-1] is program.graph.inputs[0]
    node.inputs[-1] = program.graph.constant(np.zeros((1, 4, 5, 4), np.float32), "bad_residual")
    with pytest.raises(errors.PocketTorchError, match="residual input is not shaped as the output"):
        pockettorch.load(program.to_bytes())


def test_conv3d_is_rejected():
    with pytest.raises(errors.UnsupportedOpError, match="3-D convolution"):
        pockettorch.export(nn.Conv3d(2, 2, 3), (_x(1, 2, 4, 4, 4),))


# ---------------------------------------------------------------- conv1d
@pytest.mark.parametrize("k,s,p,d,g", [(3, 1, 1, 1, 1), (5, 2, 2, 1, 1), (3, 1, 2, 2, 2), (3, 1, 1, 1, 4)])
def test_conv1d(check_eager, k, s, p, d, g):
    m = _seeded(nn.Conv1d(4, 8, k, stride=s, padding=p, dilation=d, groups=g))
    check_eager(m, (_x(2, 4, 17),))


# ---------------------------------------------------------------- conv_transpose
# (C, O, kernel, stride, padding, output_padding, dilation, groups, bias, H, W)
CONVT2D_CASES = [
    (3, 4, 3, 1, 0, 0, 1, 1, True, 5, 6),
    (3, 4, 3, 2, 1, 1, 1, 1, True, 5, 5),
    (4, 6, 4, 2, 1, 0, 1, 2, False, 4, 7),
    (2, 3, 3, 3, 2, 2, 1, 1, True, 4, 4),   # stride > kernel/2, output padding
    (4, 4, 3, 1, 2, 0, 2, 4, True, 6, 5),   # dilation, depthwise
    (2, 2, 2, 2, 0, 0, 1, 1, True, 3, 3),
]


@pytest.mark.parametrize("case", CONVT2D_CASES, ids=lambda c: "C{}O{}k{}s{}p{}op{}d{}g{}b{}_{}x{}".format(*c))
def test_conv_transpose2d(check_eager, case):
    C, O, k, s, p, op, d, g, bias, H, W = case
    m = _seeded(nn.ConvTranspose2d(C, O, k, stride=s, padding=p, output_padding=op, dilation=d, groups=g, bias=bias))
    check_eager(m, (_x(2, C, H, W),))


def test_conv_transpose2d_two_threads_relu(check_eager):
    m = _seeded(nn.Sequential(nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1), nn.ReLU()))
    program = check_eager(m, (_x(2, 4, 5, 6),), threads=2)
    assert program.graph.op_histogram() == {"conv_transpose2d": 1}


def test_conv_transpose1d(check_eager):
    m = _seeded(nn.ConvTranspose1d(3, 5, 4, stride=2, padding=1, output_padding=1))
    check_eager(m, (_x(2, 3, 9),))


# ---------------------------------------------------------------- pools
MAX_POOL_CASES = [
    (2, 2, 0, 1, False), (3, 2, 1, 1, False), (3, 2, 1, 1, True), (3, 3, 0, 1, True),
    (2, 1, 1, 1, False), ((3, 2), (2, 1), (1, 0), 1, False), (3, 1, 1, 2, False), (2, 3, 0, 1, True),
]


def test_max_pool2d(check_eager):
    m = Multi(*[nn.MaxPool2d(k, s, p, dilation=d, ceil_mode=ceil) for k, s, p, d, ceil in MAX_POOL_CASES])
    check_eager(m, tuple(_x(2, 3, 9, 10, seed=i) for i in range(len(MAX_POOL_CASES))))


def test_max_pool2d_nan_and_threads(check_eager):
    x = _x(2, 4, 8, 8)
    x[0, 1, 2, 3] = float("nan")
    got = pockettorch.load(pockettorch.export(nn.MaxPool2d(2), (x,)).to_bytes(), num_threads=2)(x)
    torch.testing.assert_close(got, nn.MaxPool2d(2)(x), equal_nan=True)


@pytest.mark.parametrize("width", [11, 1030])  # rows reduced into one row first / wider than its buffer
def test_max_pool2d_separable_nan(width):
    x = _x(1, 2, 7, width)
    x[0, 0, 3, 4] = float("nan")  # in the middle row of a window: the row pass must keep it
    x[0, 1, 0, 1] = float("-inf")
    m = nn.MaxPool2d(3, 2, 1)
    got = pockettorch.load(pockettorch.export(m, (x,)).to_bytes())(x)
    torch.testing.assert_close(got, m(x), equal_nan=True)


def test_max_pool2d_stride2_odd_width(check_eager):
    """Stride 2 along x splits each row into its even and odd columns: odd widths leave the last column
    in the even half, and padding and ceil mode reach past both ends."""
    cases = [(3, 2, 1, False), (2, 2, 0, True), (3, 2, 1, True), (4, 2, 2, False), (5, (1, 2), 2, False)]
    m = Multi(*[nn.MaxPool2d(k, s, p, ceil_mode=ceil) for k, s, p, ceil in cases])
    xs = [_x(2, 3, 9, 11, seed=i) for i in range(len(cases))]
    xs[0][0, 1, 4, 7] = float("nan")  # an odd column
    check_eager(m, tuple(xs))


def test_max_pool2d_unbatched(check_eager):
    check_eager(nn.MaxPool2d(3, 2, 1), (_x(3, 9, 9),))


def test_max_pool2d_indices_rejected():
    m = nn.MaxPool2d(2, return_indices=True)
    with pytest.raises(errors.UnsupportedOpError, match="indices"):
        pockettorch.export(m, (_x(1, 2, 4, 4),))


def test_max_pool1d(check_eager):
    check_eager(nn.MaxPool1d(3, 2, 1, ceil_mode=True), (_x(2, 3, 10),))


AVG_POOL_CASES = [
    (2, 2, 0, False, True, None), (3, 2, 1, False, True, None), (3, 2, 1, False, False, None),
    (3, 2, 1, True, True, None), (3, 2, 1, True, False, None), (3, 2, 0, True, True, None), (2, 1, 1, False, True, 3),
    ((3, 1), (1, 2), (1, 0), False, False, None),
]


def test_avg_pool2d(check_eager):
    m = Multi(*[nn.AvgPool2d(k, s, p, ceil_mode=ceil, count_include_pad=cip, divisor_override=div)
                for k, s, p, ceil, cip, div in AVG_POOL_CASES])
    check_eager(m, tuple(_x(2, 3, 9, 10, seed=i) for i in range(len(AVG_POOL_CASES))), threads=2)


@pytest.mark.parametrize("kernel,shape", [(128, (1, 4, 1, 1)), (5, (2, 3, 3, 4)), ((4, 2), (1, 2, 3, 1))])
def test_avg_pool2d_ceil_mode_window_larger_than_input(check_eager, kernel, shape):
    """EfficientNet's pooler: AvgPool2d(hidden_dim, ceil_mode=True) on a smaller map gives one clipped window."""
    check_eager(nn.AvgPool2d(kernel, ceil_mode=True), (_x(*shape),))


def test_avg_pool1d(check_eager):
    check_eager(nn.AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False), (_x(2, 3, 10),))


@pytest.mark.parametrize("is_max", [False, True])
def test_adaptive_pool2d(check_eager, is_max):
    sizes = [(3, 5), (1, 2), (4, 4), (7, 3), (12, 11)]  # (1, 1) avg becomes aten.mean
    m = Multi(*[nn.AdaptiveMaxPool2d(size) if is_max else nn.AdaptiveAvgPool2d(size) for size in sizes])
    check_eager(m, tuple(_x(2, 3, 10, 9, seed=i) for i in range(len(sizes))), threads=2)


def test_adaptive_pool1d(check_eager):
    check_eager(Multi(nn.AdaptiveAvgPool1d(4), nn.AdaptiveMaxPool1d(3)), (_x(2, 3, 10), _x(2, 3, 10, seed=1)))


# ---------------------------------------------------------------- pad
CONSTANT_PAD_CASES = [
    ((1, 2), 0.0, (2, 3, 5)),
    ((1, 2, 3, 0), 1.5, (2, 3, 4, 5)),
    ((-1, 2, 0, 1, 1, 1), -2.0, (2, 3, 4, 5)),   # negative pads crop
    ((0, 0, -1, -2), 0.0, (2, 3, 5, 4)),
    ((2, 2), -3.25, (3, 4)),
    ((1, 1, 1, 1, 1, 1, 1, 1), 3.0, (2, 2, 2, 2)),
]


def test_constant_pad(check_eager):
    m = Multi(*[Fn(lambda x, p=pads, v=value: F.pad(x, p, value=v)) for pads, value, _ in CONSTANT_PAD_CASES])
    check_eager(m, tuple(_x(*shape, seed=i) for i, (_, _, shape) in enumerate(CONSTANT_PAD_CASES)), threads=2)


def test_constant_pad_inf():
    x = _x(3, 4)
    got = pockettorch.load(pockettorch.export(Fn(lambda t: F.pad(t, (2, 1), value=float("-inf"))), (x,)).to_bytes())(x)
    torch.testing.assert_close(got, F.pad(x, (2, 1), value=float("-inf")), rtol=0, atol=0)


def test_constant_pad_int64(check_eager):
    x = torch.arange(12).reshape(3, 4)
    check_eager(Fn(lambda t: F.pad(t, (1, 2, 1, 0), value=-1)), (x,))


@pytest.mark.parametrize("mode", ["reflect", "replicate"])  # circular decomposes to empty/slice/copy/slice_scatter
@pytest.mark.parametrize("pads,shape", [((2, 1), (2, 3, 6)), ((1, 2, 3, 1), (2, 3, 5, 6))])
def test_pad_modes_via_export(check_eager, mode, pads, shape):
    check_eager(Fn(lambda x: F.pad(x, pads, mode=mode)), (_x(*shape),))


@pytest.fixture
def keep_pad_and_nearest_exact(monkeypatch):
    """Capture as proposed for exporter/capture.py: keep aten.pad and nearest-exact out of the decomposition
    (the default table turns them into index/arith ops), so they reach the pad / interpolate rules."""
    original = torch.export.ExportedProgram.run_decompositions

    def run_decompositions(self, table=None, *args, **kwargs):
        if table is None:
            table = torch.export.default_decompositions()
            for op in (torch.ops.aten.pad.default, torch.ops.aten._upsample_nearest_exact2d.vec):
                table.pop(op, None)
        return original(self, table, *args, **kwargs)

    monkeypatch.setattr(torch.export.ExportedProgram, "run_decompositions", run_decompositions)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_modes_kept_by_capture(check_eager, keep_pad_and_nearest_exact, mode):
    cases = [((2, 1), (2, 3, 6)), ((1, 2, 3, 1), (2, 3, 5, 6)), ((1, 1, 2, 0, 1, 1), (1, 2, 3, 4, 4))]
    m = Multi(*[Fn(lambda x, p=pads: F.pad(x, p, mode=mode)) for pads, _ in cases])
    program = check_eager(m, tuple(_x(*shape, seed=i) for i, (_, shape) in enumerate(cases)), threads=2)
    assert program.graph.op_histogram() == {"pad": 3}


def test_nearest_exact_kept_by_capture(check_eager, keep_pad_and_nearest_exact):
    m = Multi(Fn(lambda x: F.interpolate(x, size=(9, 13), mode="nearest-exact")),
              Fn(lambda x: F.interpolate(x, scale_factor=1.5, mode="nearest-exact")))
    program = check_eager(m, (_x(2, 3, 6, 7), _x(2, 3, 6, 7, seed=1)))
    assert program.graph.op_histogram() == {"interpolate": 2}


def _program_from_graph(graph: Graph) -> bytes:
    """Serialize a hand-built graph, to test kernels on params no torch decomposition produces."""
    plan = plan_memory(graph)

    def io(t):
        return {"name": t.name, "dtype": t.dtype, "shape": list(t.shape)}

    meta = {"name": graph.name, "format": "1.0", "inputs": [io(t) for t in graph.inputs],
            "outputs": [io(t) for t in graph.outputs], "output_structure": {"kind": "tensor", "index": 0},
            "user": {}, "plan": plan.as_dict(), "exporter": {}, "reference": None}
    return Program(graph, plan, meta, {}).to_bytes()


def _run_pad(x: torch.Tensor, mode: str, pads, value=0.0, threads=1, out_shape=None):
    g = Graph("pad")
    xin = g.tensor("x", "float32", x.shape)
    g.inputs.append(xin)
    if out_shape is None:
        out_shape = list(x.shape)
        for i in range(len(pads) // 2):
            out_shape[-1 - i] += pads[2 * i] + pads[2 * i + 1]
    y = g.tensor("y", "float32", out_shape)
    g.add("pad", [xin], [y], mode=enum_value("PAD", mode.upper()), value=value, pads=list(pads))
    g.outputs.append(y)
    return pockettorch.load(_program_from_graph(g), num_threads=threads)(x)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("pads,shape", [
    ((2, 1), (2, 3, 6)), ((1, 2, 3, 1), (2, 3, 5, 6)), ((0, 3, 2, 0), (1, 2, 4, 4)), ((1, 1, 1, 1, 1, 1), (2, 3, 4, 4)),
])
def test_pad_kernel_modes(mode, pads, shape):
    x = _x(*shape)
    if mode == "reflect" and len(pads) == 6:
        mode_expected = F.pad(x.unsqueeze(0), pads, mode=mode).squeeze(0)  # torch reflect-pads 3 dims of 5-D only
    else:
        mode_expected = F.pad(x, pads, mode=mode)
    got = _run_pad(x, mode, pads, threads=2)
    torch.testing.assert_close(got, mode_expected, rtol=0, atol=0)


def test_pad_kernel_rejects_mismatched_shape():
    with pytest.raises(errors.BadOperandsError, match="output dim"):
        _run_pad(_x(2, 3), "constant", [1, 1], out_shape=[2, 6])


def test_pad_kernel_rejects_empty_reflect():
    with pytest.raises(errors.BadOperandsError, match="empty dim"):
        _run_pad(torch.zeros(2, 0), "reflect", [1, 1])


def test_match_pad_index():
    n = 5
    assert match_pad_index(np.array([2, 1, 0, 1, 2, 3, 4, 3]), n) == ("reflect", 2, 1)
    assert match_pad_index(np.array([0, 0, 0, 1, 2, 3, 4, 4]), n) == ("replicate", 2, 1)
    assert match_pad_index(np.array([3, 4, 0, 1, 2, 3, 4, 0]), n) == ("circular", 2, 1)
    assert match_pad_index(np.array([0, 1, 2, 3, 4]), n) == ("reflect", 0, 0)
    assert match_pad_index(np.array([4, 3, 2, 1, 0]), n) is None
    assert match_pad_index(np.array([0, 1, 2]), n) is None


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_emit_index_as_pad(mode):
    """The helper the index.Tensor rule uses: torch's decomposed index vector becomes one pad op."""
    x = _x(2, 3, 5, 6)
    n = x.shape[2]
    o = np.arange(-2, n + 1)
    index = {"reflect": np.abs(n - 1 - np.abs(n - 1 - o)), "replicate": np.clip(o, 0, n - 1), "circular": np.mod(o, n)}[mode]
    g = Graph("index_pad")
    ctx = LoweringContext(g)
    xin = g.tensor("x", "float32", x.shape)
    g.inputs.append(xin)
    assert emit_index_as_pad(ctx, xin, 2, np.array([0, 2, 1])) is None
    y = emit_index_as_pad(ctx, xin, -2, index)
    assert y is not None and g.op_histogram() == {"pad": 1}
    g.outputs.append(y)
    got = pockettorch.load(_program_from_graph(g), num_threads=2)(x)
    torch.testing.assert_close(got, x[:, :, torch.from_numpy(index)], rtol=0, atol=0)


# ---------------------------------------------------------------- interpolate
INTERPOLATE_CASES = {
    "nearest": [
        dict(scale_factor=2, mode="nearest"),
        dict(scale_factor=(1.5, 2.5), mode="nearest"),
        dict(size=(5, 13), mode="nearest"),
        dict(size=(3, 4), mode="nearest"),  # downsample
    ],
    "bilinear": [
        dict(scale_factor=2, mode="bilinear", align_corners=False),
        dict(scale_factor=2, mode="bilinear", align_corners=True),
        dict(size=(5, 13), mode="bilinear", align_corners=False),
        dict(size=(5, 13), mode="bilinear", align_corners=True),
        dict(scale_factor=0.6, mode="bilinear", align_corners=False),
        dict(size=(1, 1), mode="bilinear", align_corners=True),
        dict(scale_factor=1.7, mode="bilinear", align_corners=False, recompute_scale_factor=True),
    ],
}


@pytest.mark.parametrize("group", list(INTERPOLATE_CASES))
def test_interpolate(check_eager, group):
    cases = INTERPOLATE_CASES[group]
    m = Multi(*[Fn(lambda x, kw=kw: F.interpolate(x, **kw)) for kw in cases])
    check_eager(m, tuple(_x(2, 3, 6, 7, seed=i) for i in range(len(cases))), threads=2)


def test_upsample_modules(check_eager):
    m = Multi(nn.Upsample(scale_factor=3, mode="nearest"), nn.UpsamplingBilinear2d(scale_factor=2))
    check_eager(m, (_x(1, 2, 4, 5), _x(1, 2, 4, 5, seed=1)))


def test_interpolate_nearest_exact_kernel():
    # nearest-exact reaches core ATen decomposed into index ops; test the kernel mode directly
    x = _x(2, 3, 6, 7)
    for size in [(9, 4), (12, 14), (3, 3)]:
        g = Graph("ne")
        xin = g.tensor("x", "float32", x.shape)
        g.inputs.append(xin)
        y = g.tensor("y", "float32", (2, 3) + size)
        g.add("interpolate", [xin], [y], mode=enum_value("INTERP", "NEAREST_EXACT"), align_corners=0,
              scale_h=0.0, scale_w=0.0)
        g.outputs.append(y)
        got = pockettorch.load(_program_from_graph(g))(x)
        torch.testing.assert_close(got, F.interpolate(x, size=size, mode="nearest-exact"), rtol=0, atol=0)


# ---------------------------------------------------------------- a small CNN, 2 threads
def test_small_cnn(check_eager):
    m = _seeded(nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.ReLU(),
        nn.Conv2d(8, 16, 1), nn.MaxPool2d(2, ceil_mode=True),
        nn.Upsample(scale_factor=2, mode="bilinear"), nn.AvgPool2d(3, 2, 1),
        nn.AdaptiveAvgPool2d((2, 3)),
    ))
    check_eager(m, (_x(2, 3, 23, 19),), threads=2)


# ---------------------------------------------------------------- hostile parameters
HOSTILE_INTS = [0, -1, 1, 2, 3, 7, 1 << 20, 1 << 31, 1 << 40, -(1 << 62), (1 << 63) - 1]
HOSTILE_FLOATS = [float("nan"), float("inf"), -1.0, 0.0, 1e300]


def _hostile_programs():
    x4 = _x(1, 4, 6, 7)
    return {
        "conv2d": (nn.Conv2d(4, 6, 3, padding=1, groups=2), x4),
        "conv2d_dw": (nn.Conv2d(4, 4, 3, groups=4), x4),
        "conv_transpose2d": (nn.ConvTranspose2d(4, 2, 3, stride=2), x4),
        "max_pool2d": (nn.MaxPool2d(3, 2, 1), x4),
        "avg_pool2d": (nn.AvgPool2d(3, 2, 1), x4),
        "adaptive_pool2d": (nn.AdaptiveAvgPool2d((2, 3)), x4),
        "interpolate": (nn.Upsample(scale_factor=2, mode="bilinear"), x4),
        "pad": (Fn(lambda t: F.pad(t, (1, 2, 0, 1))), x4),
    }


@pytest.mark.parametrize("name", list(_hostile_programs()))
def test_hostile_params_never_crash(name):
    """Every parameter of the op set to extreme values: loading either fails with a PocketTorch error or
    the program runs (the kernel's prepare must keep run() inside its tensors)."""
    module, x = _hostile_programs()[name]
    program = pockettorch.export(module, (x,))
    node = next(n for n in program.graph.nodes if n.op == name.removesuffix("_dw"))
    original = dict(node.params)
    loaded = rejected = 0
    for key, value in original.items():
        values = HOSTILE_INTS if isinstance(value, int) else HOSTILE_FLOATS if isinstance(value, float) else None
        if values is None:  # the pads list: hostile entries and lengths
            values = [[v] * len(value) for v in HOSTILE_INTS] + [value[:1], value + [1, 1], value * 5]
        for v in values:
            node.params = dict(original, **{key: v})
            program._bytes = None
            try:
                rt = pockettorch.load(program.to_bytes())
            except errors.PocketTorchError:
                rejected += 1
                continue
            rt(x)
            loaded += 1
    node.params = original
    assert rejected > 0 and loaded > 0


# ---------------------------------------------------------------- fused activations in every conv path
ACT_REFS = {
    "NONE": lambda t: t, "RELU": F.relu, "RELU6": F.relu6, "SILU": F.silu, "GELU": F.gelu,
    "GELU_TANH": lambda t: F.gelu(t, approximate="tanh"), "HARDSWISH": F.hardswish, "SIGMOID": torch.sigmoid,
    "CLAMP": lambda t: t.clamp(-0.5, 0.25), "TANH": torch.tanh,
}


@pytest.mark.parametrize("name,module", [
    ("gemm", nn.Conv2d(4, 7, 3, padding=1)),
    ("direct", nn.Conv2d(4, 4, 3, padding=1, groups=4)),
    ("transpose", nn.ConvTranspose2d(4, 3, 3, stride=2)),
])
def test_conv_fused_activations(name, module, isa):
    module = _seeded(module).eval()
    x = _x(2, 4, 7, 6)
    program = pockettorch.export(module, (x,))
    node = next(n for n in program.graph.nodes if n.op.startswith("conv"))
    with torch.no_grad():
        base = module(x)
    for act, ref in ACT_REFS.items():
        node.params.update(act=enum_value("ACT", act), act_min=-0.5 if act == "CLAMP" else 0.0,
                           act_max=0.25 if act == "CLAMP" else 0.0)
        program._bytes = None
        got = pockettorch.load(program.to_bytes(), num_threads=2)(x)
        torch.testing.assert_close(got, ref(base), rtol=1e-4, atol=1e-4, msg=lambda m: f"{act}: {m}")
