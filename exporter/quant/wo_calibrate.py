"""What calibrated weight-only quantization measures on the float model (the torch.export graph the program was
lowered from, run eagerly by a torch.fx Interpreter as the debugger does):

- each linear's input Hessian X^T X on the calibration batches, for GPTQ (a linear's input is the eager value of
  the node its IR input tensor holds, `Tensor.origin`); one pass per batch, every layer observing float inputs
  (torchao's GPTQ does the same; the paper's layer-by-layer variant gained little here for many more passes);
- how much a layer's quantization alone moves the model's outputs (relative error energy), by re-running only
  the nodes downstream of its weight with the dequantized weight in place; the w8 fallback ranks layers by it.
"""
from __future__ import annotations

import torch
from torch.export.graph_signature import InputKind

from pockettorch.debugger.eager import _graph_args
from pockettorch.exporter.quant.gptq import HessianAccumulator
from pockettorch.runtime import error_catalogue as errors


def batches_of(calibration) -> list[tuple[torch.Tensor, ...]]:
    """The calibration data as a list of input tuples (a batch may be a lone tensor)."""
    out = [tuple(b) if isinstance(b, (tuple, list)) else (b,) for b in calibration]
    if not out:
        raise errors.BadModelArgsError("quant.weight_only(calibration=...): the calibration data is empty")
    return out


class _Collector(torch.fx.Interpreter):
    """Adds the values of the `wanted` nodes into their accumulators; stops after the last of them."""

    def __init__(self, module, wanted: dict[str, list[HessianAccumulator]]):
        super().__init__(module)
        self.wanted, self.left = wanted, set(wanted)

    def run_node(self, n: torch.fx.Node):
        result = super().run_node(n)
        if n.name in self.wanted and isinstance(result, torch.Tensor):
            for acc in self.wanted[n.name]:
                acc.add(result)
            self.left.discard(n.name)
            if not self.left:
                raise _Done
        return result


class _Done(Exception):
    pass


def _run(interpreter: torch.fx.Interpreter, batch, args, **kw):
    try:
        with torch.no_grad():
            return interpreter.run(*args, **kw)
    except _Done:
        return None
    except Exception as exc:  # noqa: BLE001  (the user's data does not fit the model: say so)
        raise errors.BadModelArgsError(
            f"quant.weight_only(calibration=...): the float model does not run on a calibration batch shaped "
            f"{[tuple(t.shape) for t in batch]} ({type(exc).__name__}: {exc}); a batch must be shaped as the "
            f"example inputs (or within the export's dynamic shapes)") from None


def hessians(exported, wanted: dict[str, list[HessianAccumulator]], batches) -> None:
    """Accumulate, per node name in `wanted`, X^T X of its eager values over the batches."""
    if not wanted:
        return
    for batch in batches:
        _run(_Collector(exported.graph_module, wanted), batch, _graph_args(exported, list(batch)))


class Sensitivity:
    """The model's outputs on a calibration batch with one parameter replaced, against its float outputs."""

    def __init__(self, exported, batch):
        self.exported, self.batch = exported, batch
        graph = exported.graph_module.graph
        self.placeholders = [n for n in graph.nodes if n.op == "placeholder"]
        recorder = torch.fx.Interpreter(exported.graph_module, garbage_collect_values=False)
        args = _graph_args(exported, list(batch))
        self.reference = _flat(_run(recorder, batch, args))
        self.env = dict(recorder.env)
        self.env.update(zip(self.placeholders, args))
        self.param_node = {}  # state_dict key -> its placeholder
        for spec, node in zip(exported.graph_signature.input_specs, self.placeholders):
            if spec.kind in (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR):
                self.param_node[spec.target] = node
        self.energy = sum(float((r.double() ** 2).sum()) for r in self.reference) or 1.0

    def key_of(self, weight: torch.Tensor) -> str | None:
        """The state_dict key of the parameter holding `weight` (a weight the passes changed has none)."""
        state = {**self.exported.state_dict, **self.exported.constants}
        for key in self.param_node:
            p = state.get(key)
            if isinstance(p, torch.Tensor) and p.shape == weight.shape and torch.equal(p.detach(), weight):
                return key
        return None

    def error(self, key: str, replacement: torch.Tensor) -> float:
        """sum ||outputs - float outputs||^2 / sum ||float outputs||^2 with parameter `key` = replacement."""
        node = self.param_node[key]
        stale = _descendants(node)
        env = {n: v for n, v in self.env.items() if n not in stale and n.op != "output"}
        env[node] = replacement.to(self.env[node].dtype)
        got = _flat(_run(torch.fx.Interpreter(self.exported.graph_module), self.batch, [], initial_env=env,
                         enable_io_processing=False))
        return sum(float(((g.double() - r.double()) ** 2).sum()) for g, r in zip(got, self.reference)) / self.energy


def _descendants(node: torch.fx.Node) -> set:
    seen, todo = set(), [node]
    while todo:
        for user in todo.pop().users:
            if user not in seen:
                seen.add(user)
                todo.append(user)
    return seen


def _flat(out) -> list[torch.Tensor]:
    leaves, _ = torch.utils._pytree.tree_flatten(out)
    return [t.detach() for t in leaves if isinstance(t, torch.Tensor) and t.is_floating_point()]
