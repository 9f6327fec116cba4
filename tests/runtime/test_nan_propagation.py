"""NaN and +-inf go through every fused activation and every linear/conv/matmul path as in eager torch.

One NaN pixel must give NaN logits, never a confident class: each case exports a model whose ops the exporter
fuses (an activation into conv2d / conv_transpose2d / linear / add, a residual add into conv2d or conv_dw_pw,
a depthwise and a pointwise conv into one op), feeds it inputs (or weights) holding NaN, +inf and -inf, and
compares with eager: NaN and inf at exactly eager's positions, the rest to 1e-4. Each case runs once per ISA
(PKT_MAX_ISA caps the session's choice: portable C, AVX2+FMA, AVX-512; an ISA this CPU lacks is skipped,
so the AVX-512 paths run on a machine that has it). The same kind of program runs on arm64 NEON under qemu
in test_cross.py.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

import pockettorch
from support import assert_outputs_match

ISAS = ["portable", "avx2", "avx512"]
_RANK = {"portable": 0, "neon": 1, "avx2": 2, "avx512": 3}


class Clamp(nn.Module):
    def __init__(self, lo, hi):
        super().__init__()
        self.lo, self.hi = lo, hi

    def forward(self, x):
        return torch.clamp(x, self.lo, self.hi)


# Every activation fuse_activation.py fuses, and no activation (the epilogue's plain store).
ACTS = {
    "none": nn.Identity, "relu": nn.ReLU, "relu6": nn.ReLU6, "hardtanh": lambda: nn.Hardtanh(-0.5, 0.75),
    "clamp_min": lambda: Clamp(0.1, None), "clamp": lambda: Clamp(-1.0, 2.0), "sigmoid": nn.Sigmoid, "silu": nn.SiLU,
    "gelu": nn.GELU, "gelu_tanh": lambda: nn.GELU(approximate="tanh"), "hardswish": nn.Hardswish, "tanh": nn.Tanh,
}


# Kernels store clamp-like activations (none, relu, relu6, clamp) inline and hand the others to one shared
# function: those and one other (hardswish) cover a conv path; every activation goes through linear and add.
FEW_ACTS = ("none", "relu", "relu6", "hardtanh", "clamp_min", "hardswish")


class Branches(nn.Module):
    """One producer per activation (each its own weights), all reading the same input: one program covers
    every fused epilogue of one kernel path."""

    def __init__(self, make_producer, acts=tuple(ACTS)):
        super().__init__()
        self.producers = nn.ModuleList(make_producer() for _ in acts)
        self.acts = nn.ModuleList(ACTS[name]() for name in acts)

    def forward(self, x):
        return tuple(act(producer(x)) for producer, act in zip(self.producers, self.acts))


class ConvResidual(nn.Module):
    """conv(x) + x: fuse_residual.py makes the add (and the activation after it) the conv's epilogue."""

    def __init__(self, conv):
        super().__init__()
        self.conv = conv

    def forward(self, x):
        return self.conv(x) + x


class DwPw(nn.Module):
    """A depthwise conv (+ relu6) feeding a pointwise one (fused into conv_dw_pw: the exporter fuses pairs whose
    intermediate is 1 MiB or more); residual: + x after."""

    def __init__(self, c, residual=False):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.pw = nn.Conv2d(c, c, 1)
        self.residual = residual

    def forward(self, x):
        y = self.pw(nn.functional.relu6(self.dw(x)))
        return y + x if self.residual else y


class PwDw(nn.Module):
    """A pointwise conv (+ relu6) feeding a stride-2 depthwise one (fused into conv_pw_dw, 1 MiB between)."""

    def __init__(self, c, m):
        super().__init__()
        self.pw = nn.Conv2d(c, m, 1)
        self.dw = nn.Conv2d(m, m, 3, stride=2, padding=1, groups=m)

    def forward(self, x):
        return self.dw(nn.functional.relu6(self.pw(x)))


class AddAct(nn.Module):
    def forward(self, x):
        return x + 0.5


