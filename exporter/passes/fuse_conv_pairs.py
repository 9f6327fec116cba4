"""Fuse the pairs of convs of mobilenet-style blocks whose intermediate is too big for a core's L2: a
pointwise conv into the strided depthwise conv it feeds (op conv_pw_dw, the expansion), and a depthwise
conv into the pointwise conv it feeds (op conv_dw_pw, the projection). Their kernels make the
intermediate a band of rows at a time in L2 instead of writing it to memory and reading it back
(4.8 MB in mobilenet_v2's second block)."""
from __future__ import annotations

from pockettorch.exporter.ir import Graph, Node
from pockettorch.exporter.passes.producer import fusable_producer

# Smaller intermediates stay in a core's L2 between the two convs anyway.
MIN_INTERMEDIATE_BYTES = 1 << 20
# conv_pw_dw computes the intermediate rows that two bands share twice: kh - stride rows per band, about
# one in ten at stride 2 but one in three at stride 1, more than the memory traffic saved.
PW_DW_STRIDE = 2
WINDOW = ("stride_h", "stride_w", "pad_h", "pad_w", "dil_h", "dil_w")


def _has_constant_bias(node: Node) -> bool:
    return len(node.inputs) == 3 and all(t.is_constant for t in node.inputs[1:])


def _is_pointwise(node: Node) -> bool:
    if node.op != "conv2d":
        return False
    p = node.params
    return (node.inputs[1].shape[2:] == (1, 1) and p["groups"] == 1
            and tuple(p[k] for k in WINDOW) == (1, 1, 0, 0, 1, 1) and _has_constant_bias(node))


def _is_depthwise(node: Node) -> bool:
    if node.op != "conv2d":
        return False
    x, w = node.inputs[0], node.inputs[1]
    return (len(x.shape) == 4 and node.params["groups"] == x.shape[1] == w.shape[0] and w.shape[1] == 1
            and _has_constant_bias(node))


def _acts(first: Node, second: Node) -> dict:
    a, b = first.params, second.params
    return dict(act1=a["act"], act1_min=a["act_min"], act1_max=a["act_max"], act=b["act"], act_min=b["act_min"],
                act_max=b["act_max"])


def _fuse(graph: Graph, op: str, first: Node, second: Node, window: Node) -> None:
    """Replace `first` -> `second` by one `op` node reading first's input and both weights and biases."""
    node = Node(op, [first.inputs[0], *first.inputs[1:], *second.inputs[1:]], list(second.outputs),
                {**{k: window.params[k] for k in WINDOW}, **_acts(first, second)}, f"{first.source} + {second.source}",
                list(first.covers))
    node.absorb_covers(second)
    second.outputs[0].producer = node
    graph.nodes[graph.nodes.index(first)] = node
    graph.nodes.remove(second)


def fuse_conv_pairs(graph: Graph) -> int:
    fused = 0
    for op, first_ok, second_ok in (
            ("conv_pw_dw", _is_pointwise,
             lambda n: _is_depthwise(n) and n.params["stride_h"] == n.params["stride_w"] == PW_DW_STRIDE),
            ("conv_dw_pw", _is_depthwise, _is_pointwise)):
        users = graph.consumers()
        outputs = {id(t) for t in graph.outputs}
        for second in list(graph.nodes):
            if not second_ok(second):
                continue
            mid = second.inputs[0]
            first, _ = fusable_producer(graph, mid, {"conv2d"}, users, outputs, lambda r: False)
            if first is None or not first_ok(first) or mid.dtype != "float32" or mid.nbytes < MIN_INTERMEDIATE_BYTES:
                continue
            _fuse(graph, op, first, second, second if op == "conv_pw_dw" else first)
            fused += 1
    return fused
