"""Lowering of indexing ops beyond a single take: advanced indexing with several index tensors, index_put,
scatter / scatter_add / scatter_reduce, as_strided, unfold and embedding_bag.

Index values are data: the kernels check them at run time (negative ones wrap where torch wraps them) and
return PKT_INDEX_OUT_OF_RANGE instead of reading or writing outside a tensor. as_strided and unfold read
positions known at export, so they become a `take` with a constant index the exporter checked.
"""
from __future__ import annotations

import numpy as np

from pockettorch.exporter.lowering import lowers
from pockettorch.exporter.lowering.common import NO_ACT, call_arg, norm_dim, static_shape
from pockettorch.exporter.lowering.shape import _index_tensor, _take
from pockettorch.runtime import error_catalogue as errors
from pockettorch.runtime.op_table import enum_value

SCATTER_REDUCE = {"sum": "SUM", "prod": "PROD", "mean": "MEAN", "amax": "AMAX", "amin": "AMIN"}
SCATTER_DTYPES = ("float32", "int64", "int32")


def _together(ctx, x, used: list[int]):
    """x with the indexed dims `used` next to each other -> (x', first indexed dim, permutation or None).
    Non-adjacent index tensors put their broadcast shape first in torch, which is where moving the indexed
    dims to the front puts it."""
    if used == list(range(used[0], used[0] + len(used))):
        return x, used[0], None
    perm = used + [d for d in range(len(x.shape)) if d not in used]
    return _moved(ctx, x, perm), 0, perm


def _moved(ctx, x, perm: list[int]):
    """x permuted by `perm` into a new tensor (ctx.unary would shape it as the node's value)."""
    if x.is_constant:
        return ctx.graph.constant(x.data.transpose(perm), x.name + "_t", x.dtype)
    out = ctx.graph.tensor(x.name + "_moved", x.dtype, tuple(x.shape[p] for p in perm))
    ctx.emit("permute", [x], [out], perm=[int(p) for p in perm])
    return out


@lowers("advanced_index")
def lower_index(ctx, node):
    x = ctx.tensor(node.args[0])
    indices = list(node.args[1])
    used = [i for i, a in enumerate(indices) if a is not None]
    if len(used) == 1:
        return _take(ctx, node, x, _index_tensor(ctx, indices[used[0]], "indexing"), used[0], wrap=1)
    idx = [_index_tensor(ctx, indices[i], "indexing") for i in used]
    x, axis, _ = _together(ctx, x, used)
    out = ctx.out()
    ctx.emit("advanced_index", [x, *idx], [out], axis=axis)
    return out


@lowers("index_put", "index_put")
def lower_index_put(ctx, node):
    x = ctx.tensor(node.args[0])
    indices = list(node.args[1])
    values = ctx.tensor(node.args[2], x.dtype)
    accumulate = bool(call_arg(node, 3, "accumulate", False))
    used = [i for i, a in enumerate(indices) if a is not None]
    if any(ctx.tensor(indices[i]).dtype == "bool" for i in used):
        return _masked_put(ctx, node, x, indices, used, values, accumulate)
    idx = [_index_tensor(ctx, indices[i], "index_put") for i in used]
    moved, axis, perm = _together(ctx, x, used)
    if perm is None:
        out = ctx.out()
    else:
        out = ctx.graph.tensor(node.name + "_moved", x.dtype, moved.shape)
    ctx.emit("index_put", [moved, values, *idx], [out], axis=axis, accumulate=int(accumulate))
    if perm is None:
        return out
    back = ctx.out()
    ctx.emit("permute", [out], [back], perm=[int(p) for p in np.argsort(perm)])
    return back


@lowers("expand", "copy")
def lower_copy(ctx, node):
    """copy(dst, src) is src broadcast to dst's shape in dst's dtype (slice assignment makes it before a scatter)."""
    dst = ctx.tensor(node.args[0])
    src = ctx.tensor(node.args[1], dst.dtype)
    if src.shape == dst.shape:
        return src
    out = ctx.out()
    ctx.emit("expand", [src], [out], tile=0)
    return out


