"""Shape ops: Reshape/Flatten/Squeeze/Unsqueeze -> reshape, Transpose -> permute, Concat, Split/Slice -> slice,
Expand/Tile -> expand, Pad -> pad, and Shape/Size/ConstantOfShape, which fold to constants on static shapes."""
from __future__ import annotations

import numpy as np
import sympy

from pockettorch.exporter.onnx_frontend import symbolic
from pockettorch.exporter.onnx_frontend.registry import handles
from pockettorch.exporter.onnx_frontend.load import invalid
from pockettorch.runtime import error_catalogue as errors
from pockettorch.runtime.op_table import enum_value


def _axes(values, rank: int) -> list[int]:
    return sorted(int(a) + rank if int(a) < 0 else int(a) for a in np.asarray(values).reshape(-1))


def _dim_exprs(t) -> list:
    return [t.sym.get(d, n) for d, n in enumerate(t.shape)]


def reshape_to(ctx, x, shape: list[int], exprs: list | None = None):
    """The node's output: x with `shape`; `exprs` gives each dim as a sympy expression when x is dynamic."""
    sym = {d: e for d, e in enumerate(exprs or []) if not isinstance(e, int) and not getattr(e, "is_Integer", False)}
    if x.is_constant:
        return ctx.constant(x.data.reshape(shape), ctx.node.output[0], x.dtype)
    if tuple(shape) == x.shape and sym == x.sym:
        return x  # the same data and shape: the ONNX value is x itself
    out = ctx.new(x.dtype, shape, sym=sym if exprs is not None else None)
    ctx.emit("reshape", [x], [out])
    return out


@handles("Reshape", note="constant shape (0 copies, -1 infers; allowzero)")
def lower_reshape(ctx, node):
    x = ctx.input(0)
    spec = [int(v) for v in ctx.need_const(1, "target shape")]
    targets = symbolic.shape_exprs(ctx, 1) or spec  # dims of a dynamic program as expressions
    allowzero = ctx.attr("allowzero", 0)
    exprs_in = _dim_exprs(x)
    out, exprs = [], []
    for d, (v, e) in enumerate(zip(spec, targets)):
        if v == 0 and not allowzero:
            out.append(x.shape[d])
            exprs.append(exprs_in[d])
        else:
            out.append(v)
            exprs.append(e)
    if -1 in spec:
        k = spec.index(-1)
        known = int(np.prod([v for i, v in enumerate(out) if i != k], dtype=np.int64))
        out[k] = x.numel // known if known else 0
        total = sympy.Mul(*exprs_in) if exprs_in else sympy.Integer(1)
        rest = sympy.Mul(*[e for i, e in enumerate(exprs) if i != k])
        exprs[k] = sympy.simplify(total / rest) if rest != 0 else 0
        if x.sym and not getattr(exprs[k], "is_polynomial", lambda: False)():
            raise errors.DynamicShapeError(f"{ctx.where()}: the reshape's -1 dim ({exprs[k]}) is not a whole "
                                           f"multiple of the dynamic dims")
    if int(np.prod(out, dtype=np.int64)) != x.numel:
        raise invalid(f"{ctx.where()}: cannot reshape {list(x.shape)} to {spec}")
    return reshape_to(ctx, x, out, exprs if x.sym or symbolic.shape_exprs(ctx, 1) else None)


@handles("Flatten")
def lower_flatten(ctx, node):
    x = ctx.input(0)
    axis = ctx.attr("axis", 1)
    axis = axis + len(x.shape) if axis < 0 else axis
    e = _dim_exprs(x)
    exprs = [sympy.Mul(*e[:axis]) if axis else 1, sympy.Mul(*e[axis:])]
    shape = [int(np.prod(x.shape[:axis], dtype=np.int64)), int(np.prod(x.shape[axis:], dtype=np.int64))]
    return reshape_to(ctx, x, shape, exprs if x.sym else None)


@handles("Squeeze", "Unsqueeze")
def lower_squeeze(ctx, node):
    x = ctx.input(0)
    exprs = _dim_exprs(x)
    if node.op_type == "Squeeze":
        axes = _axes(ctx.need_const(1, "axes"), len(x.shape)) if ctx.has(1) else \
            [d for d, n in enumerate(x.shape) if n == 1]
        keep = [d for d in range(len(x.shape)) if d not in axes]
        shape, exprs = [x.shape[d] for d in keep], [exprs[d] for d in keep]
    else:
        axes = _axes(ctx.need_const(1, "axes"), len(x.shape) + len(np.asarray(ctx.const(1)).reshape(-1)))
        shape = list(x.shape)
        for a in axes:
            shape.insert(a, 1)
            exprs.insert(a, 1)
    return reshape_to(ctx, x, shape, exprs if x.sym else None)


