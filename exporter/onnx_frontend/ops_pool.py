"""Pooling ONNX ops -> max_pool2d / avg_pool2d (1-D as 2-D with H = 1), GlobalAverage/MaxPool -> reduce."""
from __future__ import annotations

import math

from pockettorch.exporter.onnx_frontend.ops_nn import float_input, spatial_rank, to2d, window, window_input, window_sym
from pockettorch.exporter.onnx_frontend.registry import handles
from pockettorch.runtime.op_table import enum_value


def _pool_out(size, k, s, d, pb, pe, ceil_mode):
    """Output length of a pooling window (torch's rule for ceil mode: the last window starts inside the input)."""
    span = size + pb + pe - ((k - 1) * d + 1)
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    if (out - 1) * s >= size + pb:
        out -= 1
    return out


@handles("MaxPool", "AveragePool", notes={"MaxPool": "1-D and 2-D; pads incl. auto_pad, ceil_mode, dilations",
                                          "AveragePool": "1-D and 2-D; pads incl. auto_pad, ceil_mode, "
                                                         "count_include_pad"})
def lower_pool(ctx, node):
    if node.op_type == "MaxPool" and len([o for o in node.output if o]) > 1:
        raise ctx.unsupported("its Indices output is used; PocketTorch computes the values only")
    x = float_input(ctx, 0)
    rank = spatial_rank(ctx, x)
    kernel = list(ctx.attr("kernel_shape"))
    strides, dil, begin, end = window(ctx, list(x.shape[2:]), kernel)
    ceil_mode = int(ctx.attr("ceil_mode", 0))
    is_max = node.op_type == "MaxPool"
    include_pad = int(ctx.attr("count_include_pad", 0))
    if begin != end and not is_max and not include_pad:
        raise ctx.unsupported("asymmetric pads with count_include_pad=0 are not supported")
    x, pads = window_input(ctx, x, begin, end, -math.inf if is_max else 0.0)
    out_sp = [_pool_out(x.shape[2 + d], kernel[d], strides[d], dil[d], pads[d], pads[d], ceil_mode)
              for d in range(rank)]
    if rank == 1:
        x4, kernel, strides, dil, pads = to2d(ctx, x, "_2d"), [1] + kernel, [1] + strides, [1] + dil, [0] + pads
        shape4 = (x.shape[0], x.shape[1], 1, out_sp[0])
    else:
        x4, shape4 = x, (x.shape[0], x.shape[1], *out_sp)
    window_params = dict(kernel_h=kernel[0], kernel_w=kernel[1], stride_h=strides[0], stride_w=strides[1],
                         pad_h=pads[0], pad_w=pads[1])
    suffix = "" if rank == 2 else "_2d"
    y = ctx.new("float32", shape4, 0, suffix, sym=window_sym(ctx, x4, kernel, strides, dil, pads, ceil_mode))
    if is_max:
        ctx.emit("max_pool2d", [x4], [y], dil_h=dil[0], dil_w=dil[1], **window_params)
    else:
        if any(d != 1 for d in dil):
            raise ctx.unsupported("dilated average pooling is not supported")
        ctx.emit("avg_pool2d", [x4], [y], count_include_pad=include_pad, divisor=0, **window_params)
    return y if rank == 2 else ctx.reshape(y, (x.shape[0], x.shape[1], out_sp[0]), "")


@handles("GlobalAveragePool", "GlobalMaxPool")
def lower_global_pool(ctx, node):
    x = float_input(ctx, 0)
    axes = list(range(2, len(x.shape)))
    kind = "MEAN" if node.op_type == "GlobalAveragePool" else "MAX"
    return ctx.op("reduce", [x], "float32", x.shape[:2] + (1,) * len(axes), kind=enum_value("REDUCE", kind),
                  correction=0, axes=axes)
