"""Reductions: Reduce* -> reduce (L1, SumSquare, LogSum, LogSumExp composed), ArgMax/ArgMin -> arg_reduce."""
from __future__ import annotations

import numpy as np

from pockettorch.exporter.onnx_frontend.ops_elementwise import binary, unary
from pockettorch.exporter.onnx_frontend.registry import handles
from pockettorch.runtime.op_table import enum_value

KINDS = {"ReduceSum": "SUM", "ReduceMean": "MEAN", "ReduceMax": "MAX", "ReduceMin": "MIN", "ReduceProd": "PROD",
         "ReduceL2": "NORM2", "ReduceL1": "SUM", "ReduceSumSquare": "SUM", "ReduceLogSum": "SUM",
         "ReduceLogSumExp": "SUM"}
# Ops that take axes as an input from this opset on (an attribute before).
AXES_INPUT_FROM = {"ReduceSum": 13}


def reduce_axes(ctx, node, rank: int) -> list[int] | None:
    """The axes to reduce ([] with noop_with_empty_axes: nothing), None for all."""
    if ctx.opset >= AXES_INPUT_FROM.get(node.op_type, 18):
        axes = ctx.need_const(1, "axes") if ctx.has(1) else None
    else:
        axes = ctx.attr("axes")
    if axes is None or len(np.asarray(axes).reshape(-1)) == 0:
        return [] if ctx.attr("noop_with_empty_axes", 0) else list(range(rank))
    return sorted({int(a) + rank if int(a) < 0 else int(a) for a in np.asarray(axes).reshape(-1)})


def _reduce(ctx, kind: str, x, axes: list[int], keep: bool, suffix: str = ""):
    shape = [1 if d in axes else n for d, n in enumerate(x.shape) if keep or d not in axes]
    return ctx.op("reduce", [x], x.dtype, shape, 0, suffix, kind=enum_value("REDUCE", kind), correction=0, axes=axes)


@handles(*KINDS, note="axes as attribute or input (per opset), keepdims, noop_with_empty_axes")
def lower_reduce(ctx, node):
    x = ctx.input(0)
    axes = reduce_axes(ctx, node, len(x.shape))
    keep = bool(ctx.attr("keepdims", 1))
    op = node.op_type
    if not axes:
        return x
    if op == "ReduceL1":
        x = unary(ctx, "ABS", x, suffix="_abs")
    elif op == "ReduceSumSquare":
        x = binary(ctx, "MUL", x, x, "_sq")
    elif op == "ReduceLogSumExp":  # max-shifted, so large inputs do not overflow
        m = _reduce(ctx, "MAX", x, axes, True, "_max")
        s = _reduce(ctx, "SUM", unary(ctx, "EXP", binary(ctx, "SUB", x, m, "_shift"), suffix="_exp"), axes, keep,
                    "_sum")
        m = m if keep else ctx.reshape(m, s.shape, "_maxv")
        return binary(ctx, "ADD", unary(ctx, "LOG", s, suffix="_log"), m)
    if op == "ReduceLogSum":
        return unary(ctx, "LOG", _reduce(ctx, "SUM", x, axes, keep, "_sum"))
    return _reduce(ctx, KINDS[op], x, axes, keep)


@handles("ArgMax", "ArgMin", note="select_last_index=0")
def lower_arg_reduce(ctx, node):
    if ctx.attr("select_last_index", 0):
        raise ctx.unsupported("select_last_index=1 is not supported")
    x = ctx.input(0)
    rank = len(x.shape)
    axis = ctx.attr("axis", 0)
    axis = axis + rank if axis < 0 else axis
    keep = bool(ctx.attr("keepdims", 1))
    shape = [1 if d == axis else n for d, n in enumerate(x.shape) if keep or d != axis]
    return ctx.op("arg_reduce", [x], "int64", shape, kind=enum_value("ARGREDUCE", node.op_type.upper()), axis=axis)
