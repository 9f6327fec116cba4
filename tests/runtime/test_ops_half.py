"""float16 where models use it: fp16 weights cast to float32, fp16 inputs and outputs, casts to and from
float16 (bit-exact against torch's rounding: every half value, ties, overflow, subnormals, NaN/inf).
float16 arithmetic itself is refused at export with a clear message."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import pockettorch
from pockettorch import errors
from support import assert_matches_eager


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def run(module, *inputs):
    return pockettorch.load(pockettorch.export(module, inputs).to_bytes())(*inputs)


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal bit for bit, except that any NaN equals any NaN."""
    nan = a.isnan()
    return torch.equal(nan, b.isnan()) and torch.equal(a[~nan], b[~nan]) and torch.equal(
        a[~nan].view(torch.int16 if a.dtype == torch.float16 else torch.int32),
        b[~nan].view(torch.int16 if b.dtype == torch.float16 else torch.int32))


def test_every_half_value_to_float():
    halves = torch.arange(-(1 << 15), 1 << 15, dtype=torch.int32).to(torch.int16).view(torch.float16)
    assert same_bits(run(Fn(lambda h: h.float()), halves), halves.float())


def test_float_to_half_rounds_like_torch():
    g = torch.Generator().manual_seed(0)
    halves = torch.arange(-(1 << 15), 1 << 15, dtype=torch.int32).to(torch.int16).view(torch.float16).float()
    halves = halves[halves.isfinite()]
    ties = (halves[:-1] + halves[1:]) / 2  # exactly between two halves: round to even
    x = torch.cat([halves, ties, torch.nextafter(ties, torch.tensor(float("inf"))),
                   torch.randn(20000, generator=g) * torch.logspace(-10, 6, 20000),
                   torch.tensor([65504.0, 65519.99, 65520.0, 1e6, -1e6, 6e-8, 2.9e-8, 3e-8, 1e-9, -0.0,
                                 float("inf"), float("-inf"), float("nan")])])
    assert same_bits(run(Fn(lambda x: x.half()), x), x.half())


def test_half_inputs_outputs_and_casts_through_float(check_eager):
    x = torch.randn(4, 6) * 100
    x[0, :3] = torch.tensor([float("nan"), float("inf"), -70000.0])
    i = torch.arange(-12, 12).reshape(4, 6)
    check_eager(Fn(lambda h, x, i: (h.float() * 2, h.long(), h.bool(), (x * 2).half(), i.half(), (x > 0).half(),
                                    x.half().float())), (x.half(), x, i))


class HalfWeights(nn.Module):
    """Weights stored in float16, computed in float32 (the exporter folds the casts into the constants)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(8, 4).half()
        self.register_buffer("scale", torch.rand(4).half())

    def forward(self, x):
        return nn.functional.linear(x, self.lin.weight.float(), self.lin.bias.float()) * self.scale.float()


def test_half_weights(check_eager):
    check_eager(HalfWeights(), (torch.randn(3, 8),))


def test_half_arithmetic_is_refused_at_export():
    with pytest.raises(errors.UnsupportedOpError, match="float16"):
        pockettorch.export(Fn(lambda x: (x.half() * 2).float()), (torch.randn(3),))
