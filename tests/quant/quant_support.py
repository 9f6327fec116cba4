"""Export a module with a quantization scheme, run it on the C runtime, compare with the PT2E reference."""
from __future__ import annotations

import numpy as np
import torch

import pockettorch
from pockettorch import quant
from pockettorch.exporter.quant.report import record
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
    values = record(program.exported.module(), inputs)
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


def _requant(y: torch.Tensor, p: dict) -> torch.Tensor:
    q = torch.round(y * (1.0 / p["out_scale"])) + p["out_zp"]
    return torch.clamp(q, p.get("out_min", -128), p.get("out_max", 127))


def _dq(t: np.ndarray, scale: float, zp: int) -> torch.Tensor:
    return (torch.from_numpy(t.astype(np.float32)) - zp) * scale


def replay_errors(program, inputs) -> dict[str, int]:
    """Per qconv2d / qlinear / qbinary instruction: max |runtime output - the PT2E reference decomposition (dequantize,
    float op, quantize) applied to the runtime's own int8 inputs|, in steps. Unlike int8_errors this isolates each
    instruction from the differences its inputs inherit from earlier layers."""
    import torch.nn.functional as F

    with load(program.to_bytes()) as module:
        _, per_instruction = module.run_capture([t.numpy() for t in inputs])
    produced = {id(t): v for node, outs in zip(program.graph.nodes, per_instruction)
                for t, v in zip(node.outputs, outs)}
    feeds = {id(t): a.numpy() for t, a in zip(program.graph.inputs, inputs)}

    def value(t):
        return t.data if t.is_constant else produced.get(id(t), feeds.get(id(t)))

    errors = {}
    with torch.no_grad():
        for i, (node, outs) in enumerate(zip(program.graph.nodes, per_instruction)):
            p = node.params
            if node.op in ("qconv2d", "qlinear"):
                x = _dq(value(node.inputs[0]), p["in_scale"], p["in_zp"])
                scale = torch.from_numpy(node.inputs[2].data)
                w8 = torch.from_numpy(node.inputs[1].data.astype(np.float32))
                w = w8 * scale.reshape(-1, *([1] * (w8.dim() - 1)))
                b = torch.from_numpy(node.inputs[3].data) if len(node.inputs) > 3 else None
                y = (F.conv2d(x, w, b, (p["stride_h"], p["stride_w"]), (p["pad_h"], p["pad_w"]),
                              (p["dil_h"], p["dil_w"]), p["groups"]) if node.op == "qconv2d" else F.linear(x, w, b))
            elif node.op == "qbinary":
                a = _dq(value(node.inputs[0]), p["a_scale"], p["a_zp"])
                b = _dq(value(node.inputs[1]), p["b_scale"], p["b_zp"])
                y = a * b if p["kind"] == 2 else a + b
            else:
                continue
            ref = _requant(y, p).numpy().astype(np.int32)
            errors[f"{i}:{node.op}"] = int(np.abs(outs[0].astype(np.int32) - ref).max())
    assert errors, "no instruction was replayed"
    return errors
