"""Weight-only quantization (`quant.weight_only(bits, group_size)`): an IR rewrite after lowering and the passes.

Every `linear` whose weight is a constant becomes `linear_wo` and every embedding (a `take` of rows of a constant
table) becomes `embedding_wo`: the weight quantized in groups of `group_size` along its last dim (K for a linear, D
for an embedding) with one float scale a group, activations staying float32. The group parameters come from
torchao's primitives with the settings of its mobile weight-only config (IntxWeightOnlyConfig: symmetric,
int4 in [-8, 7] / int8 in [-128, 127], choose_qparams_affine + quantize_affine), so `dequantize_affine` of what is
stored is torchao's reference. int4 is packed two a byte (runtime/op_table.py, linear_wo).

Layers stay float, with the reason recorded in the program's metadata ("quantization"), when the user skips their
module, when the group size does not divide their K, or when their weight holds NaN or infinities.

With calibration data (`quant.weight_only(bits, group_size, calibration=batches)`), linears are quantized by GPTQ
(gptq.py, Hessians from wo_calibrate.py) into the same stored format; embeddings, which have no input features to
compensate over, stay round-to-nearest (wo_calibrated.py); with min_sqnr_db the layers that hurt the outputs most
move to int8. Each layer's entry records its "bits" and "method" ("gptq" or "rtn").
"""
from __future__ import annotations

import numpy as np
import torch

from pockettorch.exporter.ir import Graph, Node, Tensor
from pockettorch.exporter.quant.config import WeightOnly

QRANGE = {4: (-8, 7), 8: (-128, 127)}


def _primitives():
    from torchao.quantization.quant_primitives import (MappingType, choose_qparams_affine, dequantize_affine,
                                                       quantize_affine)
    return MappingType, choose_qparams_affine, quantize_affine, dequantize_affine


