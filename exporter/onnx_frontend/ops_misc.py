"""Einsum (one or two operands) -> reduce / permute / reshape / matmul; CumSum -> cumsum (flip for reverse);
TopK -> sort; Trilu -> triangular."""
from __future__ import annotations

import numpy as np

from pockettorch.exporter.onnx_frontend.ops_elementwise import binary
from pockettorch.exporter.onnx_frontend.ops_nn import matmul
from pockettorch.exporter.onnx_frontend.registry import handles
from pockettorch.runtime.op_table import enum_value


def _parse(ctx, equation: str, n: int):
    eq = equation.replace(" ", "")
    if "..." in eq:
        raise ctx.unsupported("einsum with ellipsis is not supported")
    lhs, _, out = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != n or n not in (1, 2):
        raise ctx.unsupported(f"einsum {equation!r}: one or two operands are supported")
    if "->" not in eq:
        letters = "".join(terms)
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    for t in terms:
        if len(set(t)) != len(t):
            raise ctx.unsupported(f"einsum {equation!r}: repeated letters in one operand (diagonals) are not supported")
    return terms, out


def _sum_out(ctx, x, letters: str, keep: set, k: int):
    """Sum x over its letters not in `keep`."""
    axes = [d for d, c in enumerate(letters) if c not in keep]
    if not axes:
        return x, letters
    shape = [n for d, n in enumerate(x.shape) if d not in axes]
    y = ctx.op("reduce", [x], x.dtype, shape, 0, f"_sum{k}", kind=enum_value("REDUCE", "SUM"), correction=0, axes=axes)
    return y, "".join(c for c in letters if c in keep)


def _permute(ctx, x, letters: str, order: str, suffix: str, index: int = 0):
    perm = [letters.index(c) for c in order]
    if perm == list(range(len(perm))):
        return x
    return ctx.op("permute", [x], x.dtype, [x.shape[p] for p in perm], index, suffix, perm=perm)


@handles("Einsum", note="one or two operands, no ellipsis or diagonals")
def lower_einsum(ctx, node):
    terms, out = _parse(ctx, ctx.attr("equation"), len(node.input))
    xs = [ctx.input(i) for i in range(len(terms))]
    if len(xs) == 1:
        y, letters = _sum_out(ctx, xs[0], terms[0], set(out), 0)
        return _permute(ctx, y, letters, out, "") if letters != out else ctx.op("cast", [y], y.dtype, y.shape)
    (a, la), (b, lb) = (_sum_out(ctx, xs[k], terms[k], set(out) | set(terms[1 - k]), k) for k in (0, 1))
    size = {c: n for t, x in ((la, a), (lb, b)) for c, n in zip(t, x.shape)}
    batch = [c for c in la if c in lb and c in out]
    contract = [c for c in la if c in lb and c not in out]
    left = [c for c in la if c not in lb]
    right = [c for c in lb if c not in la]
    prod = lambda cs: int(np.prod([size[c] for c in cs], dtype=np.int64))  # noqa: E731
    a3 = ctx.reshape(_permute(ctx, a, la, "".join(batch + left + contract), "_pa"),
                     (prod(batch), prod(left), prod(contract)), "_a3")
    b3 = ctx.reshape(_permute(ctx, b, lb, "".join(batch + contract + right), "_pb"),
                     (prod(batch), prod(contract), prod(right)), "_b3")
    y = matmul(ctx, a3, b3, "_mm")
    order = "".join(batch + left + right)
    y = ctx.reshape(y, [size[c] for c in order], "_full")
    result = _permute(ctx, y, order, out, "")
    return result if result is not y else ctx.op("cast", [y], y.dtype, y.shape)


@handles("CumSum", note="exclusive and reverse")
def lower_cumsum(ctx, node):
    x = ctx.input(0)
    axis = int(np.asarray(ctx.need_const(1, "axis")).reshape(-1)[0])
    axis = axis + len(x.shape) if axis < 0 else axis
    reverse, exclusive = ctx.attr("reverse", 0), ctx.attr("exclusive", 0)
    y = ctx.op("flip", [x], x.dtype, x.shape, 0, "_rev", axes=[axis]) if reverse else x
    c = ctx.op("cumsum", [y], x.dtype, x.shape, 0, "_cum" if (reverse or exclusive) else "", axis=axis)
    if exclusive:  # the running sum before each element
        c = binary(ctx, "SUB", c, y, "_excl" if reverse else "")
    if reverse:
        c = ctx.op("flip", [c], x.dtype, x.shape, axes=[axis])
    return c


@handles("TopK", note="constant k; largest 0/1 (always sorted)")
def lower_topk(ctx, node):
    x = ctx.input(0)
    k = int(np.asarray(ctx.need_const(1, "k")).reshape(-1)[0])
    axis = ctx.attr("axis", -1)
    axis = axis + len(x.shape) if axis < 0 else axis
    shape = list(x.shape)
    shape[axis] = k
    values = ctx.new(x.dtype, shape, 0)
    indices = ctx.new("int64", shape, 1)
    ctx.emit("sort", [x], [values, indices], axis=axis, descending=int(ctx.attr("largest", 1)))
    return [values, indices]


@handles("Trilu")
def lower_trilu(ctx, node):
    x = ctx.input(0)
    k = int(np.asarray(ctx.need_const(1, "k")).reshape(-1)[0]) if ctx.has(1) else 0
    return ctx.op("triangular", [x], x.dtype, x.shape, upper=int(ctx.attr("upper", 1)), diagonal=k)
