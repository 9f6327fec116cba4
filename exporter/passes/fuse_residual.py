"""Fuse a residual add into the conv2d (or conv_dw_pw) that computes one of its operands: the conv takes the
other operand as an input after its bias and adds it, then applies the add's activation, while each output
tile (or band of rows) is still in cache. One op and one pass over the block's output less per residual
block (mobilenet_v2 has 10, resnet18 8)."""
from __future__ import annotations

from pockettorch.exporter.ir import Graph
from pockettorch.exporter.passes.producer import fusable_producer
from pockettorch.runtime.op_table import enum_value

ADD = enum_value("BINARY", "ADD")
NONE = enum_value("ACT", "NONE")
BASE_INPUTS = {"conv2d": 3, "conv_dw_pw": 5}  # a conv with its bias and no residual yet


def fuse_residual_adds(graph: Graph) -> int:
    users = graph.consumers()
    outputs = {id(t) for t in graph.outputs}
    order = {id(n): i for i, n in enumerate(graph.nodes)}
    fused = 0
    for add in list(graph.nodes):
        out = add.outputs[0]
        if (add.op != "binary" or add.params["kind"] != ADD or out.dtype != "float32"
                or any(t.shape != out.shape or t.dtype != "float32" for t in add.inputs)):
            continue
        a, b = add.inputs
        if a is b:
            continue
        candidates = []
        for conv_out, residual in ((a, b), (b, a)):
            conv, _ = fusable_producer(graph, conv_out, set(BASE_INPUTS), users, outputs, lambda r: False)
            if (conv is not None and len(conv.inputs) == BASE_INPUTS[conv.op] and conv.params["act"] == NONE
                    and len(out.shape) == 4):
                candidates.append((order[id(conv)], conv, residual))
        if not candidates:
            continue
        # The conv computed last (resnet's downsample branch comes after conv2) reads the other operand in
        # place; otherwise the conv moves to the add's place, where every operand exists.
        _, conv, residual = max(candidates, key=lambda c: c[0])
        conv.inputs.append(residual)
        conv.params.update(act=add.params["act"], act_min=add.params["act_min"], act_max=add.params["act_max"])
        conv.outputs = [out]
        out.producer = conv
        conv.absorb_covers(add)
        graph.nodes.remove(conv)
        graph.nodes[graph.nodes.index(add)] = conv
        fused += 1
    return fused
