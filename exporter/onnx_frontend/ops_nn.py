"""Convolution, dense layers, normalization and softmax ONNX ops -> conv2d / conv_transpose2d / linear / matmul /
*_norm / softmax, and the window helpers the pools share. 1-D convolutions run as 2-D ones with H = 1."""
from __future__ import annotations


import numpy as np
from torch.utils._sympy.functions import FloorDiv

from pockettorch.exporter.lowering.common import NO_ACT
from pockettorch.exporter.onnx_frontend.ops_elementwise import binary, scalar
from pockettorch.exporter.onnx_frontend.registry import handles
from pockettorch.runtime import error_catalogue as errors
from pockettorch.runtime.op_table import enum_value


def float_input(ctx, i: int):
    x = ctx.input(i)
    if x.dtype != "float32":
        raise ctx.unsupported(f"input {i} is {x.dtype}; this operator runs on float32")
    return x


def window(ctx, spatial: list[int], kernel: list[int]):
    """(strides, dilations, pads_begin, pads_end) of a Conv/ConvTranspose/pool node, auto_pad resolved."""
    n = len(kernel)
    strides = list(ctx.attr("strides", [1] * n))
    dilations = list(ctx.attr("dilations", [1] * n))
    pads = list(ctx.attr("pads", [0] * 2 * n))
    auto = ctx.attr("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * 2 * n
        for d in range(n):
            out = -(-spatial[d] // strides[d])
            total = max((out - 1) * strides[d] + (kernel[d] - 1) * dilations[d] + 1 - spatial[d], 0)
            small = total // 2
            pads[d], pads[d + n] = (small, total - small) if auto == "SAME_UPPER" else (total - small, small)
    elif auto == "VALID":
        pads = [0] * 2 * n
    return strides, dilations, pads[:n], pads[n:]


def window_sym(ctx, x, kernel, strides, dil, pads, ceil_mode: int = 0) -> dict:
    """Dynamic dims of a window op's NC* output: the batch dim's symbol and, for dynamic spatial dims,
    (size + 2 * pad - span) // stride + 1 (floor mode)."""
    sym = {0: x.sym[0]} if 0 in x.sym else {}
    for d in range(len(kernel)):
        size = x.sym.get(2 + d)
        if size is None:
            continue
        if ceil_mode:
            raise errors.DynamicShapeError(f"{ctx.where()}: ceil_mode pooling over a dynamic dim is not supported")
        span = (kernel[d] - 1) * dil[d] + 1
        sym[2 + d] = FloorDiv(size + 2 * pads[d] - span, strides[d]) + 1 if strides[d] > 1 else \
            size + 2 * pads[d] - span + 1
    return sym


def to2d(ctx, x, suffix: str):
    """(N, C, L) -> (N, C, 1, L)."""
    return ctx.reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2]), suffix,
                       sym={d if d < 2 else d + 1: e for d, e in x.sym.items()})


def _pad_explicit(ctx, x, begin: list[int], end: list[int], value: float):
    """A pad op for asymmetric padding (the window ops take one pad per side pair)."""
    pads = []
    for b, e in zip(reversed(begin), reversed(end)):
        pads += [int(b), int(e)]
    shape = list(x.shape[:2]) + [s + b + e for s, b, e in zip(x.shape[2:], begin, end)]
    return ctx.op("pad", [x], x.dtype, shape, 0, "_pad", mode=enum_value("PAD", "CONSTANT"), value=float(value),
                  pads=pads)


def window_input(ctx, x, begin, end, value):
    """x and the symmetric pads the op gets (asymmetric ones are padded first)."""
    if list(begin) != list(end):
        return _pad_explicit(ctx, x, begin, end, value), [0] * len(begin)
    return x, list(begin)


def spatial_rank(ctx, x) -> int:
    if len(x.shape) not in (3, 4):
        raise ctx.unsupported(f"{len(x.shape) - 2}-D windows are not supported; PocketTorch runs 1-D and 2-D ones")
    return len(x.shape) - 2