def poisoned(*shape, seed=0):
    """Random normals with NaN, +inf and -inf at a few scattered positions."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g)
    flat = x.view(-1)
    n = flat.numel()
    for k, v in enumerate([float("nan"), float("inf"), float("-inf"), float("nan")]):
        flat[(k * 7919 + 3) % n] = v
    return x


def _seeded(m):
    torch.manual_seed(0)
    for p in m.parameters():
        p.data = torch.randn_like(p) * 0.5
    return m.eval()


def every_act(make_producer):
    return lambda: Branches(make_producer)


def few_acts(make_producer):
    return lambda: Branches(make_producer, FEW_ACTS)


# name -> (module factory, input shape, threads, op the fused program must hold)
PATHS = {
    "linear_gemv": (every_act(lambda: nn.Linear(24, 40)), (1, 24), 1, "linear"),
    "linear_gemm": (every_act(lambda: nn.Linear(24, 40)), (13, 24), 2, "linear"),
    "add": (every_act(AddAct), (3, 37), 1, "binary"),
    "conv_gemm_1x1": (every_act(lambda: nn.Conv2d(8, 20, 1)), (1, 8, 9, 9), 1, "conv2d"),
    "conv_gemm_3x3_s2": (few_acts(lambda: nn.Conv2d(6, 20, 3, stride=2, padding=1)), (2, 6, 11, 13), 2, "conv2d"),
    "conv_lines_stem": (few_acts(lambda: nn.Conv2d(3, 8, 3, stride=2, padding=1)), (1, 3, 40, 64), 2, "conv2d"),
    "conv_single_channel": (few_acts(lambda: nn.Conv2d(1, 7, 3, padding=1)), (2, 1, 9, 10), 1, "conv2d"),
    "conv_depthwise": (few_acts(lambda: nn.Conv2d(6, 6, 3, padding=1, groups=6)), (1, 6, 14, 20), 1, "conv2d"),
    "conv_depthwise_s2": (few_acts(lambda: nn.Conv2d(6, 6, 3, stride=2, padding=1, groups=6)), (1, 6, 14, 20), 2,
                          "conv2d"),
    "conv_depthwise_5x5": (few_acts(lambda: nn.Conv2d(4, 4, 5, padding=2, groups=4)), (1, 4, 9, 21), 1, "conv2d"),
    "conv_winograd_f4": (few_acts(lambda: nn.Conv2d(16, 16, 3, padding=1)), (2, 16, 20, 20), 1, "conv2d"),
    "conv_winograd_f2": (few_acts(lambda: nn.Conv2d(16, 16, 3, padding=1)), (2, 16, 6, 14), 2, "conv2d"),
    "conv_ksplit": (few_acts(lambda: nn.Conv2d(384, 32, 1)), (1, 384, 5, 6), 2, "conv2d"),
    "conv_residual": (few_acts(lambda: ConvResidual(nn.Conv2d(8, 8, 3, padding=1))), (1, 8, 10, 12), 2, "conv2d"),
    "conv_residual_ksplit": (few_acts(lambda: ConvResidual(nn.Conv2d(384, 384, 1))), (1, 384, 3, 4), 2, "conv2d"),
    "conv_dw_pw": (few_acts(lambda: DwPw(64)), (1, 64, 64, 64), 2, "conv_dw_pw"),
    "conv_dw_pw_residual": (few_acts(lambda: DwPw(64, residual=True)), (1, 64, 64, 64), 1, "conv_dw_pw"),
    "conv_pw_dw": (few_acts(lambda: PwDw(16, 64)), (1, 16, 64, 64), 2, "conv_pw_dw"),
    "conv_transpose": (few_acts(lambda: nn.ConvTranspose2d(6, 5, 3, stride=2, padding=1)), (1, 6, 7, 9), 1,
                       "conv_transpose2d"),
}


@pytest.fixture(params=ISAS)
def isa(request, monkeypatch):
    """Cap the session at one ISA; skip what this CPU lacks."""
    monkeypatch.delenv("PKT_MAX_ISA", raising=False)
    best = pockettorch.load(_programs("linear_gemv")[1]).isa
    if _RANK.get(best, 0) < _RANK[request.param]:
        pytest.skip(f"this CPU has no {request.param}")
    monkeypatch.setenv("PKT_MAX_ISA", request.param)
    return request.param


_CACHE: dict = {}


def _programs(name):
    """(module, program bytes) of a path, exported once per test session."""
    if name not in _CACHE:
        make, shape, _, op = PATHS[name]
        module = _seeded(make())
        program = pockettorch.export(module, (torch.randn(*shape),))
        ops = [n.op for n in program.graph.nodes]
        assert op in ops and "unary" not in ops, f"{name}: activations not fused: {ops}"
        _CACHE[name] = (module, program.to_bytes())
    return _CACHE[name]


def _run(isa, module, data, inputs, threads):
    runtime = pockettorch.load(data, num_threads=threads)
    assert runtime.isa == isa
    with torch.no_grad():
        expected = module(*inputs)
    assert_outputs_match(expected, runtime(*inputs))
    return expected


@pytest.mark.parametrize("name", list(PATHS))
def test_nan_and_inf_through_fused_epilogues(isa, name):
    module, data = _programs(name)
    _, shape, threads, _ = PATHS[name]
    expected = _run(isa, module, data, (poisoned(*shape),), threads)
    assert any(bool(e.isnan().any()) for e in expected)  # the case does reach NaN


@pytest.mark.parametrize("name", ["conv_winograd_f4", "conv_gemm_3x3_s2", "conv_residual"])
def test_whole_input_nan_or_inf(isa, name):
    module, data = _programs(name)
    _, shape, threads, _ = PATHS[name]
    for value in (float("nan"), float("inf"), float("-inf")):
        _run(isa, module, data, (torch.full(shape, value),), threads)


class NanWeight(nn.Module):
    """Weights that hold NaN and inf: every output that reads them is NaN or inf, activations or not."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 24)
        self.conv = nn.Conv2d(4, 20, 3)
        self.fc.weight.data[3, 5] = float("nan")
        self.fc.weight.data[7, 1] = float("inf")
        self.conv.weight.data[2, 1, 1, 1] = float("nan")
        self.fc.bias.data[9] = float("-inf")

    def forward(self, x, img):
        return torch.relu(self.fc(x)), nn.functional.relu6(self.conv(img)), torch.sigmoid(self.fc(x) * 2)


