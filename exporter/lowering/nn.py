"""Lowering of neural-network ATen ops: linear, matmul, convolution, normalization, pooling, attention."""
from __future__ import annotations

from pockettorch.exporter.lowering import lowers
from pockettorch.runtime.op_table import enum_value

NO_ACT = dict(act=enum_value("ACT", "NONE"), act_min=0.0, act_max=0.0)


@lowers("aten.addmm.default")
def lower_addmm(ctx, node):
    bias, x, w_t = node.args[:3]
    beta, alpha = node.kwargs.get("beta", 1), node.kwargs.get("alpha", 1)
    w = ctx.tensor(w_t)
    if beta != 1 or alpha != 1 or not w.is_constant:
        raise NotImplementedError("addmm with non-constant weight or alpha/beta != 1")  # replaced by the nn helper
    weight = ctx.graph.constant(w.data.T, w.name + "_t", w.dtype)
    out = ctx.out()
    ctx.emit("linear", [ctx.tensor(x), weight, ctx.tensor(bias)], [out], **NO_ACT)
    return out