@handles("Conv", note="1-D and 2-D, groups/depthwise, pads incl. auto_pad and asymmetric")
def lower_conv(ctx, node):
    x, w = float_input(ctx, 0), ctx.input(1, "float32")
    rank = spatial_rank(ctx, x)
    kernel = list(w.shape[2:])
    strides, dil, begin, end = window(ctx, list(x.shape[2:]), kernel)
    x, pads = window_input(ctx, x, begin, end, 0.0)
    out_sp = [(x.shape[2 + d] + 2 * pads[d] - (kernel[d] - 1) * dil[d] - 1) // strides[d] + 1 for d in range(rank)]
    inputs = [x, w] + ([ctx.input(2, "float32")] if ctx.has(2) else [])
    groups = int(ctx.attr("group", 1))
    if rank == 2:
        out = ctx.new("float32", [x.shape[0], w.shape[0], *out_sp], sym=window_sym(ctx, x, kernel, strides, dil, pads))
        ctx.emit("conv2d", inputs, [out], stride_h=strides[0], stride_w=strides[1], pad_h=pads[0], pad_w=pads[1],
                 dil_h=dil[0], dil_w=dil[1], groups=groups, **NO_ACT)
        return out
    inputs[:2] = [to2d(ctx, x, "_2d"), ctx.reshape(w, (w.shape[0], w.shape[1], 1, w.shape[2]))]
    y = ctx.op("conv2d", inputs, "float32", [x.shape[0], w.shape[0], 1, out_sp[0]], 0, "_2d", stride_h=1,
               stride_w=strides[0], pad_h=0, pad_w=pads[0], dil_h=1, dil_w=dil[0], groups=groups, **NO_ACT)
    return ctx.reshape(y, (x.shape[0], w.shape[0], out_sp[0]), "")


@handles("ConvTranspose", note="1-D and 2-D, groups, output_padding/output_shape; symmetric pads")
def lower_conv_transpose(ctx, node):
    x, w = float_input(ctx, 0), ctx.input(1, "float32")
    rank = spatial_rank(ctx, x)
    kernel = list(w.shape[2:])
    n = rank
    strides = list(ctx.attr("strides", [1] * n))
    dil = list(ctx.attr("dilations", [1] * n))
    out_pad = list(ctx.attr("output_padding", [0] * n))
    full = [strides[d] * (x.shape[2 + d] - 1) + out_pad[d] + (kernel[d] - 1) * dil[d] + 1 for d in range(n)]
    output_shape = ctx.attr("output_shape")
    auto = ctx.attr("auto_pad", "NOTSET")
    if output_shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        target = list(output_shape)[-n:] if output_shape is not None else \
            [x.shape[2 + d] * strides[d] for d in range(n)]
        total = [full[d] - target[d] for d in range(n)]
        upper = auto != "SAME_LOWER"
        begin = [t // 2 if upper else t - t // 2 for t in total]
        end = [t - b for t, b in zip(total, begin)]
    else:
        pads = list(ctx.attr("pads", [0] * 2 * n))
        begin, end = pads[:n], pads[n:]
    if begin != end:
        raise ctx.unsupported(f"asymmetric pads {begin} / {end} are not supported for ConvTranspose")
    out_sp = [full[d] - 2 * begin[d] for d in range(n)]
    groups = int(ctx.attr("group", 1))
    channels = w.shape[1] * groups
    inputs = [x, w] + ([ctx.input(2, "float32")] if ctx.has(2) else [])
    if rank == 2:
        return ctx.op("conv_transpose2d", inputs, "float32", [x.shape[0], channels, *out_sp], stride_h=strides[0],
                      stride_w=strides[1], pad_h=begin[0], pad_w=begin[1], dil_h=dil[0], dil_w=dil[1], groups=groups,
                      **NO_ACT)
    inputs[:2] = [to2d(ctx, x, "_2d"), ctx.reshape(w, (w.shape[0], w.shape[1], 1, w.shape[2]))]
    y = ctx.op("conv_transpose2d", inputs, "float32", [x.shape[0], channels, 1, out_sp[0]], 0, "_2d", stride_h=1,
               stride_w=strides[0], pad_h=0, pad_w=begin[0], dil_h=1, dil_w=dil[0], groups=groups, **NO_ACT)
    return ctx.reshape(y, (x.shape[0], channels, out_sp[0]), "")


def _linear(ctx, x, weight: np.ndarray, bias: np.ndarray | None, suffix: str = ""):
    """x @ weight.T (+ bias) over x's last dim: the linear op with constant [N, K] weights."""
    inputs = [x, ctx.constant(np.ascontiguousarray(weight, dtype=np.float32), "weight")]
    if bias is not None:
        inputs.append(ctx.constant(np.ascontiguousarray(bias, dtype=np.float32), "bias"))
    return ctx.op("linear", inputs, "float32", (*x.shape[:-1], weight.shape[0]), 0, suffix, **NO_ACT)


def _transpose_last(ctx, x, suffix: str):
    perm = list(range(len(x.shape) - 2)) + [len(x.shape) - 1, len(x.shape) - 2]
    shape = [x.shape[p] for p in perm]
    if x.is_constant:
        return ctx.constant(np.ascontiguousarray(np.transpose(x.data, perm)), x.name + "_t", x.dtype)
    return ctx.op("permute", [x], x.dtype, shape, 0, suffix, perm=perm)


def matmul(ctx, a, b, suffix: str = "", transpose_b: bool = False):
    m = a.shape[-2]
    n = b.shape[-2] if transpose_b else b.shape[-1]
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return ctx.op("matmul", [a, b], "float32", (*batch, m, n), 0, suffix, transpose_b=int(transpose_b))


@handles("MatMul", note="constant 2-D right operand -> linear (packed weights); otherwise batched matmul")
def lower_matmul(ctx, node):
    a, b = ctx.input(0), ctx.input(1)
    if a.dtype != "float32" or b.dtype != "float32":
        raise ctx.unsupported(f"MatMul of {a.dtype} x {b.dtype} is not supported (float32)")
    if len(b.shape) == 2 and b.is_constant and len(a.shape) >= 1:
        if len(a.shape) == 1:
            y = _linear(ctx, ctx.reshape(a, (1, a.shape[0]), "_row"), b.data.T, None, "_row")
            return ctx.reshape(y, (b.shape[1],), "")
        return _linear(ctx, a, b.data.T, None)
    a2 = ctx.reshape(a, (1, a.shape[0]), "_row") if len(a.shape) == 1 else a
    b2 = ctx.reshape(b, (b.shape[0], 1), "_col") if len(b.shape) == 1 else b
    if len(a.shape) > 1 and len(b.shape) > 1:
        return matmul(ctx, a2, b2)
    y = matmul(ctx, a2, b2, "_2d")
    shape = list(y.shape)
    if len(b.shape) == 1:
        shape.pop(-1)
    if len(a.shape) == 1:
        shape.pop(-2 if len(b.shape) > 1 else -1)
    return ctx.reshape(y, shape, "")


@handles("Gemm", note="alpha/beta/transA/transB; constant B -> linear with the bias folded")
def lower_gemm(ctx, node):
    a, b = ctx.input(0, "float32"), ctx.input(1, "float32")
    alpha, beta = float(ctx.attr("alpha", 1.0)), float(ctx.attr("beta", 1.0))
    trans_a, trans_b = ctx.attr("transA", 0), ctx.attr("transB", 0)
    if trans_a:
        a = _transpose_last(ctx, a, "_t")
    c = ctx.input(2, "float32")
    n = b.shape[0] if trans_b else b.shape[1]
    bias = None
    if c is not None and c.is_constant and c.data.size in (1, n) and (len(c.shape) < 2 or c.shape[0] == 1) \
            and (c.shape[-1:] in ((), (1,), (n,))):
        bias, c = np.broadcast_to(c.data.reshape(-1) * beta, (n,)), None
    if b.is_constant:
        weight = (b.data if trans_b else b.data.T) * alpha
        y = _linear(ctx, a, weight, bias, "" if c is None else "_ab")
        if c is None:
            return y
    else:
        y = matmul(ctx, a, b, "_ab", transpose_b=bool(trans_b))
        if alpha != 1.0:
            y = binary(ctx, "MUL", y, scalar(ctx, alpha, y), "_scaled")
        if bias is not None:
            c, beta = ctx.constant(bias, "bias", "float32"), 1.0  # beta is in the bias already
        elif c is None:
            return ctx.op("cast", [y], "float32", y.shape)
    if beta != 1.0:
        c = binary(ctx, "MUL", c, scalar(ctx, beta, c), "_c")
    return binary(ctx, "ADD", y, c)


@handles("BatchNormalization", note="inference (training_mode=0)")
def lower_batch_norm(ctx, node):
    if ctx.attr("training_mode", 0) or len([o for o in node.output if o]) > 1:
        raise ctx.unsupported("training-mode batch normalization is not supported (inference only)")
    x = float_input(ctx, 0)
    scale, bias, mean, var = (ctx.input(i, "float32") for i in range(1, 5))
    return ctx.op("batch_norm", [x, mean, var, scale, bias], "float32", x.shape, eps=float(ctx.attr("epsilon", 1e-5)))


@handles("LayerNormalization", note="any axis; Mean/InvStdDev outputs unsupported")
def lower_layer_norm(ctx, node):
    if len([o for o in node.output if o]) > 1:
        raise ctx.unsupported("its Mean / InvStdDev outputs are used; PocketTorch computes Y only")
    x = float_input(ctx, 0)
    rank = len(x.shape)
    axis = ctx.attr("axis", -1)
    axis = axis + rank if axis < 0 else axis
    norm_shape = x.shape[axis:]
    inputs = [x]
    for i in (1, 2):
        t = ctx.input(i, "float32")
        if t is None:
            continue
        if t.shape != norm_shape:
            if not t.is_constant:
                raise ctx.unsupported(f"scale/bias of shape {list(t.shape)} (normalized shape {list(norm_shape)})")
            t = ctx.constant(np.ascontiguousarray(np.broadcast_to(t.data, norm_shape)), t.name, "float32")
        inputs.append(t)
    return ctx.op("layer_norm", inputs, "float32", x.shape, axes=rank - axis, eps=float(ctx.attr("epsilon", 1e-5)),
                  has_weight=int(ctx.has(1)), has_bias=int(ctx.has(2)))


@handles("InstanceNormalization", "GroupNormalization",
         notes={"GroupNormalization": "per-channel (opset 21) or constant per-group (opset 18) scale and bias"})
def lower_group_norm(ctx, node):
    x = float_input(ctx, 0)
    channels = x.shape[1]
    groups = channels if node.op_type == "InstanceNormalization" else int(ctx.attr("num_groups"))
    scale, bias = ctx.input(1, "float32"), ctx.input(2, "float32")
    if scale.shape != (channels,) or bias.shape != (channels,):
        if not (scale.is_constant and bias.is_constant and scale.shape == (groups,) and bias.shape == (groups,)):
            raise ctx.unsupported(f"scale/bias of shapes {list(scale.shape)}, {list(bias.shape)} for {channels} "
                                  f"channels in {groups} groups")
        scale, bias = (ctx.constant(np.repeat(t.data, channels // groups), t.name, "float32") for t in (scale, bias))
    return ctx.op("group_norm", [x, scale, bias], "float32", x.shape, groups=groups,
                  eps=float(ctx.attr("epsilon", 1e-5)))


@handles("Softmax", "LogSoftmax")
def lower_softmax(ctx, node):
    x = float_input(ctx, 0)
    axis = ctx.attr("axis", -1)
    axis = axis + len(x.shape) if axis < 0 else axis
    return ctx.op("softmax", [x], "float32", x.shape, axis=axis, log=int(node.op_type == "LogSoftmax"))
