"""Indexing ONNX ops: Gather -> take, GatherElements -> gather, GatherND -> advanced_index, ScatterND -> index_put,
ScatterElements -> scatter."""
from __future__ import annotations

import numpy as np

from pockettorch.exporter.onnx_frontend.ops_shape import slice_axis
from pockettorch.runtime.op_table import enum_value
from pockettorch.exporter.onnx_frontend.registry import handles

SCATTER_REDUCE = {"none": "NONE", "add": "SUM", "mul": "PROD", "max": "AMAX", "min": "AMIN"}


def _axis(ctx, rank: int, default: int = 0) -> int:
    axis = ctx.attr("axis", default)
    return axis + rank if axis < 0 else axis


def _index(ctx, i: int, size: int | None = None):
    """An index input as int64; constant negative indices wrap (when `size` is given)."""
    t = ctx.input(i)
    if t.dtype not in ("int64", "int32"):
        raise ctx.unsupported(f"indices of dtype {t.dtype}")
    if t.is_constant and size is not None:
        return ctx.constant(np.where(t.data < 0, t.data + size, t.data), t.name, "int64")
    return ctx.cast(t, "int64")


@handles("Gather", note="any axis; negative indices wrap")
def lower_gather(ctx, node):
    x = ctx.input(0)
    axis = _axis(ctx, len(x.shape))
    idx = _index(ctx, 1)
    shape = x.shape[:axis] + idx.shape + x.shape[axis + 1:]
    return ctx.op("take", [x, idx], x.dtype, shape, axis=axis, wrap=1)


@handles("GatherElements")
def lower_gather_elements(ctx, node):
    x = ctx.input(0)
    axis = _axis(ctx, len(x.shape))
    idx = _index(ctx, 1, x.shape[axis])
    return ctx.op("gather", [x, idx], x.dtype, idx.shape, axis=axis)


def _nd_indices(ctx, idx):
    """[..., k] index tensor -> k tensors of shape idx.shape[:-1]."""
    k = idx.shape[-1]
    if idx.is_constant:
        return [ctx.constant(np.ascontiguousarray(idx.data[..., j]), f"{idx.name}_{j}", "int64") for j in range(k)]
    out = []
    for j in range(k):
        part = slice_axis(ctx, idx, len(idx.shape) - 1, j, 1, 1, 0, f"_i{j}")
        out.append(ctx.reshape(part, idx.shape[:-1], f"_i{j}v"))
    return out


@handles("GatherND", note="batch_dims=0")
def lower_gather_nd(ctx, node):
    if ctx.attr("batch_dims", 0):
        raise ctx.unsupported("batch_dims > 0 is not supported")
    x, idx = ctx.input(0), _index(ctx, 1)
    k = idx.shape[-1]
    shape = idx.shape[:-1] + x.shape[k:]
    return ctx.op("advanced_index", [x, *_nd_indices(ctx, idx)], x.dtype, shape, axis=0)


@handles("ScatterND", note="reduction none/add")
def lower_scatter_nd(ctx, node):
    reduction = ctx.attr("reduction", "none")
    if reduction not in ("none", "add"):
        raise ctx.unsupported(f"reduction {reduction!r} is not supported (none, add)")
    x, idx, updates = ctx.input(0), _index(ctx, 1), ctx.input(2)
    return ctx.op("index_put", [x, ctx.cast(updates, x.dtype), *_nd_indices(ctx, idx)], x.dtype, x.shape, axis=0,
                  accumulate=int(reduction == "add"))


@handles("ScatterElements", note="reduction none/add/mul/max/min")
def lower_scatter_elements(ctx, node):
    x = ctx.input(0)
    axis = _axis(ctx, len(x.shape))
    reduction = ctx.attr("reduction", "none")
    if reduction not in SCATTER_REDUCE:
        raise ctx.unsupported(f"reduction {reduction!r} is not supported")
    idx, updates = _index(ctx, 1, x.shape[axis]), ctx.cast(ctx.input(2), x.dtype)
    return ctx.op("scatter", [x, idx, updates], x.dtype, x.shape, axis=axis,
                  reduce=enum_value("SCATTER", SCATTER_REDUCE[reduction]), include_self=1)
