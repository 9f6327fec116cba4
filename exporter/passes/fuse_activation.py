"""Fuse an activation into the conv2d / conv_transpose2d / linear / add that feeds it, so the
result is written once with the activation applied."""
from __future__ import annotations

import math

from pockettorch.exporter.ir import Graph
from pockettorch.exporter.passes.producer import absorb, fusable_producer
from pockettorch.runtime.op_table import enum_value

FUSABLE = {"conv2d", "conv_transpose2d", "linear", "binary"}
ADD = enum_value("BINARY", "ADD")
NONE = enum_value("ACT", "NONE")
UNARY_TO_ACT = {enum_value("UNARY", k): enum_value("ACT", k)
                for k in ("RELU", "SILU", "GELU", "GELU_TANH", "HARDSWISH", "SIGMOID", "TANH")}
CLAMP = enum_value("UNARY", "CLAMP")


def _act_of(node):
    """(act, lo, hi) for a unary node that can be fused, else None."""
    kind = node.params["kind"]
    if kind in UNARY_TO_ACT:
        return UNARY_TO_ACT[kind], 0.0, 0.0
    if kind == CLAMP:
        lo, hi = node.params["alpha"], node.params["beta"]
        if (lo, hi) == (0.0, 6.0):
            return enum_value("ACT", "RELU6"), 0.0, 0.0
        if (lo, hi) == (0.0, math.inf):
            return enum_value("ACT", "RELU"), 0.0, 0.0
        return enum_value("ACT", "CLAMP"), lo, hi
    return None


def fuse_activations(graph: Graph) -> int:
    users = graph.consumers()
    outputs = {id(t) for t in graph.outputs}
    fused = 0
    for act_node in list(graph.nodes):
        if act_node.op != "unary":
            continue
        x = act_node.inputs[0]
        prev, reshape = fusable_producer(graph, x, FUSABLE, users, outputs)
        if (prev is None or x.dtype != "float32" or prev.params.get("act") != NONE
                or (prev.op == "binary" and prev.params["kind"] != ADD)):
            continue
        act = _act_of(act_node)
        if act is None:
            continue
        prev.params.update(act=act[0], act_min=act[1], act_max=act[2])
        absorb(prev, reshape, act_node, graph)
        fused += 1
    return fused
