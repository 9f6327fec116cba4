"""Lowering of reductions: sum, mean, amax/amin, prod, any/all, var, norm, argmax/argmin.

Every reduction lowers to `reduce` (kind, correction, axes) over explicit, normalised, sorted axes
(all dims when the ATen op reduces everything); keepdim is carried by the output shape. argmax/argmin
lower to `arg_reduce` over one axis (the flattened input when dim is None), max.dim/min.dim to both.
"""
from __future__ import annotations

import math

from pockettorch.runtime import error_catalogue as errors
from pockettorch.exporter.lowering import lowers
from pockettorch.exporter.lowering.shape import _arg, norm_dim
from pockettorch.runtime.op_table import enum_value

INT_DTYPES = ("int64", "int32", "uint8", "int8", "bool")


def _axes(dims, rank: int) -> list[int]:
    """Normalised sorted axes; None or [] means every dim. 0-d tensors reduce over nothing."""
    if dims is None:
        dims = []
    if isinstance(dims, int):
        dims = [dims]
    if rank == 0:
        for d in dims:
            norm_dim(int(d), 0)
        return []
    if len(dims) == 0:
        return list(range(rank))
    axes = sorted({norm_dim(int(d), rank) for d in dims})
    if len(axes) != len(dims):
        raise errors.UnsupportedOpError(f"repeated dims {list(dims)} in a reduction")
    return axes


def _reduce(ctx, x, kind: str, axes, out=None, correction: int = 0):
    out = ctx.out() if out is None else out
    ctx.emit("reduce", [x], [out], kind=enum_value("REDUCE", kind), correction=int(correction), axes=list(axes))
    return out


def _input(ctx, node, float_only: bool = False):
    """The input, cast to what the kernel takes for this node's output dtype: float32 for float
    results, the output's integer dtype for integer sums of float input; integer inputs of integer
    sums stay as they are (the kernel accumulates them in int64)."""
    x = ctx.tensor(node.args[0])
    out_dtype = str(ctx.meta(node).dtype).removeprefix("torch.")
    if float_only or out_dtype == "float32":
        return ctx.cast(x, "float32")
    if x.dtype == "float32":
        return ctx.cast(x, out_dtype)
    return x


@lowers("aten.sum.dim_IntList", "aten.sum.default")
def lower_sum(ctx, node):
    x = _input(ctx, node)
    dims = None if str(node.target) == "aten.sum.default" else _arg(node, 1, "dim")
    return _reduce(ctx, x, "SUM", _axes(dims, len(x.shape)))


@lowers("aten.prod.dim_int", "aten.prod.default")
def lower_prod(ctx, node):
    x = _input(ctx, node)
    dims = None if str(node.target) == "aten.prod.default" else _arg(node, 1, "dim")
    return _reduce(ctx, x, "PROD", _axes(dims, len(x.shape)))


@lowers("aten.mean.dim", "aten.mean.default")
def lower_mean(ctx, node):
    x = _input(ctx, node, float_only=True)
    dims = None if str(node.target) == "aten.mean.default" else _arg(node, 1, "dim")
    return _reduce(ctx, x, "MEAN", _axes(dims, len(x.shape)))


@lowers("aten.amax.default", "aten.amin.default", "aten.max.default", "aten.min.default")
def lower_amax(ctx, node):
    x = ctx.tensor(node.args[0])
    target = str(node.target)
    dims = _arg(node, 1, "dim") if target.startswith(("aten.amax", "aten.amin")) else None
    kind = "MAX" if target.startswith(("aten.amax", "aten.max")) else "MIN"
    return _reduce(ctx, x, kind, _axes(dims, len(x.shape)))


@lowers("aten.any.dim", "aten.any.dims", "aten.any.default", "aten.all.dim", "aten.all.dims", "aten.all.default")
def lower_any(ctx, node):
    x = ctx.tensor(node.args[0])
    target = str(node.target)
    dims = None if target.endswith(".default") else _arg(node, 1, "dim")
    return _reduce(ctx, x, "ANY" if target.startswith("aten.any") else "ALL", _axes(dims, len(x.shape)))


@lowers("aten.var.correction")
def lower_var(ctx, node):
    x = _input(ctx, node, float_only=True)
    correction = node.kwargs.get("correction", _arg(node, 2, "correction"))
    correction = 1 if correction is None else correction
    if float(correction) != math.floor(float(correction)):
        raise errors.UnsupportedOpError(f"{node.name}: var with a fractional correction {correction}")
    return _reduce(ctx, x, "VAR", _axes(_arg(node, 1, "dim"), len(x.shape)), correction=int(correction))


@lowers("aten.linalg_vector_norm.default")
def lower_vector_norm(ctx, node):
    x = _input(ctx, node, float_only=True)
    ord_ = _arg(node, 1, "ord", 2)
    if float(ord_) != 2.0:
        raise errors.UnsupportedOpError(
            f"operator aten.linalg_vector_norm.default (node {node.name}) with ord={ord_}; only the 2-norm is supported",
            hint="Use ord=2, or write the norm out (x.abs().sum(dim) for ord=1, x.abs().amax(dim) for inf).")
    return _reduce(ctx, x, "NORM2", _axes(_arg(node, 2, "dim"), len(x.shape)))


# -- argmax / argmin --

def _arg_reduce(ctx, x, kind: str, dim, out_meta, name: str):
    """arg_reduce over `dim` (None: the flattened input), reshaped to the shape torch gives."""
    if dim is None or len(x.shape) == 0:
        if len(x.shape) == 0:
            norm_dim(int(dim or 0), 0)
        x = ctx.reshape(x, (x.numel,))
        axis = 0
        out = ctx.graph.tensor(name + "_flat", "int64", ())
    else:
        axis = norm_dim(int(dim), len(x.shape))
        out = ctx.out(out_meta, name=name)
    if x.shape[axis] == 0:
        raise errors.UnsupportedOpError(f"{name}: argmax/argmin over an empty dim")
    ctx.emit("arg_reduce", [x], [out], kind=enum_value("ARGREDUCE", kind), axis=axis)
    return ctx.reshape(out, tuple(int(d) for d in out_meta.shape), name=name)


@lowers("aten.argmax.default", "aten.argmin.default")
def lower_argmax(ctx, node):
    x = ctx.tensor(node.args[0])
    kind = "ARGMAX" if str(node.target).startswith("aten.argmax") else "ARGMIN"
    return _arg_reduce(ctx, x, kind, _arg(node, 1, "dim"), ctx.meta(node), node.name)


@lowers("aten.max.dim", "aten.min.dim")
def lower_max_dim(ctx, node):
    x = ctx.tensor(node.args[0])
    is_max = str(node.target).startswith("aten.max")
    values_meta, indices_meta = ctx.meta(node)
    dim = int(node.args[1])
    values = _reduce(ctx, x, "MAX" if is_max else "MIN", _axes([dim], len(x.shape)),
                     out=ctx.out(values_meta, name=node.name + "_values"))
    indices = _arg_reduce(ctx, x, "ARGMAX" if is_max else "ARGMIN", dim, indices_meta, node.name + "_indices")
    return [values, indices]
