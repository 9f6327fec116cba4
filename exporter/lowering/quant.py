"""Lowering of the quantize/dequantize ops a PT2E-converted program holds (quantized_decomposed.*).

Per-tensor ones become `quantize` / `dequantize` instructions; exporter/quant/lower_int8.py then folds each
dequantize -> op -> quantize pattern into one int8 instruction. A per-channel dequantize of a constant weight is
evaluated here (the float ops' lowering rules read the float weight), and the int8 weight and its scales are
recorded so the int8 pass finds them again from the float constant it meets.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from pockettorch.exporter.lowering import lowers
from pockettorch.runtime import error_catalogue as errors


def _qparams(node):
    scale, zp, qmin, qmax, dtype = node.args[1:6]
    if dtype != torch.int8 or not -128 <= qmin <= qmax <= 127 or not -128 <= zp <= 127:
        raise errors.UnsupportedOpError(f"{node.name}: PocketTorch runs int8 quantization (got {dtype} "
                                        f"[{qmin}, {qmax}] zero point {zp})")
    if not isinstance(scale, float) or not np.isfinite(scale) or scale <= 0:
        raise errors.UnsupportedOpError(f"{node.name}: the scale must be a positive finite number, got {scale!r}")
    return float(scale), int(zp), int(qmin), int(qmax)


@lowers("quantize", "quantize_per_tensor")
def lower_quantize(ctx, node):
    scale, zp, qmin, qmax = _qparams(node)
    return ctx.unary("quantize", ctx.tensor(node.args[0], "float32"), scale=scale, zp=zp, qmin=qmin, qmax=qmax)


@lowers("dequantize", "dequantize_per_tensor")
def lower_dequantize(ctx, node):
    scale, zp, _, _ = _qparams(node)
    x = ctx.tensor(node.args[0])
    if x.dtype != "int8":
        raise errors.UnsupportedOpError(f"{node.name}: dequantize of {x.dtype}")
    return ctx.unary("dequantize", x, scale=scale, zp=zp)


def weight_key(array: np.ndarray) -> str:
    """How the int8 pass finds a float weight's int8 form: its float32 values (layout [out, ...])."""
    a = np.ascontiguousarray(array, dtype=np.float32)
    return hashlib.sha256(repr(a.shape).encode() + a.tobytes()).hexdigest()


def int8_weights(graph) -> dict:
    """weight_key -> (int8 weight, float32 scales per output channel) of the graph's per-channel weights."""
    if not hasattr(graph, "int8_weights"):
        graph.int8_weights = {}
    return graph.int8_weights


@lowers("dequantize", "dequantize_per_channel")
def lower_dequantize_per_channel(ctx, node):
    w, scales, zps = (ctx.tensor(a) for a in node.args[:3])
    axis = int(node.args[3])
    if not (w.is_constant and scales.is_constant and zps.is_constant) or w.dtype != "int8":
        raise errors.UnsupportedOpError(f"{node.name}: a per-channel dequantize of a computed tensor")
    if axis != 0 or np.any(zps.data != 0):
        raise errors.UnsupportedOpError(f"{node.name}: per-channel weights must be symmetric on axis 0")
    q = w.data.astype(np.int8)
    s = scales.data.astype(np.float32).reshape(-1)
    with torch.no_grad():
        value = node.target(*[torch.from_numpy(np.array(v)) if isinstance(v, np.ndarray) else v
                              for v in (q, s, zps.data.astype(np.int64), axis, *node.args[4:])]).numpy()
    int8_weights(ctx.graph)[weight_key(value)] = (q, s)
    return ctx.graph.constant(value, node.name, "float32")
