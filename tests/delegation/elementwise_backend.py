"""The exporter side of the test-only delegate backend (elementwise_backend.c): float32 add, mul (with a fused
ReLU or none) and relu on tensors of one shape, compiled to the C backend's tiny blob format. A test double of an
accelerator: it runs on the CPU, so the delegation layer can be tested where no accelerator exists."""
from __future__ import annotations

import struct

from pockettorch.exporter.backends.base import Backend, Subgraph
from pockettorch.runtime import op_table

MAGIC = 0x45544B50
ADD, MUL, RELU = 1, 2, 3
_BINARY = {op_table.enum_value("BINARY", "ADD"): ADD, op_table.enum_value("BINARY", "MUL"): MUL}
_ACTS = (op_table.enum_value("ACT", "NONE"), op_table.enum_value("ACT", "RELU"))


class ElementwiseTestBackend(Backend):
    name = "test_elementwise"
    min_partition_nodes = 2

    def supports(self, node) -> bool:
        tensors = node.inputs + node.outputs
        if any(t.dtype != "float32" or t.shape != node.outputs[0].shape for t in tensors):
            return False
        if node.op == "binary":
            return node.params["kind"] in _BINARY and node.params["act"] in _ACTS
        return node.op == "unary" and node.params["kind"] == op_table.enum_value("UNARY", "RELU")

    def compile(self, subgraph: Subgraph) -> bytes:
        slots = {id(t): i for i, t in enumerate(subgraph.inputs + subgraph.outputs)}
        ops = []

        def slot(t):
            return slots.setdefault(id(t), len(slots))

        for node in subgraph.nodes:
            a = slot(node.inputs[0])
            y = slot(node.outputs[0])
            if node.op == "unary":
                ops.append((RELU, a, 0, y))
                continue
            ops.append((_BINARY[node.params["kind"]], a, slot(node.inputs[1]), y))
            if node.params["act"] == op_table.enum_value("ACT", "RELU"):
                ops.append((RELU, y, 0, y))
        n_in, n_out = len(subgraph.inputs), len(subgraph.outputs)
        numel = subgraph.outputs[0].numel
        head = struct.pack("<6I", MAGIC, n_in, n_out, len(slots) - n_in - n_out, len(ops), numel)
        return head + b"".join(struct.pack("<4I", *op) for op in ops)
