"""Export a module with a quantization scheme, run it on the C runtime, compare with the PT2E reference."""
from __future__ import annotations

import numpy as np
import torch

import pockettorch
from pockettorch import quant
from pockettorch.runtime.module import load


def calibration(inputs, n: int = 4, seed: int = 0) -> list[tuple]:
    g = torch.Generator().manual_seed(seed)
    return [tuple(torch.randn(t.shape, generator=g) for t in inputs) for _ in range(n)]


def export_int8(model, inputs, **kw):
    return pockettorch.export(model.eval(), inputs, quantization=quant.int8(calibration(inputs), **kw))


def run(program, inputs) -> list[np.ndarray]:
    with load(program.to_bytes()) as module:
        return module.run_numpy([t.numpy() for t in inputs])


def output_scale(program) -> float:
    """The scale of the dequantize that makes the (single) program output."""
    out = program.graph.outputs[0]
    assert out.producer is not None and out.producer.op == "dequantize", out.producer
    return out.producer.params["scale"]


def lsb_error(program, inputs) -> float:
    """max |runtime - PT2E reference| in units of the output's quantization step."""
    ref = program.quantization.quantized_model(*inputs)
    got = run(program, inputs)[0]
    return float(np.abs(got - ref.detach().numpy()).max()) / output_scale(program)
