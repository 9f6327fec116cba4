"""Static and dynamic int8 export (quant.int8 / quant.int8_dynamic), the two halves export() calls.

Static: `prepare` runs torchao's PT2E flow (prepare_pt2e with PocketTorchQuantizer, calibration, convert_pt2e) and
returns the converted model; export() captures and lowers it like any model, and `finish` folds its
dequantize -> op -> quantize patterns into int8 instructions. Program inputs and outputs stay float32 (a quantize
at entry, a dequantize at exit), so SDKs and runners carry an int8 program unchanged.
Dynamic: the model is exported in float; `finish` makes every linear with a constant weight a qlinear_dynamic and
every lstm / gru layer a qlstm_dynamic / qgru_dynamic (weights int8 symmetric per output channel from torchao's
observer; activations quantized per row at run time).
"""
from __future__ import annotations

import numpy as np
import torch

from pockettorch.exporter.ir import Graph, Node
from pockettorch.exporter.quant.config import Int8Dynamic, Int8Static
from pockettorch.runtime import error_catalogue as errors


def _as_tuple(inputs) -> tuple:
    return tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)


def prepare(model, example_inputs, scheme):
    """The model export() captures: the PT2E-converted model for static int8, the model itself for dynamic."""
    if isinstance(scheme, Int8Dynamic):
        return model, {}
    from torchao.quantization.pt2e import allow_exported_model_train_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from pockettorch.exporter.quant.quantizer import PocketTorchQuantizer

    args = _as_tuple(example_inputs)
    batches = [_as_tuple(b) for b in scheme.calibration]
    if not batches:
        raise errors.BadModelArgsError("quant.int8(calibration): the calibration data is empty")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            skip, bad = tuple(scheme.skip), {}
            for _ in range(2):  # a second pass keeps the layers that quantized badly float
                captured = torch.export.export(model, args, strict=False).module()
                quantizer = PocketTorchQuantizer(skip)
                prepared = prepare_pt2e(captured, quantizer)
                for batch in batches:
                    prepared(*batch)
                converted = convert_pt2e(prepared)
                found = {m: db for m, db in _badly_quantized(converted, batches[0]).items() if m not in skip}
                if not found or bad:
                    break
                bad, skip = found, skip + tuple(found)
    finally:
        model.train(was_training)
    notes = dict(quantizer.skipped)
    for name, reason in notes.items():
        module = reason.removeprefix("skip=").strip("'")
        if module in bad:
            notes[name] = f"kept float: its output quantizes to {bad[module]:.1f} dB (< {BAD_DB:.0f})"
    allow_exported_model_train_eval(converted)
    # A new GraphModule says it is training (its graph is the eval one): export() would "restore" training mode,
    # which torchao does by rewriting the graph's dropouts into training ones.
    for sub in converted.modules():
        sub.training = False
    return converted, notes


# A layer whose own output quantization (its float value against the dequantized int8, on the first calibration
# batch) is below this many dB stays float: an int8 grid cannot hold its range (outliers).
BAD_DB = 15.0


def _badly_quantized(converted, batch) -> dict[str, float]:
    """module path -> SQNR of the layers of the converted model whose output quantizes below BAD_DB."""
    from pockettorch.exporter.quant.quantizer import module_path
    from pockettorch.exporter.quant.report import record, sqnr

    values = record(converted, batch)
    bad: dict[str, float] = {}
    for n in converted.graph.nodes:
        if str(n.target) != "quantized_decomposed.quantize_per_tensor.default":
            continue
        src, users = n.args[0], list(n.users)
        if not isinstance(src, torch.fx.Node) or src.op == "placeholder" or not users or src.name not in values:
            continue
        paths = module_path(src)
        db = sqnr(values[src.name], values[users[0].name])
        if paths and paths[-1] and db < BAD_DB:
            bad[paths[-1]] = min(db, bad.get(paths[-1], db))
    return bad


def finish(graph: Graph, scheme, layer_names: dict[str, str] | None = None) -> int:
    """Make the lowered graph's quantized patterns int8 instructions; returns how many. layer_names (instruction
    cover -> the layer name `skip` matches; default: the module path in each instruction's source) is how a model
    file's frontend names its layers (ONNX: node names)."""
    if isinstance(scheme, Int8Static):
        from pockettorch.exporter.quant.lower_int8 import lower_int8

        return lower_int8(graph)
    return _dynamic_linears(graph, scheme.skip, layer_names) + _dynamic_recurrent(graph, scheme.skip, layer_names)


def _skipped(node: Node, skip: tuple[str, ...], layer_names: dict[str, str] | None = None) -> bool:
    if layer_names is not None:
        path = next((layer_names[c] for c in node.covers if c in layer_names), "")
    else:
        path = node.source.split(" ", 1)[0]
    return any(path == s or path.startswith(s + ".") or path.startswith(s + "/") for s in skip)


def quantize_weight(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 symmetric per output channel (axis 0) with torchao's observer, as the static scheme's weights."""
    from torchao.quantization.pt2e.observer import PerChannelMinMaxObserver

    t = torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32))
    obs = PerChannelMinMaxObserver(ch_axis=0, dtype=torch.int8, qscheme=torch.per_channel_symmetric, quant_min=-127,
                                   quant_max=127, eps=2 ** -12)
    obs(t)
    scale, zp = obs.calculate_qparams()
    q = torch.ops.quantized_decomposed.quantize_per_channel(t, scale.float(), zp, 0, -127, 127, torch.int8)
    return q.numpy(), scale.float().numpy()


def _dynamic_linears(graph: Graph, skip: tuple[str, ...], layer_names: dict[str, str] | None = None) -> int:
    count = 0
    for i, node in enumerate(graph.nodes):
        w = node.inputs[1] if node.op == "linear" and len(node.inputs) > 1 else None
        if w is None or not w.is_constant or node.inputs[0].dtype != "float32" or _skipped(node, skip, layer_names):
            continue
        q, scale = quantize_weight(w.data)
        inputs = [node.inputs[0], graph.constant(q, w.name + "_i8", "int8"), graph.constant(scale, w.name + "_scale")]
        new = Node("qlinear_dynamic", inputs + node.inputs[2:3], node.outputs, dict(node.params), node.source,
                   list(node.covers))
        for t in new.outputs:
            t.producer = new
        graph.nodes[i] = new
        count += 1
    return count


# float recurrent op -> (its int8 form, the index of w_ih; w_hh follows it). The int8 ops take the two weights'
# scales as inputs 6 and 7.
RECURRENT = {"lstm": ("qlstm_dynamic", 3), "gru": ("qgru_dynamic", 2)}


def _dynamic_recurrent(graph: Graph, skip: tuple[str, ...], layer_names: dict[str, str] | None = None) -> int:
    count = 0
    for i, node in enumerate(graph.nodes):
        if node.op not in RECURRENT or node.inputs[0].dtype != "float32" or _skipped(node, skip, layer_names):
            continue
        op, wi = RECURRENT[node.op]
        weights = node.inputs[wi:wi + 2]
        if not all(w.is_constant for w in weights):
            continue
        inputs, scales = list(node.inputs), []
        for j, w in enumerate(weights):
            q, scale = quantize_weight(w.data)
            inputs[wi + j] = graph.constant(q, w.name + "_i8", "int8")
            scales.append(graph.constant(scale, w.name + "_scale"))
        new = Node(op, inputs + scales, node.outputs, dict(node.params), node.source, list(node.covers))
        for t in new.outputs:
            t.producer = new
        graph.nodes[i] = new
        count += 1
    return count