def test_nan_and_inf_weights(isa):
    module = NanWeight().eval()
    inputs = (torch.randn(5, 16), torch.randn(2, 4, 9, 11))
    data = pockettorch.export(module, inputs).to_bytes()
    _run(isa, module, data, inputs, 2)


class MatmulLstm(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(6, 10, batch_first=True)

    def forward(self, a, b, seq):
        out, (h, c) = self.lstm(seq)
        return torch.relu(a @ b), a @ b, out, h, c


def test_matmul_and_lstm(isa):
    module = _seeded(MatmulLstm())
    inputs = (poisoned(3, 9, 17, seed=1), poisoned(3, 17, 20, seed=2), poisoned(2, 5, 6, seed=3))
    data = pockettorch.export(module, inputs).to_bytes()
    _run(isa, module, data, inputs, 1)


class Standalone(nn.Module):
    """Ops that are not fused epilogues but meet NaN the same way: eager keeps it in every one."""

    def forward(self, x):
        flat = x.flatten(1)
        return (torch.relu(x), torch.clamp(x, -0.5, 0.5), nn.functional.hardtanh(x), nn.functional.relu6(x),
                nn.functional.max_pool2d(x, 3, stride=2, padding=1), nn.functional.adaptive_max_pool2d(x, 2),
                flat.amax(dim=1), flat.amin(dim=1), torch.softmax(flat, dim=1), torch.log_softmax(flat, dim=1),
                torch.maximum(x, x.flip(3)), torch.minimum(x, x.flip(3)), nn.functional.hardsigmoid(x),
                nn.functional.leaky_relu(x, 0.1))


def test_standalone_kernels_keep_nan(isa):
    module = Standalone().eval()
    x = poisoned(2, 3, 8, 8)
    x[1] = torch.randn(3, 8, 8)  # a row of the reductions without NaN
    x[1, 2, 3, 3] = float("inf")  # softmax of a row holding +inf: NaN in eager
    data = pockettorch.export(module, (x,)).to_bytes()
    _run(isa, module, data, (x,), 1)
