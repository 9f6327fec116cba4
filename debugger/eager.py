"""Eager intermediates: run the torch.export graph the program was lowered from with a torch.fx Interpreter and
keep every node's output, by node name (the names the exporter records per instruction)."""
from __future__ import annotations

import numpy as np
import torch
from torch.export.graph_signature import InputKind

from pockettorch.runtime import error_catalogue as errors


class _Recorder(torch.fx.Interpreter):
    def __init__(self, module):
        super().__init__(module)
        self.values: dict[str, np.ndarray] = {}

    def run_node(self, n: torch.fx.Node):
        result = super().run_node(n)
        if n.op == "call_function" and isinstance(result, torch.Tensor):
            self.values[n.name] = result.detach().cpu().numpy().copy()
        return result


def _graph_args(ep: torch.export.ExportedProgram, user_inputs: list[torch.Tensor]) -> list:
    """The graph's placeholders in order: lifted parameters, buffers and constants, and the user's inputs."""
    users = iter(user_inputs)
    args = []
    for spec in ep.graph_signature.input_specs:
        if spec.kind == InputKind.USER_INPUT:
            args.append(next(users))
        elif spec.target in ep.state_dict:
            args.append(ep.state_dict[spec.target])
        elif spec.target in ep.constants:
            args.append(ep.constants[spec.target])
        else:
            raise errors.BadModelArgsError(f"cannot evaluate graph input {spec.arg.name} ({spec.kind.name}) eagerly")
    return args


def eager_values(ep: torch.export.ExportedProgram, user_inputs: list[torch.Tensor]) -> dict[str, np.ndarray]:
    """{node name: its eager value} for every call_function node that yields a tensor (getitem included)."""
    recorder = _Recorder(ep.graph_module)
    with torch.no_grad():
        recorder.run(*_graph_args(ep, user_inputs))
    return recorder.values


def node_info(ep: torch.export.ExportedProgram) -> dict[str, dict]:
    """{node name: {"target": ATen op, "source": module and user line}} for the report."""
    from pockettorch.exporter.lower import source_of

    return {n.name: {"target": str(n.target), "source": source_of(n)}
            for n in ep.graph.nodes if n.op == "call_function"}
