"""Dead-code elimination: drop nodes none of whose outputs reach a graph output."""
from __future__ import annotations

from pockettorch.exporter.ir import Graph


def eliminate_dead_code(graph: Graph) -> int:
    live = {id(t) for t in graph.outputs}
    kept = []
    for node in reversed(graph.nodes):
        if any(id(t) in live for t in node.outputs):
            kept.append(node)
            live.update(id(t) for t in node.inputs)
    removed = len(graph.nodes) - len(kept)
    graph.nodes = kept[::-1]
    return removed
