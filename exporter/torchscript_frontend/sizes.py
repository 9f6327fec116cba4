"""Fold a traced model's size arithmetic back to numbers.

torch.jit.trace records `x.size(0)` as a tensor (prim::NumToTensor) and its use as a Python int as aten::Int, which
the converter turns into `_local_scalar_dense` (an `.item()`): torch.export then sees a data-dependent value where
the model only computed with shapes. A program of static shapes knows those numbers: every `.item()` whose value
depends on no input's data (only on sizes, constants and literals) is replaced by its value at the example inputs.
"""
from __future__ import annotations

import torch
from torch import fx

# Ops that read a tensor's metadata, not its data (the converter calls some as packets, some as overloads).
_SIZE_OPS = {torch.ops.aten.size, torch.ops.aten.sym_size, torch.ops.aten.dim, torch.ops.aten.numel,
             torch.ops.aten.sym_numel}
_ITEM = torch.ops.aten._local_scalar_dense


def _packet(target):
    return getattr(target, "overloadpacket", target)


def size_items(gm: fx.GraphModule) -> list[fx.Node]:
    """The `.item()`s whose values depend on sizes, constants and literals only."""
    items = [n for n in gm.graph.nodes if n.op == "call_function" and _packet(n.target) is _ITEM]
    if not items:
        return []
    reads_data: dict[fx.Node, bool] = {}
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            reads_data[node] = True
        elif node.op == "call_function" and _packet(node.target) in _SIZE_OPS:
            reads_data[node] = False
        else:
            reads_data[node] = any(reads_data.get(a, False) for a in node.all_input_nodes)
    return [n for n in items if not reads_data[n]]


def fold_size_items(gm: fx.GraphModule, args: tuple) -> int:
    """Replace the `.item()`s computed from sizes only by their values; returns how many were folded."""
    foldable = size_items(gm)
    if not foldable:
        return 0
    values = _record(gm, args, set(foldable))
    for node in foldable:
        node.replace_all_uses_with(values[node])
        gm.graph.erase_node(node)
    gm.recompile()
    return len(foldable)


def _record(gm: fx.GraphModule, args: tuple, wanted: set) -> dict:
    """The values the `wanted` nodes take when gm runs on args."""
    seen: dict[fx.Node, object] = {}

    class Recorder(fx.Interpreter):
        def run_node(self, n):
            value = super().run_node(n)
            if n in wanted:
                seen[n] = value
            return value

    with torch.no_grad():
        Recorder(gm).run(*args)
    return seen