@lowers("index_put", "slice_scatter", "select_scatter")
def lower_slice_scatter(ctx, node):
    """x[..., a:b:s, ...] = src and x[..., i, ...] = src (what functionalization makes of slice assignment):
    an index_put with a constant index along the dim."""
    x = ctx.tensor(node.args[0])
    src = ctx.tensor(node.args[1], x.dtype)
    rank = len(x.shape)
    dim = norm_dim(int(call_arg(node, 2, "dim", 0)), rank)
    size = x.shape[dim]
    if str(node.target) == "aten.select_scatter.default":
        at = int(node.args[3])
        positions = np.array([at + size if at < 0 else at])
        src = ctx.reshape(src, x.shape[:dim] + (1,) + x.shape[dim + 1:])
    else:
        start, end = call_arg(node, 3, "start", None), call_arg(node, 4, "end", None)
        positions = np.arange(size)[slice(start, end, int(call_arg(node, 5, "step", 1)))]
    if positions.size == 0:
        return x
    index = ctx.graph.constant(positions.astype(np.int64), node.name + "_index", "int64")
    out = ctx.out()
    ctx.emit("index_put", [x, src, index], [out], axis=dim, accumulate=0)
    return out


def _masked_put(ctx, node, x, indices, used, values, accumulate):
    """x[mask] = v with one bool mask and one value: a where (or an add of one) over the mask, no nonzero."""
    mask = ctx.tensor(indices[used[0]])
    p, m = used[0], len(mask.shape)
    if len(used) != 1 or mask.shape != x.shape[p:p + m] or int(np.prod(values.shape)) != 1:
        raise errors.UnsupportedOpError(
            f"{node.name}: index_put with a boolean mask is supported for one mask over whole dims and one value "
            "(x[mask] = v); other masks make data-dependent shapes",
            hint="Use torch.where(mask, v, x).")
    rank = len(x.shape)
    mask = ctx.reshape(mask, (1,) * p + mask.shape + (1,) * (rank - p - m))
    value = ctx.reshape(values, ())
    if not accumulate:
        out = ctx.out()
        ctx.emit("where", [mask, value, x], [out])
        return out
    if x.dtype == "bool":
        raise errors.UnsupportedOpError(f"{node.name}: accumulating into a bool tensor")
    zero = ctx.graph.constant(np.zeros((), dtype=value.data.dtype if value.is_constant else np.float32), "zero", x.dtype)
    added = ctx.graph.tensor(node.name + "_add", x.dtype, mask.shape)
    ctx.emit("where", [mask, value, zero], [added])
    out = ctx.out()
    ctx.emit("binary", [x, added], [out], kind=enum_value("BINARY", "ADD"), **NO_ACT)
    return out


@lowers("scatter")
def lower_scatter(ctx, node):
    x = ctx.tensor(node.args[0])
    axis = norm_dim(int(node.args[1]), len(x.shape))
    idx = _index_tensor(ctx, node.args[2], "scatter")
    name = str(node.target)
    reduce, include_self = "NONE", 1
    if name == "aten.scatter_add.default":
        reduce = "SUM"
    elif name == "aten.scatter_reduce.two":
        how = str(node.args[4])
        if how not in SCATTER_REDUCE:
            raise errors.UnsupportedOpError(f"{node.name}: scatter_reduce {how!r}")
        reduce, include_self = SCATTER_REDUCE[how], int(bool(call_arg(node, 5, "include_self", True)))
    if reduce != "NONE" and x.dtype not in SCATTER_DTYPES or reduce == "MEAN" and x.dtype != "float32":
        raise errors.UnsupportedOpError(f"{node.name}: scatter with {reduce.lower()} on {x.dtype}")
    if name == "aten.scatter.value":
        src = ctx.graph.tensor(node.name + "_src", x.dtype, idx.shape)
        ctx.emit("fill", [], [src], value=float(node.args[3]))
    else:
        src = ctx.tensor(node.args[3], x.dtype)
    out = ctx.out()
    ctx.emit("scatter", [x, idx, src], [out], axis=axis, reduce=enum_value("SCATTER", reduce),
             include_self=include_self)
    return out


# -- positions known at export: a take with a constant index --

def _take_positions(ctx, node, x, flat_index: np.ndarray):
    """x's elements at the flat (row-major) positions `flat_index`, shaped as the node's value."""
    shape = static_shape(ctx.meta(node))
    if flat_index.size == int(np.prod(x.shape)) and np.array_equal(flat_index.ravel(), np.arange(flat_index.size)):
        return ctx.reshape(x, shape, name=node.name)  # a restride that changes nothing
    flat = ctx.reshape(x, (int(np.prod(x.shape)),))
    idx = ctx.graph.constant(flat_index.reshape(shape).astype(np.int64), node.name + "_index", "int64")
    out = ctx.out()
    ctx.emit("take", [flat, idx], [out], axis=0, wrap=0)
    return out


