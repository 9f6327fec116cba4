"""Per-layer accuracy of a weight-only program: each quantized layer's output on the C runtime against the float
model's value of the same node (torch.export's graph run eagerly), as SQNR in dB, beside what the exporter recorded
(bits, group size, the layers that stayed float and why). Layers under 20 dB are flagged."""
from __future__ import annotations

import numpy as np

FLAG_DB = 20.0


def layer_sqnr(program, inputs) -> dict[str, float]:
    """{eager node name: SQNR of the runtime's value vs float} for every quantized layer's output, on `inputs`."""
    from pockettorch.debugger.capture import capture_local
    from pockettorch.debugger.compare import _sqnr
    from pockettorch.debugger.eager import eager_values

    import torch

    arrays = [np.asarray(t.detach().numpy() if isinstance(t, torch.Tensor) else t) for t in inputs]
    eager = eager_values(program.exported, [torch.from_numpy(a) for a in arrays])
    values = capture_local(program.to_bytes(), arrays).values
    wanted = {layer["output"] for layer in program.metadata["quantization"]["layers"]}
    out = {}
    for instr, got in zip(program.metadata["debug"]["instructions"], values):
        origin = instr["outputs"][0] if instr["outputs"] else None
        if origin in wanted and origin in eager:
            out[origin] = _sqnr(eager[origin], got[0].reshape(eager[origin].shape))
    return out


def quant_report(program, inputs=None) -> list[dict]:
    """One row a layer: name, op, "w4"/"w8" (per layer: the int8 fallback mixes them) or "float", "gptq"/"rtn",
    group size, scale range, SQNR (with inputs: the example
    inputs stored with `reference=True` when None) and "flag" when under 20 dB; float layers carry the reason."""
    q = program.metadata.get("quantization") or {}
    if q.get("scheme") != "weight_only":
        raise ValueError("quant_report: this program has no weight-only quantization")
    if inputs is None and program.reference is not None:
        inputs = program.reference[0]
    sqnr = layer_sqnr(program, inputs) if inputs is not None else {}
    scales = _scale_ranges(program)
    rows = []
    for layer in q["layers"]:
        db = sqnr.get(layer["output"])
        rows.append({"name": layer["name"], "op": layer["op"], "dtype": f"w{layer.get('bits', q['bits'])}",
                     "method": layer.get("method", "rtn"), "group_size": q["group_size"],
                     "scale_range": scales.get(layer["output"]), "sqnr_db": db,
                     "flag": db is not None and db < FLAG_DB})
    rows += [{"name": f["name"], "op": f["op"], "dtype": "float", "reason": f["reason"]} for f in q["float"]]
    return rows


def _scale_ranges(program) -> dict[str, list[float]]:
    """{output node: [min scale, max scale]} of every weight-only instruction."""
    out = {}
    for node in program.graph.nodes:
        if node.op in ("linear_wo", "embedding_wo"):
            s = node.inputs[2].data
            out[node.outputs[0].origin] = [float(s.min()), float(s.max())]
    return out
