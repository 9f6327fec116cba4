"""Lowering of shape and data-movement ATen ops: reshape, permute, slice, concat, expand, pad, take, gather."""
from __future__ import annotations

from pockettorch.exporter.lowering import lowers


@lowers("aten.view.default", "aten._unsafe_view.default", "aten.reshape.default", "aten.squeeze.dims",
        "aten.squeeze.dim", "aten.squeeze.default", "aten.unsqueeze.default", "aten.flatten.using_ints")
def lower_reshape(ctx, node):
    x = ctx.tensor(node.args[0])
    return ctx.reshape(x, ctx.meta(node).shape, name=node.name)