@lowers("take", "as_strided")
def lower_as_strided(ctx, node):
    """as_strided reads x's storage: map each storage offset it reads back to the element of x there."""
    x = ctx.tensor(node.args[0])
    meta = ctx.meta(node.args[0])
    size, stride = [int(s) for s in node.args[1]], [int(s) for s in node.args[2]]
    offset = int(call_arg(node, 3, "storage_offset", None) or meta.storage_offset())
    numel = int(np.prod(x.shape))
    held = np.full(1, -1, np.int64)
    if numel:
        at = np.full(x.shape, meta.storage_offset(), np.int64)  # storage offset of each element of x
        for d, (n, s) in enumerate(zip(x.shape, meta.stride())):
            at += (np.arange(n) * int(s)).reshape([n if k == d else 1 for k in range(len(x.shape))])
        held = np.full(int(at.max()) + 1, -1, np.int64)
        held[at.ravel()] = np.arange(numel)
    want = np.full(size, offset, np.int64)
    for d, (n, s) in enumerate(zip(size, stride)):
        want += (np.arange(n) * s).reshape([n if k == d else 1 for k in range(len(size))])
    if want.size and (want.min() < 0 or want.max() >= held.size or (held[want] < 0).any()):
        raise errors.UnsupportedOpError(
            f"{node.name}: as_strided reads storage outside its input tensor (size {size}, stride {stride}, "
            f"offset {offset})", hint="Use view/reshape, permute, slice or unfold instead of as_strided.")
    return _take_positions(ctx, node, x, held[want] if want.size else want)


@lowers("take", "unfold")
def lower_unfold(ctx, node):
    """x.unfold(dim, size, step): windows along dim -> x[..., w, ..., j] = x[..., w * step + j, ...]."""
    x = ctx.tensor(node.args[0])
    rank = len(x.shape)
    dim = norm_dim(int(node.args[1]), rank)
    size, step = int(node.args[2]), int(node.args[3])
    shape = x.shape or (1,)
    windows = (shape[dim] - size) // step + 1
    index = np.arange(windows)[:, None] * step + np.arange(size)[None, :]
    if rank == 0:
        return _take_positions(ctx, node, x, index)
    taken = ctx.graph.tensor(node.name + "_windows", x.dtype, x.shape[:dim] + (windows, size) + x.shape[dim + 1:])
    ctx.emit("take", [x, ctx.graph.constant(index.astype(np.int64), node.name + "_index", "int64")], [taken],
             axis=dim, wrap=0)
    if dim == rank - 1:  # the window dim is already last
        return ctx.reshape(taken, static_shape(ctx.meta(node)), name=node.name)
    out = ctx.out()
    ctx.emit("permute", [taken], [out], perm=[d for d in range(rank + 1) if d != dim + 1] + [dim + 1])
    return out


@lowers("embedding_bag")
def lower_embedding_bag(ctx, node):
    weight = ctx.tensor(node.args[0], "float32")
    indices = _index_tensor(ctx, node.args[1], "embedding_bag")
    offsets = _index_tensor(ctx, node.args[2], "embedding_bag")
    mode = int(call_arg(node, 4, "mode", 0))
    per_sample = call_arg(node, 6, "per_sample_weights", None)
    last = int(bool(call_arg(node, 7, "include_last_offset", False)))
    padding_idx = call_arg(node, 8, "padding_idx", -1)
    padding_idx = -1 if padding_idx is None or int(padding_idx) < 0 else int(padding_idx)
    if len(indices.shape) != 1:
        indices = ctx.reshape(indices, (int(np.prod(indices.shape)),))
    inputs = [weight, indices, offsets]
    if per_sample is not None:
        inputs.append(ctx.tensor(per_sample, "float32"))
    out = ctx.out(ctx.meta(node)[0], name=node.name)
    ctx.emit("embedding_bag", inputs, [out], mode=mode, include_last_offset=last, padding_idx=padding_idx)
    return [out, None, None, None]  # offset2bag, bag_size, max_indices: training-only values
