"""QuantizeLinear / DequantizeLinear, imported as float until PocketTorch's int8 ops land.

Q -> DQ of a constant folds to a float constant (the generic constant folding). Q -> DQ of an activation is a
fake-quant: it is kept, in float, as (clamp(round(x / scale) + zp, qmin, qmax) - zp) * scale, so the program computes
what the QDQ model computes (ONNX Runtime included), with float kernels. A Q whose int8 value is used other than by a
DequantizeLinear, or a DQ of a run-time int8 tensor, needs the int8 ops and is refused.
"""
from __future__ import annotations

import numpy as np

from pockettorch.exporter.onnx_frontend.ops_elementwise import binary, unary
from pockettorch.exporter.onnx_frontend.registry import handles

RANGES = {np.dtype(np.uint8): (0, 255), np.dtype(np.int8): (-128, 127)}


def _params(ctx, x_rank: int):
    """(scale, zero point, qmin, qmax) as float32 arrays broadcastable against x (per-axis scales reshaped)."""
    scale = np.asarray(ctx.need_const(1, "scale"), np.float32)
    zp_raw = ctx.const(2) if ctx.has(2) else np.zeros((), np.uint8)
    if ctx.has(2) and zp_raw is None:
        raise ctx.unsupported("its zero point is computed at run time")
    zp_raw = np.asarray(zp_raw)
    if zp_raw.dtype not in RANGES:
        raise ctx.unsupported(f"zero point of dtype {zp_raw.dtype} (int8 and uint8 are supported)")
    if ctx.attr("block_size", 0):
        raise ctx.unsupported("blocked quantization is not supported")
    if scale.ndim == 1 and scale.size > 1:
        axis = ctx.attr("axis", 1)
        axis = axis + x_rank if axis < 0 else axis
        shape = [1] * x_rank
        shape[axis] = scale.size
        scale, zp = scale.reshape(shape), zp_raw.astype(np.float32).reshape(shape)
    else:
        zp = zp_raw.astype(np.float32)
    lo, hi = RANGES[zp_raw.dtype]
    return scale, zp, lo, hi


@handles("QuantizeLinear", note="activation Q->DQ pairs as float fake-quant (int8 import needs the int8 ops)")
def lower_quantize(ctx, node):
    x = ctx.input(0, "float32")
    scale, zp, lo, hi = _params(ctx, len(x.shape))
    q = unary(ctx, "ROUND", binary(ctx, "DIV", x, ctx.constant(scale, "scale", "float32"), "_scaled"), suffix="_round")
    q = binary(ctx, "ADD", q, ctx.constant(zp, "zero_point", "float32"), "_zp")
    q = unary(ctx, "CLAMP", q, float(lo), float(hi), suffix="_q")
    ctx.fake_quant[node.output[0]] = q
    return q


@handles("DequantizeLinear", note="of constants (folded) and of a QuantizeLinear (fake-quant)")
def lower_dequantize(ctx, node):
    source = node.input[0]
    if source not in ctx.fake_quant:
        raise ctx.unsupported("it dequantizes an int8 tensor computed at run time; int8 programs need the int8 "
                              "ops (QDQ pairs around float ops and quantized weights import as float)")
    q = ctx.values[source]
    scale, zp, _, _ = _params(ctx, len(q.shape))
    centered = binary(ctx, "SUB", q, ctx.constant(zp, "zero_point", "float32"), "_centered")
    return binary(ctx, "MUL", centered, ctx.constant(scale, "scale", "float32"))
