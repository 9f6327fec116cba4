"""Kernel scratch of a dynamic program is planned once, at the bounds (runtime/core/kernel.h, `pkt_node.dynamic`),
and must hold at every shape in the ranges. These programs use every kernel that asks for scratch (conv2d on each
loop order, Winograd and depthwise, both fused conv pairs, linear with a computed weight, matmul, sdpa, sort,
scatter; not gru and lstm, whose lengths and batches torch.export specializes, and whose scratch is a product of
their dims) and visit every shape in their ranges, on one and two threads: a kernel whose need grew past
the plan at any of them fails the call with ARENA_TOO_SMALL, and this test with it. A few shapes also run
against eager."""
from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.export import Dim

import pockettorch
from support import assert_outputs_match

SCRATCH_KERNELS = {"conv2d", "linear", "matmul", "sdpa", "sort", "scatter"}
CONV_PAIRS = {"conv_dw_pw", "conv_pw_dw"}


class _Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        act = nn.ReLU6
        self.body = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),  # a stem: few input channels
            nn.Conv2d(16, 32, 1), act(), nn.Conv2d(32, 32, 3, padding=1, groups=32), act(),
            nn.Conv2d(32, 24, 1), act(),
            nn.Conv2d(24, 24, 3, padding=1), nn.ReLU(),  # Winograd's size
            nn.Conv2d(24, 24, 3, stride=2, padding=1, groups=24), nn.ReLU(),  # a depthwise conv on its own
            nn.Conv2d(24, 8, 1))

    def forward(self, x):
        return self.body(x)


class _Pairs(nn.Module):
    """Mobilenet's blocks at sizes where the exporter fuses them (intermediates of 1 MiB at the bound)."""

    def __init__(self):
        super().__init__()
        act = nn.ReLU6
        self.body = nn.Sequential(
            nn.Conv2d(3, 64, 3, padding=1), act(),
            nn.Conv2d(64, 64, 3, padding=1, groups=64), act(), nn.Conv2d(64, 16, 1),  # conv_dw_pw
            nn.Conv2d(16, 64, 1), act(), nn.Conv2d(64, 64, 3, stride=2, padding=1, groups=64), act(),  # conv_pw_dw
            nn.Conv2d(64, 8, 1))

    def forward(self, x):
        return self.body(x)


class _HeavyConv(nn.Module):
    """One conv whose weights pass L2 (1.2 MB): on small images its loop order packs every panel at once (scratch
    up to 1.5 MB), at the bound one panel at a time. The only node asking for scratch, so its plan is the
    session's: planned at the bound by the order used there, the small sizes would not fit."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(128, 256, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class _Sequence(nn.Module):
    def __init__(self, dim=16):
        super().__init__()
        self.proj = nn.Linear(dim, 3 * dim)
        self.w = nn.Parameter(torch.randn(dim, dim) * 0.1)

    def forward(self, x):
        q, k, v = self.proj(x).chunk(3, dim=-1)
        attended = F.scaled_dot_product_attention(q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1)).squeeze(1)
        scores = q @ k.transpose(1, 2)
        mixed = F.linear(attended, self.w * x.mean())  # a weight the graph computes: packed into scratch
        ordered, order = torch.sort(mixed, dim=1)
        return torch.zeros_like(x).scatter_add(1, order, ordered), scores


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    model = _Cnn().eval()
    h, w = Dim("h", min=3, max=20), Dim("w", min=3, max=20)
    return model, pockettorch.export(model, (torch.randn(1, 3, 20, 20),), dynamic_shapes=({2: h, 3: w},))


@pytest.fixture(scope="module")
def pairs():
    torch.manual_seed(0)
    model = _Pairs().eval()
    h, w = Dim("h", min=3, max=64), Dim("w", min=3, max=64)
    return model, pockettorch.export(model, (torch.randn(1, 3, 64, 64),), dynamic_shapes=({2: h, 3: w},))


@pytest.fixture(scope="module")
def heavy_conv():
    torch.manual_seed(0)
    h, w = Dim("h", min=3, max=44), Dim("w", min=3, max=44)
    return pockettorch.export(_HeavyConv().eval(), (torch.randn(1, 128, 44, 44),), dynamic_shapes=({2: h, 3: w},))


@pytest.fixture(scope="module")
def sequence():
    torch.manual_seed(0)
    model = _Sequence().eval()
    seq = Dim("seq", min=1, max=48)
    return model, pockettorch.export(model, (torch.randn(1, 48, 16),), dynamic_shapes=({1: seq},))


def test_the_programs_use_every_kernel_that_asks_for_scratch(cnn, pairs, sequence):
    ops = set().union(*(p.graph.op_histogram() for _, p in (cnn, pairs, sequence)))
    assert SCRATCH_KERNELS <= ops and CONV_PAIRS <= ops


@pytest.mark.parametrize("threads", [1, 2])
def test_every_image_size_fits_the_plan(cnn, threads):
    _, program = cnn
    with pockettorch.load(program.to_bytes(), num_threads=threads) as m:
        planned = m.arena_bytes
        for h, w in itertools.product(range(3, 21), repeat=2):
            _, used = m.shapes_for((1, 3, h, w))  # raises ArenaTooSmallError where scratch outgrew the plan
            assert used <= planned


@pytest.mark.parametrize("threads", [1, 2])
def test_every_size_of_a_conv_that_changes_loop_order_fits_the_plan(heavy_conv, threads):
    with pockettorch.load(heavy_conv.to_bytes(), num_threads=threads) as m:
        for h, w in itertools.product(range(3, 45), repeat=2):
            m.shapes_for((1, 128, h, w))


@pytest.mark.parametrize("threads", [1, 2])
def test_every_size_of_the_fused_pairs_fits_the_plan(pairs, threads):
    _, program = pairs
    with pockettorch.load(program.to_bytes(), num_threads=threads) as m:
        for h, w in itertools.product(range(3, 65), repeat=2):
            m.shapes_for((1, 3, h, w))


@pytest.mark.parametrize("threads", [1, 2])
def test_every_length_fits_the_plan(sequence, threads):
    _, program = sequence
    with pockettorch.load(program.to_bytes(), num_threads=threads) as m:
        for length in range(1, 49):
            outputs, _ = m.shapes_for((1, length, 16))
            assert outputs == [(1, length, 16), (1, length, length)]


@pytest.mark.parametrize("shape", [(3, 3), (5, 17), (20, 9), (20, 20)])
def test_cnn_matches_eager_at_odd_sizes(cnn, shape):
    model, program = cnn
    x = torch.randn(1, 3, *shape)
    with torch.no_grad():
        want = model(x)
    with pockettorch.load(program.to_bytes(), num_threads=2) as m:
        assert_outputs_match(want, m(x))


@pytest.mark.parametrize("shape", [(3, 3), (7, 40), (64, 64)])
def test_pairs_match_eager(pairs, shape):
    model, program = pairs
    x = torch.randn(1, 3, *shape)
    with torch.no_grad():
        want = model(x)
    with pockettorch.load(program.to_bytes(), num_threads=2) as m:
        assert_outputs_match(want, m(x))


@pytest.mark.parametrize("length", [1, 5, 48])
def test_sequence_matches_eager(sequence, length):
    model, program = sequence
    x = torch.randn(1, length, 16)
    with torch.no_grad():
        want = model(x)
    with pockettorch.load(program.to_bytes(), num_threads=2) as m:
        assert_outputs_match(want, m(x))
