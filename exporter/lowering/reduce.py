"""Lowering of reductions: sum, mean, amax/amin, prod, any/all, var, norm, argmax/argmin.

Every reduction lowers to `reduce` (kind, correction, axes) over explicit, normalised, sorted axes
(all dims when the ATen op reduces everything); keepdim is carried by the output shape. argmax/argmin
lower to `arg_reduce` over one axis (the flattened input when dim is None), max.dim/min.dim to both.
"""
from __future__ import annotations

import math

from pockettorch.exporter.lowering import lowers
from pockettorch.exporter.lowering.common import aten_name, call_arg, norm_dim, overload
from pockettorch.runtime import error_catalogue as errors
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


@lowers("reduce", "sum")
def lower_sum(ctx, node):
    x = _input(ctx, node)
    dims = None if overload(node.target) == "default" else call_arg(node, 1, "dim")
    return _reduce(ctx, x, "SUM", _axes(dims, len(x.shape)))


@lowers("reduce", "prod")
def lower_prod(ctx, node):
    x = _input(ctx, node)
    dims = None if overload(node.target) == "default" else call_arg(node, 1, "dim")
    return _reduce(ctx, x, "PROD", _axes(dims, len(x.shape)))


@lowers("reduce", "mean")
def lower_mean(ctx, node):
    x = _input(ctx, node, float_only=True)
    dims = None if overload(node.target) == "default" else call_arg(node, 1, "dim")
    return _reduce(ctx, x, "MEAN", _axes(dims, len(x.shape)))


@lowers("reduce", "amax", "amin", "max", "min")
def lower_amax(ctx, node):
    x = ctx.tensor(node.args[0])
    name = aten_name(node.target)
    dims = call_arg(node, 1, "dim") if name in ("amax", "amin") else None
    kind = "MAX" if name in ("amax", "max") else "MIN"
    return _reduce(ctx, x, kind, _axes(dims, len(x.shape)))


@lowers("reduce", "any", "all")
def lower_any(ctx, node):
    x = ctx.tensor(node.args[0])
    dims = None if overload(node.target) == "default" else call_arg(node, 1, "dim")
    return _reduce(ctx, x, aten_name(node.target).upper(), _axes(dims, len(x.shape)))


@lowers("reduce", "var")
def lower_var(ctx, node):
    x = _input(ctx, node, float_only=True)
    correction = node.kwargs.get("correction", call_arg(node, 2, "correction"))
    correction = 1 if correction is None else correction
    if float(correction) != math.floor(float(correction)):
        raise errors.UnsupportedOpError(f"{node.name}: var with a fractional correction {correction}")
    return _reduce(ctx, x, "VAR", _axes(call_arg(node, 1, "dim"), len(x.shape)), correction=int(correction))


@lowers("reduce", "linalg_vector_norm")
def lower_vector_norm(ctx, node):
    x = _input(ctx, node, float_only=True)
    ord_ = call_arg(node, 1, "ord", 2)
    if float(ord_) != 2.0:
        raise errors.UnsupportedOpError(
            f"operator aten.linalg_vector_norm.default (node {node.name}) with ord={ord_}; only the 2-norm is supported",
            hint="Use ord=2, or write the norm out (x.abs().sum(dim) for ord=1, x.abs().amax(dim) for inf).")
    return _reduce(ctx, x, "NORM2", _axes(call_arg(node, 2, "dim"), len(x.shape)))


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


@lowers("arg_reduce", "argmax", "argmin")
def lower_argmax(ctx, node):
    x = ctx.tensor(node.args[0])
    kind = aten_name(node.target).upper()
    return _arg_reduce(ctx, x, kind, call_arg(node, 1, "dim"), ctx.meta(node), node.name)


@lowers("arg_reduce", "max", "min")
def lower_max_dim(ctx, node):
    x = ctx.tensor(node.args[0])
    is_max = aten_name(node.target) == "max"
    values_meta, indices_meta = ctx.meta(node)
    dim = int(node.args[1])
    values = _reduce(ctx, x, "MAX" if is_max else "MIN", _axes([dim], len(x.shape)),
                     out=ctx.out(values_meta, name=node.name + "_values"))
    indices = _arg_reduce(ctx, x, "ARGMAX" if is_max else "ARGMIN", dim, indices_meta, node.name + "_indices")
    return [values, indices]
