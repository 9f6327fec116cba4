"""Find the op a fusion can fold into: the producer of a tensor, directly or through one reshape."""
from __future__ import annotations

from typing import Callable

from pockettorch.exporter.ir import Graph, Node, Tensor


def fusable_producer(graph: Graph, t: Tensor, ops: set[str], users: dict, outputs: set[int],
                     reshape_ok: Callable[[Node], bool] = lambda n: True) -> tuple[Node | None, Node | None]:
    """(producer, reshape) when `t` comes from an op in `ops`, possibly through one reshape accepted by
    `reshape_ok` (conv1d is conv2d between two reshapes), and each tensor on the way is used only once
    and is not a program output. (None, None) otherwise."""
    def single_use(x: Tensor) -> bool:
        return len(users.get(id(x), [])) == 1 and id(x) not in outputs

    if not single_use(t) or t.producer is None:
        return None, None
    node = t.producer
    if node.op in ops:
        return node, None
    if node.op == "reshape" and reshape_ok(node):
        src = node.inputs[0]
        if single_use(src) and src.producer is not None and src.producer.op in ops:
            return src.producer, node
    return None, None


def absorb(prev: Node, reshape: Node | None, follower: Node, graph: Graph) -> None:
    """Remove `follower` after folding it into `prev`: its output is now written by `prev` (or the reshape)."""
    out = follower.outputs[0]
    writer = reshape or prev
    if reshape is not None:  # prev now writes the follower's result in the shape before the reshape (same order)
        prev.outputs[0].origin = out.origin
    writer.outputs = [out]
    out.producer = writer
    prev.absorb_covers(follower)
    graph.nodes.remove(follower)
