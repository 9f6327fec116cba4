"""Lowering of shape and data-movement ATen ops: reshape, permute, slice, concat, expand, pad, take, gather.

Output shapes come from the FakeTensor torch.export recorded (`node.meta["val"]`); rules only work out
the parameters the kernels need (normalised axes, clamped slice starts) and check the shape they imply.
"""
from __future__ import annotations

from pockettorch.exporter.lowering import lowers
from pockettorch.exporter.lowering.common import aten_name, call_arg, norm_dim, static_shape
from pockettorch.runtime import error_catalogue as errors

INDEX_DTYPES = ("int64", "int32")
MAX_CONCAT_INPUTS = 64  # op table: concat takes 1..64 inputs


@lowers("reshape")
def lower_reshape(ctx, node):
    x = ctx.tensor(node.args[0])
    return ctx.reshape(x, ctx.meta(node).shape, name=node.name)


# -- permute --

def _permute(ctx, x, perm):
    if list(perm) == sorted(perm):
        return x
    if x.is_constant:
        return ctx.graph.constant(x.data.transpose(perm), x.name + "_t", x.dtype)
    return ctx.unary("permute", x, perm=[int(p) for p in perm])


@lowers("permute", "permute")
def lower_permute(ctx, node):
    x = ctx.tensor(node.args[0])
    rank = len(x.shape)
    perm = [norm_dim(int(p), rank) for p in node.args[1]]
    if sorted(perm) != list(range(rank)):
        raise errors.UnsupportedOpError(f"{node.name}: {list(node.args[1])} is not a permutation of rank {rank}")
    return _permute(ctx, x, perm)


@lowers("permute", "t")
def lower_t(ctx, node):
    x = ctx.tensor(node.args[0])
    return _permute(ctx, x, list(range(len(x.shape)))[::-1])


@lowers("permute", "transpose")
def lower_transpose(ctx, node):
    x = ctx.tensor(node.args[0])
    rank = len(x.shape)
    perm = list(range(rank))
    if rank:
        a, b = norm_dim(int(node.args[1]), rank), norm_dim(int(node.args[2]), rank)
        perm[a], perm[b] = perm[b], perm[a]
    return _permute(ctx, x, perm)


# -- slice --

def _slice(ctx, x, axis: int, start: int, step: int, out):
    """Emit slice(x) into `out` (whose dim `axis` is the slice length); identity slices return x."""
    if out.shape == x.shape and start == 0 and out.sym == x.sym:
        return x
    if x.is_constant and not out.sym:  # a dynamic length (a buffer cut to the call's size) is sliced at run time
        index = [slice(None)] * len(x.shape)
        index[axis] = slice(start, start + out.shape[axis] * step, step)
        return ctx.graph.constant(x.data[tuple(index)], out.name, x.dtype)
    ctx.emit("slice", [x], [out], axis=axis, start=start, step=step)
    return out


@lowers("slice", "diagonal")
def lower_diagonal(ctx, node):
    """x.diagonal(offset, dim1, dim2) (einsum's repeated indices, 'ii->i'): the two dims moved last and
    flattened, then a slice with step n2 + 1 from the offset's first element."""
    x = ctx.tensor(node.args[0])
    rank = len(x.shape)
    offset = int(call_arg(node, 1, "offset", 0))
    d1, d2 = (norm_dim(int(call_arg(node, i, name, i - 2)), rank) for i, name in ((2, "dim1"), (3, "dim2")))
    if d1 == d2:
        raise errors.UnsupportedOpError(f"{node.name}: diagonal dims must differ, got {d1} and {d2}")
    out_shape = static_shape(ctx.meta(node))
    n1, n2 = x.shape[d1], x.shape[d2]
    rest = [d for d in range(rank) if d not in (d1, d2)]
    perm = rest + [d1, d2]
    moved = x
    if perm != list(range(rank)):
        moved = ctx.graph.tensor(f"{node.name}_moved", x.dtype, [x.shape[d] for d in perm])
        if x.is_constant:
            moved = ctx.graph.constant(x.data.transpose(perm), moved.name, x.dtype)
        else:
            ctx.emit("permute", [x], [moved], perm=perm)
    flat = ctx.reshape(moved, [x.shape[d] for d in rest] + [n1 * n2], name=f"{node.name}_flat")
    start = min(offset if offset >= 0 else -offset * n2, n1 * n2)
    return _slice(ctx, flat, len(rest), start, n2 + 1, ctx.out())


def _clamp_start(start, size: int) -> int:
    start = 0 if start is None else int(start)
    if start < 0:
        start += size
    return min(max(start, 0), size)


@lowers("slice", "slice")
def lower_slice(ctx, node):
    x = ctx.tensor(node.args[0])
    rank = len(x.shape)
    if rank == 0:
        raise errors.UnsupportedOpError(f"{node.name}: slice of a 0-d tensor")
    axis = norm_dim(int(call_arg(node, 1, "dim", 0)), rank)
    step = int(call_arg(node, 4, "step", 1))
    if step < 1:
        raise errors.UnsupportedOpError(f"{node.name}: slice step {step} must be positive")
    start = _clamp_start(call_arg(node, 2, "start", None), x.shape[axis])
    return _slice(ctx, x, axis, start, step, ctx.out())


@lowers("slice", "narrow")
def lower_narrow(ctx, node):
    x = ctx.tensor(node.args[0])
    axis = norm_dim(int(node.args[1]), len(x.shape))
    start = int(node.args[2])
    if start < 0:
        start += x.shape[axis]
    return _slice(ctx, x, axis, start, 1, ctx.out())


