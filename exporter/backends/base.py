"""The exporter's side of a delegate backend: which IR nodes it takes, and how it compiles a subgraph to a blob.

The partitioner (exporter/partition.py) asks every requested backend `supports(node)` on the final IR (after the
passes, so fused nodes such as conv_pw_dw are asked about as they are), cuts maximal connected groups of supported
nodes, keeps on the CPU groups smaller than `min_partition_nodes`, and hands each group to `compile()`. The blob is
stored in the program as is; the runtime's backend of the same name (runtime/core/backend.h) reads it. A new backend
subclasses Backend and registers in exporter/backends/__init__.py: nothing else in the exporter changes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pockettorch.exporter.ir import Node, Tensor


@dataclass
class Subgraph:
    """A group of IR nodes for one delegate: topologically ordered; `inputs` are what it reads from outside (graph
    inputs, constants, CPU-computed tensors), `outputs` what is read after it (by CPU nodes or as graph outputs)."""
    nodes: list[Node]
    inputs: list[Tensor]
    outputs: list[Tensor]
    options: dict = field(default_factory=dict)  # per-backend options the user passed (precision="fp16", ...)


class Backend:
    name: str = ""
    min_partition_nodes: int = 1  # smaller groups stay on the CPU (a transfer costs more than they save)

    def supports(self, node: Node) -> bool:
        """True when this backend runs `node` (its op, dtypes, shapes and params) exactly as the CPU kernel does."""
        raise NotImplementedError

    def compile(self, subgraph: Subgraph) -> bytes:
        """The blob the runtime backend's init() reads: everything it needs (ops, params, shapes, constant data)."""
        raise NotImplementedError