@handles("Transpose")
def lower_transpose(ctx, node):
    x = ctx.input(0)
    perm = [int(p) for p in ctx.attr("perm", list(range(len(x.shape)))[::-1])]
    if perm == list(range(len(x.shape))):
        return x
    sym = {d: x.sym[p] for d, p in enumerate(perm) if p in x.sym}
    return ctx.op("permute", [x], x.dtype, [x.shape[p] for p in perm], sym=sym if x.sym else None, perm=perm)


@handles("Concat")
def lower_concat(ctx, node):
    ins = [ctx.input(i) for i in range(len(node.input)) if ctx.has(i)]
    axis = ctx.attr("axis")
    axis = axis + len(ins[0].shape) if axis < 0 else axis
    parts = [t for t in ins if t.shape[axis] > 0] or ins[:1]
    shape = list(parts[0].shape)
    shape[axis] = sum(t.shape[axis] for t in parts)
    dtype = parts[0].dtype
    if len(parts) == 1:
        return ctx.op("cast", parts, dtype, shape)
    return ctx.op("concat", [ctx.cast(t, dtype) for t in parts], dtype, shape, axis=axis)


def slice_axis(ctx, x, axis: int, start: int, step: int, length: int, index: int = 0, suffix: str = ""):
    shape = list(x.shape)
    shape[axis] = length
    return ctx.op("slice", [x], x.dtype, shape, index, suffix, axis=axis, start=int(start), step=int(step))