@lowers("slice", "select")
def lower_select(ctx, node):
    x = ctx.tensor(node.args[0])
    rank = len(x.shape)
    axis = norm_dim(int(node.args[1]), rank)
    index = int(node.args[2])
    size = x.shape[axis]
    if not -size <= index < size:
        raise errors.UnsupportedOpError(f"{node.name}: index {index} is out of range for dim {axis} of size {size}")
    index += size if index < 0 else 0
    kept = list(x.shape)
    kept[axis] = 1
    sym = {d: e for d, e in x.sym.items() if d != axis}  # the other dims keep their dynamic sizes
    sliced = _slice(ctx, x, axis, index, 1, ctx.graph.tensor(node.name + "_slice", x.dtype, kept, sym))
    return ctx.reshape(sliced, static_shape(ctx.meta(node)), name=node.name)


@lowers("slice", "split_with_sizes", "split")
def lower_split(ctx, node):
    x = ctx.tensor(node.args[0])
    axis = norm_dim(int(call_arg(node, 2, "dim", 0)), len(x.shape))
    outs, start = [], 0
    for i, meta in enumerate(ctx.meta(node)):
        out = ctx.out(meta, name=f"{node.name}_{i}")
        outs.append(_slice(ctx, x, axis, start, 1, out))
        start += out.shape[axis]
    if start != x.shape[axis]:
        raise errors.UnsupportedOpError(f"{node.name}: split sizes add up to {start}, dim {axis} has {x.shape[axis]}")
    return outs


# -- concat --

@lowers("concat")
def lower_cat(ctx, node):
    meta = ctx.meta(node)
    out_shape = static_shape(meta)
    dtype = str(meta.dtype).removeprefix("torch.")
    rank = len(out_shape)
    axis = norm_dim(int(call_arg(node, 1, "dim", 0)), rank)
    # torch still accepts legacy empty 1-D tensors of shape (0,) next to tensors of any rank
    parts = [t for t in (ctx.tensor(a, dtype) for a in node.args[0]) if len(t.shape) == rank]
    parts = [t for t in parts if t.shape[axis] > 0] or parts[:1]
    if not parts:
        raise errors.UnsupportedOpError(f"{node.name}: cat of empty tensors only")
    if len(parts) == 1 and parts[0].shape == out_shape:
        return parts[0]
    while len(parts) > MAX_CONCAT_INPUTS:  # concatenate in groups, then the groups
        groups = [parts[i:i + MAX_CONCAT_INPUTS] for i in range(0, len(parts), MAX_CONCAT_INPUTS)]
        parts = [_concat(ctx, g, axis, ctx.graph.tensor(f"{node.name}_part", dtype, _cat_shape(g, axis)))
                 if len(g) > 1 else g[0] for g in groups]
    return _concat(ctx, parts, axis, ctx.out())


def _cat_shape(parts, axis):
    shape = list(parts[0].shape)
    shape[axis] = sum(t.shape[axis] for t in parts)
    return shape


def _concat(ctx, parts, axis, out):
    ctx.emit("concat", parts, [out], axis=axis)
    return out


# -- expand / repeat --

@lowers("expand", "expand", "repeat")
def lower_expand(ctx, node):
    """expand broadcasts size-1 dims; repeat tiles the input (tile=1)."""
    x = ctx.tensor(node.args[0])
    out = ctx.out()
    if out.shape == x.shape:
        return x
    ctx.emit("expand", [x], [out], tile=int(aten_name(node.target) == "repeat"))
    return out


# -- take / gather --

def _index_tensor(ctx, arg, what: str):
    idx = ctx.tensor(arg)
    if idx.dtype == "bool":
        raise errors.UnsupportedOpError(
            f"{what} with a boolean mask has a data-dependent shape; PocketTorch needs integer indices",
            hint="Use torch.where(mask, x, fill) or integer indices instead of boolean masking.")
    if idx.dtype not in INDEX_DTYPES:
        idx = ctx.cast(idx, "int64")
    return idx


def _take(ctx, node, x, idx, axis: int, wrap: int):
    """numpy.take(x, idx, axis), reshaped to the node's shape when that differs (0-d index_select)."""
    if len(x.shape) == 0:
        x = ctx.reshape(x, (1,))
    shape = x.shape[:axis] + idx.shape + x.shape[axis + 1:]
    want = static_shape(ctx.meta(node))
    if shape == want:
        out = ctx.out()
    else:
        out = ctx.graph.tensor(node.name + "_take", x.dtype, shape)
    ctx.emit("take", [x, idx], [out], axis=axis, wrap=wrap)
    return ctx.reshape(out, want, name=node.name)


@lowers("take", "embedding")
def lower_embedding(ctx, node):
    weight = ctx.tensor(node.args[0])
    idx = _index_tensor(ctx, node.args[1], "embedding")
    return _take(ctx, node, weight, idx, 0, wrap=0)


@lowers("take", "index_select")
def lower_index_select(ctx, node):
    x = ctx.tensor(node.args[0])
    axis = norm_dim(int(node.args[1]), len(x.shape))
    idx = _index_tensor(ctx, node.args[2], "index_select")
    return _take(ctx, node, x, idx, axis, wrap=0)


@lowers("gather")
def lower_gather(ctx, node):
    x = ctx.tensor(node.args[0])
    axis = norm_dim(int(node.args[1]), len(x.shape))
    idx = _index_tensor(ctx, node.args[2], "gather")
    out = ctx.out()
    ctx.emit("gather", [x, idx], [out], axis=axis)
    return out
