"""The memory plan never lets a program output share arena bytes with a program input (the loader refuses
such a program): not through a reshape of an input, nor by reusing an input's bytes after its last read."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import pockettorch
from support_ptm import Ptm


class Chain(nn.Module):
    """The input dies at the first op; the output, written last, could take its bytes."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(64, 64), nn.Linear(64, 64), nn.Linear(64, 64)

    def forward(self, x):
        return self.c(torch.relu(self.b(torch.relu(self.a(x)))))


class Views(nn.Module):
    def forward(self, x, y):
        return x.view(-1), y.reshape(2, -1), (y * 2).flatten()


class PassThrough(nn.Module):
    def forward(self, x):
        return x, x.unsqueeze(0), x + 1


MODELS = {
    "chain": (Chain, (torch.randn(4, 64),)),
    "views": (Views, (torch.randn(3, 4), torch.randn(2, 3, 5))),
    "pass_through": (PassThrough, (torch.randn(5, 6),)),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_outputs_never_share_input_bytes(name):
    make, inputs = MODELS[name]
    torch.manual_seed(0)
    module = make().eval()
    data = pockettorch.export(module, inputs).to_bytes()
    p = Ptm.parse(data)
    for o in p.outputs:
        out = p.tensors[o]
        for i in p.inputs:
            inp = p.tensors[i]
            assert o != i
            assert out.offset + out.nbytes <= inp.offset or inp.offset + inp.nbytes <= out.offset, (o, i)
    runtime = pockettorch.load(data)
    with torch.no_grad():
        expected = module(*inputs)
    for got, want in zip(runtime(*inputs), expected):
        torch.testing.assert_close(got, want)