@handles("Split", note="split sizes input or num_outputs (opset 18)")
def lower_split(ctx, node):
    x = ctx.input(0)
    axis = ctx.attr("axis", 0)
    axis = axis + len(x.shape) if axis < 0 else axis
    n = len(node.output)
    if ctx.has(1):
        sizes = [int(s) for s in ctx.need_const(1, "split sizes")]
    else:
        chunk = -(-x.shape[axis] // n)
        sizes = [min(chunk, x.shape[axis] - k * chunk) for k in range(n)]
    if sum(sizes) != x.shape[axis] or len(sizes) != n:
        raise invalid(f"{ctx.where()}: split sizes {sizes} do not cover dim {axis} of {list(x.shape)}")
    if x.sym.get(axis) is not None:
        raise errors.DynamicShapeError(f"{ctx.where()}: splitting the dynamic dim {axis} is not supported")
    outs, start = [], 0
    for k, size in enumerate(sizes):
        outs.append(slice_axis(ctx, x, axis, start, 1, size, k))
        start += size
    return outs


@handles("Slice", note="constant starts/ends/axes/steps, negative steps")
def lower_slice(ctx, node):
    x = ctx.input(0)
    rank = len(x.shape)
    starts, ends = ctx.need_const(1, "starts"), ctx.need_const(2, "ends")
    axes = ctx.need_const(3, "axes") if ctx.has(3) else np.arange(len(starts))
    steps = ctx.need_const(4, "steps") if ctx.has(4) else np.ones(len(starts), np.int64)
    y = x
    todo = list(zip(axes, starts, ends, steps))
    for k, (axis, start, end, step) in enumerate(todo):
        axis = int(axis) + rank if int(axis) < 0 else int(axis)
        size = x.shape[axis]
        big = np.iinfo(np.int64).max
        start, end, step = (max(min(int(v), big), -big) for v in (start, end, step))
        if step == 0:
            raise invalid(f"{ctx.where()}: slice step 0")
        picked = range(*slice(start, end, step).indices(size))
        if len(picked) == size and step == 1:
            continue
        if x.sym.get(axis) is not None:
            raise errors.DynamicShapeError(f"{ctx.where()}: slicing the dynamic dim {axis} is not supported")
        last = k == len(todo) - 1
        if step > 0 or len(picked) <= 1:
            y = slice_axis(ctx, y, axis, picked[0] if len(picked) else 0, abs(step) if len(picked) else 1,
                           len(picked), 0, "" if last else f"_s{k}")
        else:  # walk forwards, then reverse
            fwd = slice_axis(ctx, y, axis, picked[-1], -step, len(picked), 0, f"_fwd{k}")
            y = ctx.op("flip", [fwd], y.dtype, fwd.shape, 0, "" if last else f"_s{k}", axes=[axis])
    return y


@handles("Expand")
def lower_expand(ctx, node):
    x = ctx.input(0)
    target = [int(v) for v in ctx.need_const(1, "shape")]
    shape = list(np.broadcast_shapes(x.shape, tuple(target)))
    exprs = symbolic.shape_exprs(ctx, 1) or []
    sym = {d + len(shape) - len(exprs): e for d, e in enumerate(exprs) if symbolic.is_dynamic(np.array([e], object))}
    sym.update({d + len(shape) - len(x.shape): e for d, e in x.sym.items()})
    if tuple(shape) == x.shape and sym == x.sym:
        return x
    out = ctx.new(x.dtype, shape, sym=sym)  # a constant x with a constant shape was folded
    ctx.emit("expand", [x], [out], tile=0)
    return out


@handles("Tile")
def lower_tile(ctx, node):
    x = ctx.input(0)
    repeats = [int(r) for r in ctx.need_const(1, "repeats")]
    shape = [n * r for n, r in zip(x.shape, repeats)]
    if tuple(shape) == x.shape:
        return x
    return ctx.op("expand", [x], x.dtype, shape, tile=1)


PAD_MODES = {"constant": "CONSTANT", "reflect": "REFLECT", "edge": "REPLICATE", "wrap": "CIRCULAR"}


@handles("Pad", note="constant/reflect/edge/wrap; constant pads, axes input (opset 18)")
def lower_pad(ctx, node):
    x = ctx.input(0)
    rank = len(x.shape)
    mode = ctx.attr("mode", "constant")
    if mode not in PAD_MODES:
        raise ctx.unsupported(f"pad mode {mode!r} is not supported ({', '.join(PAD_MODES)})")
    pads = [int(p) for p in ctx.need_const(1, "pads")]
    value = ctx.const(2)
    if ctx.has(2) and value is None:
        raise ctx.unsupported("its constant_value is computed at run time")
    axes = _axes(ctx.need_const(3, "axes"), rank) if ctx.has(3) else list(range(rank))
    n = len(axes)
    begin, end = [0] * rank, [0] * rank
    for k, a in enumerate(axes):
        begin[a], end[a] = pads[k], pads[k + n]
    first = next((d for d in range(rank) if begin[d] or end[d]), rank)
    if first == rank:
        return x
    flat = []
    for d in range(rank - 1, first - 1, -1):
        flat += [begin[d], end[d]]
    shape = [s + b + e for s, b, e in zip(x.shape, begin, end)]
    if any(x.sym.get(d) is not None for d in range(first, rank)):
        raise errors.DynamicShapeError(f"{ctx.where()}: padding a dynamic dim is not supported")
    fill = float(np.asarray(value).reshape(-1)[0]) if value is not None and np.asarray(value).size else 0.0
    return ctx.op("pad", [x], x.dtype, shape, mode=enum_value("PAD", PAD_MODES[mode]),
                  value=fill if mode == "constant" else 0.0, pads=flat)


@handles("Shape", "Size", note="constants; dynamic dims as expressions for Reshape/Expand targets")
def lower_shape(ctx, node):
    x = ctx.input(0)
    rank = len(x.shape)
    if node.op_type == "Size":
        dims = range(rank)
    else:
        start, end = ctx.attr("start", 0), ctx.attr("end", rank)
        dims = range(*slice(start, end).indices(rank))
    values = [x.sym.get(d, x.shape[d]) for d in dims]
    if node.op_type == "Size":
        values = [sympy.Mul(*values) if values else 1]
    out = ctx.constant(np.array([x.shape[d] for d in dims] if node.op_type == "Shape" else [x.numel], np.int64)
                       .reshape(-1 if node.op_type == "Shape" else ()), node.output[0], "int64")
    expressions = np.array(values, dtype=object).reshape(out.shape)
    if symbolic.is_dynamic(expressions):
        ctx.sym_values[node.output[0]] = expressions  # dims of a dynamic program: folded on (symbolic.py)
    return out


@handles("ConstantOfShape", note="constant shape input (folds, or a fill op)")
def lower_constant_of_shape(ctx, node):
    raise ctx.unsupported("its shape is computed at run time; PocketTorch needs it constant")


@handles("Range", note="constant inputs (folds)")
def lower_range(ctx, node):
    raise ctx.unsupported("its bounds are computed at run time; PocketTorch needs them constant")