def group_scales(w: torch.Tensor, bits: int, group_size: int) -> torch.Tensor:
    """float32 [R, C / group_size]: torchao's symmetric scale of each group of w [R, C] (also what GPTQ uses)."""
    MappingType, choose_qparams_affine, _, _ = _primitives()
    qmin, qmax = QRANGE[bits]
    w = w.detach().to(torch.float32)
    scale, _ = choose_qparams_affine(w, MappingType.SYMMETRIC, (1, group_size), torch.int8, qmin, qmax,
                                     zero_point_dtype=torch.int8)
    return scale.reshape(w.shape[0], w.shape[1] // group_size).to(torch.float32)


def quantize_weight(w: torch.Tensor, bits: int, group_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(q int8 [R, C] in the bits' range, scales float32 [R, C / group_size]) by torchao, symmetric."""
    _, _, quantize_affine, _ = _primitives()
    qmin, qmax = QRANGE[bits]
    w = w.detach().to(torch.float32)
    scales = group_scales(w, bits, group_size)
    q = quantize_affine(w, (1, group_size), scales, torch.zeros_like(scales, dtype=torch.int8), torch.int8,
                        qmin, qmax)
    return q, scales


def dequantize_weight(q: torch.Tensor, scales: torch.Tensor, bits: int, group_size: int) -> torch.Tensor:
    """torchao's dequantize_affine of quantize_weight's result: the weight the runtime computes with."""
    *_, dequantize_affine = _primitives()
    qmin, qmax = QRANGE[bits]
    return dequantize_affine(q, (1, group_size), scales, None, torch.int8, qmin, qmax, output_dtype=torch.float32)


def pack(q: torch.Tensor, bits: int) -> np.ndarray:
    """The runtime's layout: int8 as is; int4 two a byte, element 2j in the low nibble, each stored as q + 8."""
    q = q.numpy().astype(np.int8)
    if bits == 8:
        return q
    nibbles = (q.astype(np.int16) + 8).astype(np.uint8)
    return (nibbles[:, 0::2] | (nibbles[:, 1::2] << 4)).astype(np.uint8)


def _layer(node: Node, modules: dict[str, str], embeddings: set[str]) -> tuple[str, str] | None:
    """(kind, module name) for a node this scheme quantizes, None for other nodes."""
    name = next((modules[c] for c in node.covers if modules.get(c)), "") or node.source
    if node.op == "linear" and node.inputs[1].is_constant:
        return "linear", name
    if (node.op == "take" and node.inputs[0].is_constant and node.inputs[0].dtype == "float32"
            and len(node.inputs[0].shape) == 2 and node.params.get("axis") == 0
            and any(c in embeddings for c in node.covers)):
        return "embedding", name
    return None


def _why_float(weight: Tensor, name: str, scheme: WeightOnly) -> str | None:
    if any(name == s or name.startswith(s + ".") or name.startswith(s + "/") for s in scheme.skip):
        return "skipped by the user"
    cols = weight.shape[1]
    if cols < scheme.group_size or cols % scheme.group_size:
        return f"group size {scheme.group_size} does not divide its {cols} input features"
    if not np.isfinite(weight.data).all():
        return "its weight holds NaN or infinities"
    return None


def apply(graph: Graph, scheme: WeightOnly, modules: dict[str, str], embeddings: set[str], exported=None) -> dict:
    """Rewrite `graph` in place; the metadata entry describing what was done.

    modules: torch.export node name -> the qualified name of the module it belongs to (covers are node names);
    embeddings: the names of the aten.embedding nodes (other takes of a constant stay as they are);
    exported: the torch.export program `graph` was lowered from (calibration runs it)."""
    found, kept = [], []
    for i, node in enumerate(graph.nodes):
        layer = _layer(node, modules, embeddings)
        if layer is None:
            continue
        kind, name = layer
        weight = node.inputs[1] if kind == "linear" else node.inputs[0]
        reason = _why_float(weight, name, scheme)
        if reason:
            kept.append({"name": name, "op": kind, "reason": reason})
        else:
            found.append((i, node, kind, name, weight))
    chosen, extra = _quantize_weights(graph, found, scheme, exported)

    stored: dict[int, tuple[Tensor, Tensor]] = {}  # a weight shared by several layers is stored once
    layers = []
    for i, node, kind, name, weight in found:
        qz = chosen[id(weight)]
        if id(weight) not in stored:
            stored[id(weight)] = (graph.constant(pack(qz.q, qz.bits), weight.name + "_q"),
                                  graph.constant(qz.scales.numpy(), weight.name + "_scales"))
        qt, st = stored[id(weight)]
        params = {"bits": qz.bits, "group_size": scheme.group_size}
        if kind == "linear":
            inputs = [node.inputs[0], qt, st, *node.inputs[2:]]
            new = Node("linear_wo", inputs, node.outputs, {**params, **node.params}, node.source, node.covers)
        else:
            new = Node("embedding_wo", [qt, node.inputs[1], st], node.outputs, params, node.source, node.covers)
        for t in new.outputs:
            t.producer = new
        graph.nodes[i] = new
        entry = {"name": name, "op": kind, "shape": list(weight.shape), "output": node.outputs[0].origin,
                 "bits": qz.bits, "method": qz.method}
        if qz.alone_sqnr_db is not None:
            entry["alone_sqnr_db"] = qz.alone_sqnr_db
        layers.append(entry)
    return {"scheme": "weight_only", "bits": scheme.bits, "group_size": scheme.group_size, "symmetric": True,
            "method": "gptq" if scheme.calibration is not None else "rtn", **extra, "layers": layers, "float": kept}


def _user_inputs(graph: Graph, exported) -> dict[int, str]:
    """{id(graph input tensor): its torch.export placeholder's name} (a model input carries no origin)."""
    if exported is None:
        return {}
    from torch.export.graph_signature import InputKind
    names = [s.arg.name for s in exported.graph_signature.input_specs if s.kind == InputKind.USER_INPUT]
    return {id(t): n for t, n in zip(graph.inputs, names)} if len(names) == len(graph.inputs) else {}


def _quantize_weights(graph: Graph, found, scheme: WeightOnly, exported) -> tuple[dict, dict]:
    """{id(weight tensor): Quantized} for every weight in `found`, and extra metadata (calibrated runs)."""
    from pockettorch.exporter.quant.wo_calibrated import Quantized, WeightUse, quantize

    uses: dict[int, WeightUse] = {}
    user_inputs = _user_inputs(graph, exported)
    for _, node, kind, _, weight in found:
        use = uses.setdefault(id(weight), WeightUse(torch.from_numpy(weight.data), kind))
        if kind == "linear":
            x = node.inputs[0]
            use.inputs.append(user_inputs.get(id(x), x.origin))
    if scheme.calibration is None:
        return {key: Quantized(*quantize_weight(u.weight, scheme.bits, scheme.group_size), scheme.bits, "rtn")
                for key, u in uses.items()}, {}
    if exported is None:
        raise ValueError("quant.weight_only(calibration=...) needs the torch.export program of the model")
    return quantize(uses, scheme, exported)


def module_names(exported: torch.export.ExportedProgram) -> tuple[dict[str, str], set[str]]:
    """(node name -> module qualified name, names of the aten.embedding nodes) of a torch.export program."""
    modules, embeddings = {}, set()
    for n in exported.graph.nodes:
        stack = n.meta.get("nn_module_stack") or {}
        if stack:
            modules[n.name] = list(stack.values())[-1][0]
        if n.op == "call_function" and "aten.embedding." in str(n.target):
            embeddings.add(n.name)
    return modules, embeddings
