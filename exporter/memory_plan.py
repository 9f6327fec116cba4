"""Static memory plan: every non-constant tensor gets an offset in one arena.

Tensors that may share storage form a buffer: a reshape's output always shares its input's buffer,
and an in-place-capable op (op table `inplace`) writes over its first input when that buffer dies at
the op and is not a program input. Each buffer lives from its first write to its last read (program
inputs from the start, outputs to the end); buffers are placed greedily, largest first, each into the
best-fitting gap among the buffers whose lifetimes overlap it. A program output never shares bytes with a
program input (the loader refuses that: a caller may bind an input to its own memory, or set the next inputs
while it reads the outputs), so a buffer holding an output is also kept off every input's bytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pockettorch.exporter.ir import Graph, Tensor

ALIGN = 64


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass(eq=False)
class Buffer:
    tensors: list[Tensor]
    size: int
    start: int
    end: int
    offset: int = -1


@dataclass
class MemoryPlan:
    offsets: dict[int, int]  # id(tensor) -> arena offset
    arena_bytes: int
    naive_bytes: int  # every tensor in its own buffer
    lower_bound_bytes: int  # the most bytes live at any one time
    buffers: list[Buffer] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"arena_bytes": self.arena_bytes, "naive_bytes": self.naive_bytes,
                "lower_bound_bytes": self.lower_bound_bytes}


def _lifetimes(graph: Graph) -> tuple[dict[int, int], dict[int, int]]:
    first: dict[int, int] = {id(t): -1 for t in graph.inputs}
    last: dict[int, int] = {id(t): -1 for t in graph.inputs}
    for i, node in enumerate(graph.nodes):
        for t in node.inputs:
            last[id(t)] = max(last.get(id(t), i), i)
        for t in node.outputs:
            first.setdefault(id(t), i)
            last.setdefault(id(t), i)
    for t in graph.outputs:
        last[id(t)] = len(graph.nodes)
    return first, last


def plan_memory(graph: Graph) -> MemoryPlan:
    first, last = _lifetimes(graph)
    inputs = {id(t) for t in graph.inputs}
    outputs = {id(t) for t in graph.outputs}
    buffer_of: dict[int, Buffer] = {}
    buffers: list[Buffer] = []

    def new_buffer(t: Tensor) -> None:
        b = Buffer([t], _align(t.nbytes), first[id(t)], last[id(t)])
        buffer_of[id(t)] = b
        buffers.append(b)

    for t in graph.inputs:
        if id(t) not in buffer_of:
            new_buffer(t)
    for i, node in enumerate(graph.nodes):
        for out in node.outputs:
            if id(out) in buffer_of:  # a delegate's output, planned at the delegate instruction before its fallback
                continue
            src = node.inputs[0] if node.inputs else None
            shared = buffer_of.get(id(src)) if src is not None and not src.is_constant else None
            holds_input = shared is not None and any(id(t) in inputs for t in shared.tensors)
            alias = shared is not None and node.op == "reshape" and not (holds_input and id(out) in outputs)
            in_place = (shared is not None and node.spec.inplace and node.op != "reshape"
                        and shared.end == i and not holds_input
                        and src.nbytes == out.nbytes and src.dtype == out.dtype
                        and not any(buffer_of.get(id(t)) is shared for t in node.inputs[1:]))
            if alias or in_place:
                shared.tensors.append(out)
                shared.size = max(shared.size, _align(out.nbytes))
                shared.end = max(shared.end, last[id(out)])
                buffer_of[id(out)] = shared
            else:
                new_buffer(out)

    io = {id(b): (any(id(t) in inputs for t in b.tensors), any(id(t) in outputs for t in b.tensors))
          for b in buffers}  # (holds a program input, holds a program output)

    def conflict(p: Buffer, b: Buffer) -> bool:
        (p_in, p_out), (b_in, b_out) = io[id(p)], io[id(b)]
        return (p.start <= b.end and b.start <= p.end) or (p_in and b_out) or (p_out and b_in)

    placed: list[Buffer] = []
    for b in sorted(buffers, key=lambda b: (-b.size, b.start)):
        busy = sorted((p.offset, p.offset + p.size) for p in placed if conflict(p, b))
        best, best_gap, cursor = None, None, 0
        for lo, hi in busy:
            gap = lo - cursor
            if gap >= b.size and (best_gap is None or gap < best_gap):
                best, best_gap = cursor, gap
            cursor = max(cursor, hi)
        b.offset = best if best is not None else cursor
        placed.append(b)

    arena = max((b.offset + b.size for b in buffers), default=0)
    horizon = len(graph.nodes) + 1
    lower = max((sum(b.size for b in buffers if b.start <= step <= b.end) for step in range(-1, horizon)),
                default=0)
    naive = sum(_align(t.nbytes) for b in buffers for t in b.tensors)
    offsets = {id(t): b.offset for b in buffers for t in b.tensors}
    return MemoryPlan(offsets, arena, naive, lower, buffers)
