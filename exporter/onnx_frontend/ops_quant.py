"""QuantizeLinear / DequantizeLinear: QDQ models (onnxruntime.quantization.quantize_static, QuantFormat.QDQ) import as
int8 programs.

A per-tensor QuantizeLinear of an activation becomes a `quantize` instruction (int8 out) and a DequantizeLinear of
its result a `dequantize`: the IR a PT2E export lowers to, so exporter/quant/lower_int8.py folds each
dequantize -> op -> quantize pattern (Conv, Gemm/MatMul with a constant weight, Add/Mul, pools, Concat, reshapes,
activations) into one int8 instruction, and what matches nothing stays float between the int8 round trips (the
QDQ model's own fake-quant). uint8 tensors (ONNX Runtime's QUInt8 activations) are held as int8 shifted by -128:
q - zp, and so every dequantized value, is unchanged.

A DequantizeLinear of a constant folds to a float constant (fold.py); register_weight then records an int8 weight's
int8 values and per-output-channel scales, as exporter/lowering/quant.py does for PT2E, so lower_int8 finds them from
the float weight the Conv/Gemm/MatMul lowering reads (also transposed: MatMul and Gemm transB=0 read it that way).

What the int8 ops cannot hold stays float: a per-axis (or blocked) QuantizeLinear of an activation is kept as a float
fake-quant, (clamp(round(x / scale) + zp, qmin, qmax) - zp) * scale. A QuantizeLinear result read by anything but a
DequantizeLinear, and a DequantizeLinear of a run-time tensor PocketTorch did not quantize, are refused.
"""
from __future__ import annotations

import numpy as np
import onnx

from pockettorch.exporter.lowering.quant import int8_weights, weight_key
from pockettorch.exporter.onnx_frontend.ops_elementwise import binary, unary
from pockettorch.exporter.onnx_frontend.registry import handles

RANGES = {np.dtype(np.uint8): (0, 255), np.dtype(np.int8): (-128, 127)}
SHIFT = {np.dtype(np.uint8): -128, np.dtype(np.int8): 0}  # uint8 values held as int8


def _zero_point(ctx) -> np.ndarray:
    if not ctx.has(2) and ctx.node.op_type == "DequantizeLinear":  # no zero point: 0 of the input's type
        return np.zeros((), ctx.quantized.get(ctx.node.input[0], np.dtype(np.int8)))
    if not ctx.has(2):  # no zero point: 0 of the output_dtype attribute's type (opset 21), uint8 by default
        output_dtype = ctx.attr("output_dtype", 0)
        if output_dtype not in (0, onnx.TensorProto.UINT8, onnx.TensorProto.INT8):
            raise ctx.unsupported(f"output_dtype {onnx.TensorProto.DataType.Name(output_dtype)} (int8 and uint8 "
                                  f"are supported)" if output_dtype in onnx.TensorProto.DataType.values()
                                  else f"output_dtype {output_dtype}")
        return np.zeros((), np.int8 if output_dtype == onnx.TensorProto.INT8 else np.uint8)
    zp = ctx.const(2)
    if zp is None:
        raise ctx.unsupported("its zero point is computed at run time")
    zp = np.asarray(zp)
    if zp.dtype not in RANGES:
        raise ctx.unsupported(f"zero point of dtype {zp.dtype} (int8 and uint8 are supported)")
    return zp


def _params(ctx, x_rank: int):
    """(scale, zero point, qmin, qmax) as float32 arrays broadcastable against x (per-axis scales reshaped)."""
    scale = np.asarray(ctx.need_const(1, "scale"), np.float32)
    zp_raw = _zero_point(ctx)
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


def _per_tensor(ctx):
    """(scale, zero point as int8) of a per-tensor Q/DQ whose int8 form the runtime holds, else None."""
    scale = ctx.const(1)
    if scale is None or np.asarray(scale).size != 1 or ctx.attr("block_size", 0):
        return None
    zp = _zero_point(ctx)
    if zp.size != 1:
        return None
    scale = float(np.asarray(scale, np.float32).reshape(()))
    if not np.isfinite(scale) or scale <= 0:
        return None
    return scale, int(zp.reshape(())) + SHIFT[zp.dtype]


@handles("QuantizeLinear", note="per-tensor (int8/uint8) -> an int8 `quantize` (QDQ patterns become int8 ops); "
                                "per-axis of an activation: float fake-quant")
def lower_quantize(ctx, node):
    x = ctx.input(0, "float32")
    params = _per_tensor(ctx)
    if params is not None:
        scale, zp = params
        q = ctx.op("quantize", [x], "int8", x.shape, scale=scale, zp=zp, qmin=-128, qmax=127)
    else:
        scale, zp, lo, hi = _params(ctx, len(x.shape))
        q = unary(ctx, "ROUND", binary(ctx, "DIV", x, ctx.constant(scale, "scale", "float32"), "_scaled"),
                  suffix="_round")
        q = binary(ctx, "ADD", q, ctx.constant(zp, "zero_point", "float32"), "_zp")
        q = unary(ctx, "CLAMP", q, float(lo), float(hi), suffix="_q")
    ctx.quantized[node.output[0]] = _zero_point(ctx).dtype
    return q


@handles("DequantizeLinear", note="of constants (folded; int8 weights kept for the int8 ops) and of a "
                                  "QuantizeLinear (`dequantize`, or the fake-quant's float)")
def lower_dequantize(ctx, node):
    source = node.input[0]
    if source not in ctx.quantized:
        raise ctx.unsupported("it dequantizes an int8 tensor computed at run time that no QuantizeLinear of this "
                              "model made (an int8 graph input, or an int8 op's result)")
    q = ctx.values[source]
    if q.dtype == "int8":
        params = _per_tensor(ctx)
        if params is None:
            raise ctx.unsupported("a per-axis DequantizeLinear of a per-tensor QuantizeLinear")
        scale, zp = params
        return ctx.op("dequantize", [q], "float32", q.shape, scale=scale, zp=zp)
    scale, zp, _, _ = _params(ctx, len(q.shape))
    centered = binary(ctx, "SUB", q, ctx.constant(zp, "zero_point", "float32"), "_centered")
    return binary(ctx, "MUL", centered, ctx.constant(scale, "scale", "float32"))


def register_weight(ctx, node) -> None:
    """After a DequantizeLinear of constants was folded: record an int8 weight with symmetric scales (zero points
    0) per output channel, keyed by its float value (axis 0: Conv OIHW, Gemm transB=1) and by its transpose's
    (axis 1 of a 2-D [K, N]: MatMul, Gemm transB=0)."""
    q = ctx.const(0)
    if q is None or q.dtype != np.int8 or q.ndim < 2 or not ctx.has(1):
        return
    scale = np.asarray(ctx.const(1), np.float32)
    zp = _zero_point(ctx) if ctx.has(2) else np.zeros((), np.int8)
    if np.any(zp != 0) or scale is None or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        return
    value = ctx.values[node.output[0]].data
    axis = ctx.attr("axis", 1)
    axis = axis + q.ndim if axis < 0 else axis
    per_tensor = scale.size == 1
    weights = int8_weights(ctx.graph)
    if per_tensor or axis == 0:
        weights[weight_key(value)] = (q, np.full(q.shape[0], scale.reshape(-1)[0], np.float32) if per_tensor
                                      else scale.reshape(-1))
    if q.ndim == 2 and (per_tensor or axis == 1):
        weights[weight_key(np.ascontiguousarray(value.T))] = (
            np.ascontiguousarray(q.T), np.full(q.shape[1], scale.reshape(-1)[0], np.float32) if per_tensor
            else scale.reshape(-1))
