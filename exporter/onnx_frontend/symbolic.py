"""Shape values of dynamic programs: `Shape` of a dynamic dim gives an int64 vector whose elements are the dims'
sympy expressions. The shape arithmetic exporters emit on it (Gather, Unsqueeze, Concat, Mul, ...) is folded on the
expressions, and Reshape / Expand take the result as their target shape. Anything else reading such a value would
compute with one size of a dim that changes at run time: a DynamicShapeError."""
from __future__ import annotations

import numpy as np
import onnx
import sympy
from torch.utils._sympy.functions import FloorDiv

from pockettorch.runtime import error_catalogue as errors

# ONNX ops folded on expressions, and the (op, input index) pairs that read a shape value as a target shape.
SYMBOLIC = {"Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast", "Identity", "Add", "Sub", "Mul", "Div"}
SHAPE_INPUTS = {("Reshape", 1), ("Expand", 1)}


def is_dynamic(values: np.ndarray) -> bool:
    return any(not isinstance(v, (int, np.integer)) and not getattr(v, "is_Integer", False) for v in values.flat)


def check_readers(ctx, node: onnx.NodeProto) -> bool:
    """True when the node is to be folded on expressions; raises when it reads a shape value another way."""
    reads = [i for i, name in enumerate(node.input) if name in ctx.sym_values]
    if not reads:
        return False
    if node.op_type in SYMBOLIC:
        return True
    if all((node.op_type, i) in SHAPE_INPUTS for i in reads):
        return False
    raise errors.DynamicShapeError(
        f"{ctx.where()}: it uses a value computed from the dynamic dims ({node.input[reads[0]]!r}) as data; "
        f"PocketTorch follows dynamic dims through shape arithmetic into Reshape and Expand only",
        hint="Export with static shapes (no dynamic_shapes).")


def fold(ctx, node: onnx.NodeProto) -> None:
    """Evaluate the node on expressions; its output is a constant at the maxima plus the expressions."""
    vals = [_values(ctx, name) for name in node.input if name]
    op = node.op_type
    if op == "Gather":
        out = np.take(vals[0], vals[1].astype(np.int64), axis=ctx.attr("axis", 0))
    elif op in ("Unsqueeze", "Squeeze"):
        out = vals[0].reshape(_target_shape(ctx, node, vals))
    elif op == "Concat":
        out = np.concatenate(vals, axis=ctx.attr("axis", 0))
    elif op == "Slice":
        axes = vals[3] if len(vals) > 3 else [0]
        if len(vals[0].shape) != 1 or list(axes) not in ([0], [-1]):
            raise ctx.unsupported("slicing a shape value other than a vector")
        step = int(vals[4][0]) if len(vals) > 4 else 1
        out = vals[0][slice(int(vals[1][0]), int(vals[2][0]), step)]
    elif op == "Cast":
        if ctx.attr("to") not in (onnx.TensorProto.INT64, onnx.TensorProto.INT32):
            raise errors.DynamicShapeError(f"{ctx.where()}: a shape value of dynamic dims cast to a non-integer type")
        out = vals[0]
    elif op == "Identity":
        out = vals[0]
    else:
        a, b = np.broadcast_arrays(vals[0], vals[1])
        fn = {"Add": lambda x, y: x + y, "Sub": lambda x, y: x - y, "Mul": lambda x, y: x * y,
              "Div": lambda x, y: _div(x, y)}[op]
        out = np.array([sympy.sympify(fn(x, y)) for x, y in zip(a.flat, b.flat)], dtype=object).reshape(a.shape)
    out = np.asarray(out, dtype=object)
    name = node.output[0]
    at_max = {s[0]: s[3] for s in ctx.graph.symbols}
    numbers = np.array([int(sympy.sympify(v).subs(at_max)) for v in out.flat], np.int64).reshape(out.shape)
    ctx.values[name] = ctx.constant(numbers, name, "int64")
    if is_dynamic(out):
        ctx.sym_values[name] = out


def _div(x, y):
    x, y = sympy.sympify(x), sympy.sympify(y)
    quotient = sympy.simplify(x / y)
    return quotient if quotient.is_integer else FloorDiv(x, y)


def _values(ctx, name: str) -> np.ndarray:
    if name in ctx.sym_values:
        return ctx.sym_values[name]
    t = ctx.values[name]
    if not t.is_constant:
        raise errors.DynamicShapeError(f"{ctx.where()}: it mixes a shape value of dynamic dims with run-time data")
    return np.asarray(t.data).astype(object)


def _target_shape(ctx, node, vals) -> list[int]:
    rank = len(vals[0].shape)
    axes = [int(a) for a in np.asarray(vals[1] if len(vals) > 1 else ctx.attr("axes", [])).reshape(-1)]
    shape = list(vals[0].shape)
    if node.op_type == "Squeeze":
        axes = [a + rank if a < 0 else a for a in axes] or [d for d, n in enumerate(shape) if n == 1]
        return [n for d, n in enumerate(shape) if d not in axes]
    out_rank = rank + len(axes)
    for a in sorted(a + out_rank if a < 0 else a for a in axes):
        shape.insert(a, 1)
    return shape


def shape_exprs(ctx, index: int) -> list | None:
    """The expressions of the node's shape input `index` when it is a shape value of dynamic dims."""
    name = ctx.node.input[index] if index < len(ctx.node.input) else ""
    values = ctx.sym_values.get(name)
    return None if values is None else list(values.reshape(-1))
