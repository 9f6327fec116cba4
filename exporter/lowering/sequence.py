"""Lowering of sequence ops: cumsum, flip, tril / triu (kept undecomposed by capture)."""
from __future__ import annotations

from pockettorch import errors
from pockettorch.exporter.lower import torch_dtype_name
from pockettorch.exporter.lowering import lowers
from pockettorch.exporter.lowering.nn import norm_dim

CUMSUM_DTYPES = ("float32", "int64", "int32")


@lowers("aten.cumsum.default")
def lower_cumsum(ctx, node):
    out_dtype = torch_dtype_name(ctx.meta(node).dtype)
    if out_dtype not in CUMSUM_DTYPES:
        raise errors.UnsupportedOpError(f"cumsum producing {out_dtype}; supported: {', '.join(CUMSUM_DTYPES)}")
    x = ctx.tensor(node.args[0], out_dtype)  # torch promotes bool / small ints to int64 first
    dim = node.args[1] if len(node.args) > 1 else node.kwargs["dim"]
    return ctx.unary("cumsum", x, axis=norm_dim(int(dim), len(x.shape)))


@lowers("aten.flip.default")
def lower_flip(ctx, node):
    x = ctx.tensor(node.args[0])
    rank = len(x.shape)
    axes = sorted({norm_dim(int(d), rank) for d in node.args[1]})
    if rank == 0:
        axes = []
    axes = [a for a in axes if x.shape[a] > 1]  # flipping a size-1 dim changes nothing
    return ctx.unary("flip", x, axes=axes)


@lowers("aten.tril.default", "aten.triu.default")
def lower_triangular(ctx, node):
    x = ctx.tensor(node.args[0])
    if len(x.shape) < 2:
        raise errors.UnsupportedOpError(f"{node.target} needs a tensor of rank >= 2, got rank {len(x.shape)}")
    diagonal = node.args[1] if len(node.args) > 1 else node.kwargs.get("diagonal", 0)
    return ctx.unary("triangular", x, upper=int(str(node.target) == "aten.triu.default"), diagonal=int(diagonal))
