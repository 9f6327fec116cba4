"""The loader trusts nothing in an int8 program: scales must be finite and > 0, zero points and clamps inside int8,
per-channel scales one per output channel, the lookup table 256 entries. Each case edits one field of a real
exported program and expects a catalogue error at load, never a crash (the fuzzer mutates the same fields at
random: tests/runtime/test_fuzz.py's int8 seeds)."""
import numpy as np
import pytest
import torch
import torch.nn as nn

import pockettorch
from pockettorch import errors

from quant_support import export_int8


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(2, 4, 3, padding=1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        a = self.c(x)
        y = torch.sigmoid(a + torch.relu(a))
        return self.fc(nn.functional.adaptive_avg_pool2d(y, 1).flatten(1))


@pytest.fixture(scope="module")
def program_factory():
    torch.manual_seed(0)
    model = Net().eval()
    x = (torch.randn(1, 2, 5, 5),)
    program = export_int8(model, x)
    assert pockettorch.load(program.to_bytes())(*x) is not None

    def edited(edit):
        program._bytes = None
        saved = [(n, dict(n.params), [(t.data, t.shape) for t in n.inputs]) for n in program.graph.nodes]
        try:
            edit({n.op: n for n in program.graph.nodes})
            return program.to_bytes()
        finally:
            for n, params, datas in saved:
                n.params = params
                for t, (d, shape) in zip(n.inputs, datas):
                    t.data, t.shape = d, shape
            program._bytes = None

    return edited


def _set(op, key, value):
    return lambda nodes: nodes[op].params.__setitem__(key, value)


def _const(op, index, fn):
    def edit(nodes):
        t = nodes[op].inputs[index]
        t.data = fn(t.data.copy())
        t.shape = t.data.shape
    return edit


CASES = {
    "negative scale": _set("quantize", "scale", -0.5),
    "nan scale": _set("dequantize", "scale", float("nan")),
    "infinite scale": _set("qconv2d", "out_scale", float("inf")),
    "zero point out of int8": _set("qconv2d", "in_zp", 300),
    "clamp outside int8": _set("qconv2d", "out_max", 128),
    "clamp upside down": lambda nodes: nodes["qlinear"].params.update(out_min=100, out_max=50),
    "pool scale zero": _set("qavg_pool2d", "in_scale", 0.0),
    "weight scale zero": _const("qconv2d", 2, lambda a: np.where(np.arange(a.size) == 0, 0, a).astype(a.dtype)),
    "weight scale nan": _const("qlinear", 2, lambda a: np.full_like(a, np.nan)),
    "scales per channel count": _const("qconv2d", 2, lambda a: a[:-1]),
    "lookup table short": _const("qlut", 1, lambda a: a[:200]),
    "binary kind": _set("qbinary", "kind", 3),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_int8_field_is_refused_at_load(program_factory, case):
    data = program_factory(CASES[case])
    with pytest.raises(errors.PocketTorchError):
        pockettorch.load(data)
