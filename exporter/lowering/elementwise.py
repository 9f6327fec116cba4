"""Lowering of elementwise ATen ops onto binary / compare / logical / unary / where / cast / fill."""
from __future__ import annotations

from pockettorch.exporter.lowering import lowers
from pockettorch.runtime.op_table import enum_value

UNARY_KINDS = {
    "aten.relu.default": "RELU",
}


@lowers(*UNARY_KINDS)
def lower_unary(ctx, node):
    x = ctx.tensor(node.args[0])
    return ctx.unary("unary", x, kind=enum_value("UNARY", UNARY_KINDS[str(node.target)]), alpha=0.0, beta=0.0)
