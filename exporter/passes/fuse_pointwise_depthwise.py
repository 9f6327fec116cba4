"""Fuse a pointwise conv2d into the depthwise conv2d it feeds (op conv_pw_dw): mobilenet's expansion and
its strided depthwise conv. The kernel makes the intermediate a band of rows at a time in L2 instead of
writing it to memory and reading it back (4.8 MB in mobilenet_v2's second block)."""
from __future__ import annotations

from pockettorch.exporter.ir import Graph, Node
from pockettorch.exporter.passes.producer import fusable_producer

# Smaller intermediates stay in a core's L2 between the two convs anyway.
MIN_INTERMEDIATE_BYTES = 1 << 20
# Bands of output rows share intermediate rows, which the kernel computes twice: kh - stride rows per
# band, about one in ten at stride 2 but one in three at stride 1, more than the memory traffic saved.
STRIDE = 2


def _has_constant_bias(node: Node) -> bool:
    return len(node.inputs) == 3 and all(t.is_constant for t in node.inputs[1:])


def _is_pointwise(node: Node) -> bool:
    if node.op != "conv2d":
        return False
    p = node.params
    return (node.inputs[1].shape[2:] == (1, 1) and p["groups"] == 1
            and (p["stride_h"], p["stride_w"], p["pad_h"], p["pad_w"], p["dil_h"], p["dil_w"]) == (1, 1, 0, 0, 1, 1)
            and _has_constant_bias(node))


def _is_depthwise(node: Node) -> bool:
    if node.op != "conv2d":
        return False
    p = node.params
    x, w = node.inputs[0], node.inputs[1]
    return (len(x.shape) == 4 and p["groups"] == x.shape[1] == w.shape[0] and w.shape[1] == 1
            and p["stride_h"] == p["stride_w"] == STRIDE and _has_constant_bias(node))


def fuse_pointwise_depthwise(graph: Graph) -> int:
    users = graph.consumers()
    outputs = {id(t) for t in graph.outputs}
    fused = 0
    for dw in list(graph.nodes):
        if not _is_depthwise(dw):
            continue
        mid = dw.inputs[0]
        pw, _ = fusable_producer(graph, mid, {"conv2d"}, users, outputs, lambda r: False)
        if pw is None or not _is_pointwise(pw) or mid.dtype != "float32" or mid.nbytes < MIN_INTERMEDIATE_BYTES:
            continue
        a, d = pw.params, dw.params
        node = Node("conv_pw_dw", [pw.inputs[0], pw.inputs[1], pw.inputs[2], dw.inputs[1], dw.inputs[2]],
                    list(dw.outputs),
                    dict(act1=a["act"], act1_min=a["act_min"], act1_max=a["act_max"],
                         stride_h=d["stride_h"], stride_w=d["stride_w"], pad_h=d["pad_h"], pad_w=d["pad_w"],
                         dil_h=d["dil_h"], dil_w=d["dil_w"], act=d["act"], act_min=d["act_min"], act_max=d["act_max"]),
                    f"{pw.source} + {dw.source}")
        dw.outputs[0].producer = node
        graph.nodes[graph.nodes.index(pw)] = node
        graph.nodes.remove(dw)
        fused += 1
    return fused
