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


def int8_errors(program, inputs) -> dict[str, int]:
    """Per int8 tensor the runtime writes: max |runtime - reference| in quantization steps (integers), the
    reference being the torch.export program the runtime was lowered from (the PT2E-converted model) run in eager."""
    values: dict[str, torch.Tensor] = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            if isinstance(out, torch.Tensor):
                values[n.name] = out
            return out

    with torch.no_grad():
        Recorder(program.exported.module()).run(*inputs)
    with load(program.to_bytes()) as module:
        _, per_instruction = module.run_capture([t.numpy() for t in inputs])
    errors = {}
    for node, outs in zip(program.graph.nodes, per_instruction):
        for t, got in zip(node.outputs, outs):
            if t.dtype == "int8" and t.origin in values:
                ref = values[t.origin].numpy().astype(np.int32).reshape(got.shape)
                errors[t.origin] = int(np.abs(got.astype(np.int32) - ref).max())
    assert errors, "no int8 tensor was compared"
    return errors
