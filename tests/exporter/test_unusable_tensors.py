"""Tensors a program cannot hold -- bfloat16, complex, sparse, meta -- as inputs, parameters, buffers or
outputs: export fails with BadModelArgsError naming the tensor and the fix, never an internal error or a
silently wrong program. (float64 models get UnsupportedOpError naming the op: test_errors.py.)"""
from __future__ import annotations

import pytest
import torch
from torch import nn

import pockettorch
from pockettorch import errors


class Linear(nn.Module):
    def __init__(self, dtype=torch.float32):
        super().__init__()
        self.fc = nn.Linear(4, 3).to(dtype)

    def forward(self, x):
        return self.fc(x)


class WithBuffer(nn.Module):
    def __init__(self, buf):
        super().__init__()
        self.register_buffer("offset", buf)

    def forward(self, x):
        return x + 1.0


class Out(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def _meta_linear():
    with torch.device("meta"):
        return Linear()


CASES = {
    "bf16_input": (Linear(), torch.randn(2, 4, dtype=torch.bfloat16), "input 'example_inputs[0]'", ".float()"),
    "complex_input": (Out(lambda x: x.real), torch.randn(2, 4, dtype=torch.complex64), "input", "complex"),
    "sparse_input": (Out(lambda x: x * 2), torch.randn(2, 4).to_sparse(), "input", ".to_dense()"),
    "bf16_parameter": (Linear(torch.bfloat16), torch.randn(2, 4), "parameter 'fc.weight'", "model.float()"),
    "meta_parameter": (_meta_linear(), torch.randn(2, 4), "parameter 'fc.weight'", "meta device"),
    "bf16_buffer": (WithBuffer(torch.zeros(3, dtype=torch.bfloat16)), torch.randn(2, 4), "buffer 'offset'",
                    ".float()"),
    "sparse_buffer": (WithBuffer(torch.eye(3).to_sparse()), torch.randn(2, 4), "buffer 'offset'", ".to_dense()"),
    "complex_buffer": (WithBuffer(torch.zeros(3, dtype=torch.complex64)), torch.randn(2, 4), "buffer 'offset'",
                       "complex"),
    "bf16_output": (Out(lambda x: x.to(torch.bfloat16)), torch.randn(2, 4), "output 'output'", ".float()"),
    "complex_output": (Out(lambda x: torch.complex(x, x)), torch.randn(2, 4), "output 'output'", "complex"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_unusable_tensor_is_a_catalogue_error(name):
    model, x, names, fix = CASES[name]
    with pytest.raises(errors.BadModelArgsError) as info:
        pockettorch.export(model, (x,))
    assert names in str(info.value) and fix in str(info.value), str(info.value)

