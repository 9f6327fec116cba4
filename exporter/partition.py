"""Partition the final IR between delegate backends and the CPU (FORMAT.md, DELEGATES).

Each requested backend (exporter/backends) is asked `supports(node)` on every node, in the order the backends
were given (a node goes to the first that takes it). Supported nodes of one backend are grown into groups in
topological order: a node joins the groups its inputs come from when no path leaves those groups through another
node and comes back (the groups stay convex, so each can run as one step); groups that share such a node merge.
Groups smaller than the backend's `min_partition_nodes` stay on the CPU. Each remaining group is compiled by its
backend to a blob, and the program gets, where the group ran, a delegate instruction followed by the group's own
instructions: its CPU fallback. The nodes are reordered only as far as each group must be contiguous.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from pockettorch.exporter import backends as registry
from pockettorch.exporter.backends.base import Backend, Subgraph
from pockettorch.exporter.ir import Graph, Node, Tensor
from pockettorch.runtime import error_catalogue as errors


@dataclass
class Partition:
    """One delegated subgraph: what the DELEGATES entry and the delegate instruction hold."""
    backend: str
    subgraph: Subgraph
    blob: bytes
    node: Node | None = None  # the delegate instruction

    @property
    def transfers(self) -> int:
        """Tensors crossing the boundary at run time (constants are the backend's to upload once)."""
        return sum(not t.is_constant for t in self.subgraph.inputs) + len(self.subgraph.outputs)


@dataclass
class PartitionReport:
    partitions: list[Partition] = field(default_factory=list)
    cpu_nodes: int = 0

    def as_dict(self) -> dict:
        per_backend: dict[str, dict] = {}
        for p in self.partitions:
            entry = per_backend.setdefault(p.backend, {"partitions": 0, "ops": 0, "transfers": 0})
            entry["partitions"] += 1
            entry["ops"] += len(p.subgraph.nodes)
            entry["transfers"] += p.transfers
        return {"cpu_ops": self.cpu_nodes, "backends": per_backend,
                "delegates": [{"backend": p.backend, "ops": len(p.subgraph.nodes),
                               "inputs": [t.name for t in p.subgraph.inputs if not t.is_constant],
                               "outputs": [t.name for t in p.subgraph.outputs], "transfers": p.transfers,
                               "blob_bytes": len(p.blob)} for p in self.partitions]}


class _Groups:
    """Union-find over groups, with each group's backend and the groups it depends on through other nodes."""

    def __init__(self):
        self.parent: list[int] = []
        self.backend: list[str] = []

    def new(self, backend: str) -> int:
        self.parent.append(len(self.parent))
        self.backend.append(backend)
        return len(self.parent) - 1

    def find(self, g: int) -> int:
        while self.parent[g] != g:
            self.parent[g] = self.parent[self.parent[g]]
            g = self.parent[g]
        return g

    def roots(self, gs) -> set[int]:
        return {self.find(g) for g in gs}


def _grow_groups(nodes: list[Node], backend_of: dict[int, str]) -> dict[int, int]:
    """id(node) -> group root, for the supported nodes; convex groups grown in topological order."""
    groups = _Groups()
    group_of: dict[int, int] = {}
    producer: dict[int, Node] = {id(t): n for n in nodes for t in n.outputs}
    deps: dict[int, set[int]] = {}  # id(node) -> every group it depends on (through any path)
    outside_deps: dict[int, set[int]] = {}  # group -> groups it depends on through nodes outside it

    for n in nodes:
        preds = [producer[id(t)] for t in n.inputs if id(t) in producer]
        dep: set[int] = set()
        for p in preds:
            dep |= deps[id(p)]
            if id(p) in group_of:
                dep.add(group_of[id(p)])
        backend = backend_of.get(id(n))
        if backend is not None:
            candidates = [g for g in groups.roots(group_of[id(p)] for p in preds if id(p) in group_of)
                          if groups.backend[g] == backend]
            joined = _join(groups, n, preds, candidates, group_of, deps, outside_deps)
            if joined is None:
                joined = groups.new(backend)
                outside_deps[joined] = set()
            for p in preds:  # what the group now reads from outside itself, and what that depends on
                pg = groups.find(group_of[id(p)]) if id(p) in group_of else None
                if pg != joined:
                    outside_deps[joined] |= deps[id(p)] | ({pg} if pg is not None else set())
            group_of[id(n)] = joined
        deps[id(n)] = dep
    return {k: groups.find(g) for k, g in group_of.items()}


def _join(groups: _Groups, n: Node, preds: list[Node], candidates: list[int], group_of, deps, outside_deps):
    """Merge `candidates` (all, else the most recent one alone) with n if that keeps every group convex; the root."""
    for chosen in ([candidates] if len(candidates) > 1 else []) + [[g] for g in sorted(candidates, reverse=True)]:
        chosen_set = set(chosen)
        ok = all(not (groups.roots(deps[id(p)]) & chosen_set)
                 for p in preds if id(p) not in group_of or groups.find(group_of[id(p)]) not in chosen_set)
        ok = ok and all(not (groups.roots(outside_deps[a]) & (chosen_set - {a})) for a in chosen)
        if ok:
            root = chosen[0]
            for g in chosen[1:]:
                outside_deps[root] |= outside_deps.pop(g)
                groups.parent[g] = root
            outside_deps[root] = {d for d in outside_deps[root] if groups.find(d) != root}
            return root
    return None


def _subgraph(members: list[Node], graph: Graph, readers: dict[int, list[Node]], options: dict) -> Subgraph:
    inside = {id(n) for n in members}
    produced = {id(t) for n in members for t in n.outputs}
    outputs_of_graph = {id(t) for t in graph.outputs}
    inputs: list[Tensor] = []
    seen: set[int] = set()
    for n in members:
        for t in n.inputs:
            if id(t) not in produced and id(t) not in seen:
                seen.add(id(t))
                inputs.append(t)
    outputs = [t for n in members for t in n.outputs
               if id(t) in outputs_of_graph or any(id(r) not in inside for r in readers.get(id(t), []))]
    return Subgraph(list(members), inputs, outputs, dict(options))


def _order(nodes: list[Node], unit_of: dict[int, int]) -> list[int]:
    """Units (a group, or a single CPU node) in a topological order that keeps the original one where it can."""
    producer_unit = {id(t): unit_of[id(n)] for n in nodes for t in n.outputs}
    first: dict[int, int] = {}
    succ: dict[int, set[int]] = {}
    indeg: dict[int, int] = {}
    for i, n in enumerate(nodes):
        u = unit_of[id(n)]
        first.setdefault(u, i)
        indeg.setdefault(u, 0)
    for n in nodes:
        u = unit_of[id(n)]
        for t in n.inputs:
            p = producer_unit.get(id(t))
            if p is not None and p != u and u not in succ.setdefault(p, set()):
                succ[p].add(u)
                indeg[u] += 1
    ready = [(first[u], u) for u, d in indeg.items() if d == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, u = heapq.heappop(ready)
        order.append(u)
        for v in succ.get(u, ()):
            indeg[v] -= 1
            if indeg[v] == 0:
                heapq.heappush(ready, (first[v], v))
    if len(order) != len(indeg):
        raise AssertionError("partition made a cycle")  # the groups are convex; this would be a partitioner bug
    return order


def partition(graph: Graph, backend_names: list[str], options: dict[str, dict] | None = None) -> PartitionReport:
    """Delegate what `backend_names` support: rewrites graph.nodes, sets graph.delegates; returns the report."""
    options = options or {}
    unknown = set(options) - set(backend_names)
    if unknown:
        raise errors.InvalidArgumentError(f"backend_options for {', '.join(sorted(unknown))}, which is not in backends")
    if getattr(graph, "symbols", None):
        raise errors.InvalidArgumentError("delegation needs static shapes: export without dynamic_shapes to use backends")
    backends: list[Backend] = [registry.get(name) for name in dict.fromkeys(backend_names)]
    backend_of: dict[int, str] = {}
    for n in graph.nodes:
        for b in backends:
            if b.supports(n):
                backend_of[id(n)] = b.name
                break
    group_of = _grow_groups(graph.nodes, backend_of)
    members: dict[int, list[Node]] = {}
    for n in graph.nodes:
        if id(n) in group_of:
            members.setdefault(group_of[id(n)], []).append(n)
    by_name = {b.name: b for b in backends}
    kept = {g: m for g, m in members.items() if len(m) >= by_name[backend_of[id(m[0])]].min_partition_nodes}
    unit_of = {id(n): (group_of[id(n)] if group_of.get(id(n)) in kept else -1 - i) for i, n in enumerate(graph.nodes)}

    readers: dict[int, list[Node]] = {}
    for n in graph.nodes:
        for t in n.inputs:
            readers.setdefault(id(t), []).append(n)
    report = PartitionReport(cpu_nodes=sum(len(m) for g, m in members.items() if g not in kept)
                             + sum(id(n) not in group_of for n in graph.nodes))
    new_nodes: list[Node] = []
    graph.delegates = []
    by_unit = {u: [n for n in graph.nodes if unit_of[id(n)] == u] for u in set(unit_of.values())}
    for u in _order(graph.nodes, unit_of):
        group = by_unit[u]
        if u not in kept:
            new_nodes.extend(group)
            continue
        name = backend_of[id(group[0])]
        sub = _subgraph(group, graph, readers, options.get(name, {}))
        blob = by_name[name].compile(sub)
        if not isinstance(blob, (bytes, bytearray)) or not blob:
            raise errors.InvalidArgumentError(f"backend {name!r} compiled a subgraph to {type(blob).__name__} "
                                              f"of size {len(blob) if blob else 0}; expected non-empty bytes")
        delegate = Node("delegate", list(sub.inputs), list(sub.outputs),
                        {"delegate": len(graph.delegates), "fallback": len(group)}, source=f"delegate to {name}",
                        covers=[])
        graph.delegates.append((name, bytes(blob)))
        report.partitions.append(Partition(name, sub, bytes(blob), delegate))
        new_nodes.append(delegate)
        new_nodes.extend(group)
    graph.nodes = new_nodes
    return report
