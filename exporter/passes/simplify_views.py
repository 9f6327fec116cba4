"""View simplification: collapse reshape chains, drop identity reshapes/permutes and same-dtype copies
(clone, dropout in eval), merge permute chains."""
from __future__ import annotations

from pockettorch.exporter.ir import Graph


def simplify_views(graph: Graph) -> int:
    rewrites = 0
    outputs = {id(t) for t in graph.outputs}
    for node in list(graph.nodes):
        if node.op == "cast" and node.inputs[0].dtype == node.outputs[0].dtype and id(node.outputs[0]) not in outputs:
            graph.replace_uses(node.outputs[0], node.inputs[0])
            graph.nodes.remove(node)
            rewrites += 1
            continue
        if node.op not in ("reshape", "permute"):
            continue
        x, y = node.inputs[0], node.outputs[0]
        src = x.producer
        if src is not None and src.op == node.op and src in graph.nodes:
            # reshape(reshape(a)) -> reshape(a); permute(permute(a, p), q) -> permute(a, p[q])
            if node.op == "permute":
                inner = src.params["perm"]
                node.params = {"perm": [inner[i] for i in node.params["perm"]]}
            node.inputs = [src.inputs[0]]
            x = node.inputs[0]
            rewrites += 1
        identity = (node.op == "reshape" and x.shape == y.shape) or (
            node.op == "permute" and list(node.params["perm"]) == sorted(node.params["perm"]))
        if identity and id(y) not in outputs:
            graph.replace_uses(y, x)
            graph.nodes.remove(node)
            rewrites += 1
    return rewrites
