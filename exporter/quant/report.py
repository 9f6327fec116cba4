"""program.quant_report(): per layer, the SQNR of its quantized output against the float model's, its scale and
zero point, and what stayed float and why. Layers under FLAG_DB are flagged.

Static int8: the layers are the PT2E-converted model's quantize points (each int8 instruction's output); the float
values come from the float model's own export graph, whose node names the converted graph keeps.
Dynamic int8: the layers are the linears, LSTMs and GRUs; their outputs with per-row int8 activations and int8
weights are emulated in torch (qrnn_reference.py for the recurrent ones) and compared with the float module's on the
calibration inputs (the example inputs).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from pockettorch.exporter.quant.config import Int8Dynamic, Int8Static, WeightOnly

FLAG_DB = 20.0
QD = "quantized_decomposed"


@dataclass
class QuantInfo:
    scheme: object
    float_model: object
    quantized_model: object  # the converted PT2E model (static), else the float model
    example_inputs: list
    notes: dict = field(default_factory=dict)  # node name -> why it stayed float (skip=...)


def scheme_name(scheme) -> str:
    if isinstance(scheme, Int8Static):
        return "int8"
    if isinstance(scheme, Int8Dynamic):
        return "int8-dynamic"
    if isinstance(scheme, WeightOnly):
        return f"w{scheme.bits}"
    return type(scheme).__name__


def sqnr(ref: torch.Tensor, got: torch.Tensor) -> float:
    ref, got = ref.detach().double(), got.detach().double()
    noise = float(((ref - got) ** 2).sum())
    signal = float((ref ** 2).sum())
    if noise == 0:
        return math.inf
    return 10 * math.log10(signal / noise) if signal > 0 else -math.inf


@dataclass
class QuantReport:
    scheme: str
    layers: list[dict]  # name, op, sqnr_db, scale, zero_point, flagged
    float_ops: list[dict]  # name, op, reason

    @property
    def flagged(self) -> list[dict]:
        return [r for r in self.layers if r["flagged"]]

    def __str__(self) -> str:
        lines = [f"quantization {self.scheme}: {len(self.layers)} int8 layers, {len(self.float_ops)} float ops, "
                 f"{len(self.flagged)} under {FLAG_DB:.0f} dB"]
        for r in self.layers:
            q = "" if r["scale"] is None else f"  scale {r['scale']:.3g} zp {r['zero_point']}"
            lines.append(f"  {'!' if r['flagged'] else ' '} {r['name']:<40} {r['op']:<22} "
                         f"{r['sqnr_db']:7.1f} dB{q}")
        for r in self.float_ops:
            lines.append(f"    float {r['name']:<34} {r['op']:<22} {r['reason']}")
        return "\n".join(lines)


def record(gm: torch.fx.GraphModule, args) -> dict[str, torch.Tensor]:
    values: dict[str, torch.Tensor] = {}

    class Rec(torch.fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            if isinstance(out, torch.Tensor):
                values[n.name] = out
            return out

    with torch.no_grad():
        Rec(gm).run(*args)
    return values


def _feeds_quantize(n: torch.fx.Node) -> bool:
    """n's output is quantized, directly or through the activation folded into its int8 instruction."""
    q = f"{QD}.quantize_per_tensor.default"
    return any(str(u.target) == q or any(str(v.target) == q for v in u.users) and len(n.users) == 1
               for u in n.users)


def _layer_name(n: torch.fx.Node) -> str:
    stack = n.meta.get("nn_module_stack") or {}
    path = list(stack.values())[-1][0].removeprefix("L['self'].") if stack else ""
    return f"{path}:{n.name}" if path else n.name


def _static(info: QuantInfo) -> QuantReport:
    args = tuple(info.example_inputs)
    from torchao.quantization.pt2e.utils import _fuse_conv_bn_

    float_gm = torch.export.export(info.float_model.eval(), args, strict=False).module()
    _fuse_conv_bn_(float_gm)  # as prepare_pt2e does, so a conv's float output is the one the int8 conv computes
    ref = record(float_gm, args)
    conv = info.quantized_model
    got = record(conv, args)
    layers, float_ops = [], []
    for n in conv.graph.nodes:
        target = str(n.target)
        if target == f"{QD}.quantize_per_tensor.default":
            src = n.args[0]
            users = [u for u in n.users if str(u.target).startswith(f"{QD}.dequantize")]
            if not isinstance(src, torch.fx.Node) or src.op == "placeholder" or src.name not in ref or not users:
                continue
            if str(src.target).startswith(QD):
                continue  # a requantization on an edge, not a layer
            db = sqnr(ref[src.name], got[users[0].name])
            layers.append(dict(name=_layer_name(src), op=str(src.target).split(".")[-2], sqnr_db=db,
                               scale=float(n.args[1]), zero_point=int(n.args[2]), flagged=db < FLAG_DB))
        elif n.name in info.notes:
            float_ops.append(dict(name=_layer_name(n), op=target.split(".")[-2], reason=info.notes[n.name]))
        elif n.op == "call_function" and not target.startswith(QD) and isinstance(got.get(n.name), torch.Tensor) \
                and got[n.name].dtype == torch.float32 and not _feeds_quantize(n):
            feeds_int8 = any(isinstance(a, torch.fx.Node) and str(a.target).startswith(f"{QD}.dequantize")
                             and "per_channel" not in str(a.target) for a in n.args)
            reason = info.notes.get(n.name) or ("no int8 kernel (a float island)" if feeds_int8 else None)
            if reason:
                float_ops.append(dict(name=_layer_name(n), op=target.split(".")[-2], reason=reason))
    return QuantReport("int8", layers, float_ops)


def _dynamic(info: QuantInfo) -> QuantReport:
    from pockettorch.exporter.quant.int8_flow import quantize_weight

    layers, float_ops, seen = [], [], []
    model = info.float_model.eval()

    def hook(name):
        def fn(mod, inputs, output):
            seen.append((name, mod, inputs, output))
        return fn

    handles = [m.register_forward_hook(hook(name)) for name, m in model.named_modules()
               if isinstance(m, (torch.nn.Linear, torch.nn.LSTM, torch.nn.GRU))]
    try:
        with torch.no_grad():
            model(*info.example_inputs)
    finally:
        for h in handles:
            h.remove()
    skip = info.scheme.skip
    for name, mod, inputs, y in seen:
        op = "linear" if isinstance(mod, torch.nn.Linear) else type(mod).__name__.lower()
        if any(name == s or name.startswith(s + ".") for s in skip):
            float_ops.append(dict(name=name, op=op, reason="skip"))
            continue
        if op != "linear":
            float_ops.extend(_dynamic_recurrent(name, op, mod, inputs, y, layers))
            continue
        x, y = inputs[0].detach(), y.detach()
        q, s = quantize_weight(mod.weight.detach().numpy())
        w = torch.from_numpy(q).float() * torch.from_numpy(s)[:, None]
        xq = dynamic_rows(x.reshape(-1, x.shape[-1]))
        yq = torch.nn.functional.linear(xq, w, mod.bias).reshape(y.shape)
        db = sqnr(y, yq)
        layers.append(dict(name=name, op="linear", sqnr_db=db, scale=None, zero_point=None, flagged=db < FLAG_DB))
    return QuantReport("int8-dynamic", layers, float_ops)


def _dynamic_recurrent(name, op, mod, inputs, out, layers) -> list[dict]:
    """Append the LSTM/GRU's row (its output sequence with int8 weights and activations against float) to layers;
    returns the float_ops entry of one the exporter keeps float."""
    from pockettorch.exporter.quant.qrnn_reference import dynamic_recurrent

    if getattr(mod, "proj_size", 0):
        reason = "proj_size: no int8 LSTM kernel; decomposed, its weight products run as qlinear_dynamic"
        return [dict(name=name, op=op, reason=reason)]
    if inputs[0].dim() != 3:
        return [dict(name=name, op=op, reason="unbatched input")]
    got = dynamic_recurrent(mod, inputs[0], inputs[1] if len(inputs) > 1 else None)[0]
    db = sqnr(out[0], got)
    layers.append(dict(name=name, op=op, sqnr_db=db, scale=None, zero_point=None, flagged=db < FLAG_DB))
    return []


def dynamic_rows(x: torch.Tensor) -> torch.Tensor:
    """x [M, K] fake-quantized per row as the runtime does (asymmetric int8, the range including 0)."""
    lo = torch.clamp(x.min(dim=1, keepdim=True).values, max=0)
    hi = torch.clamp(x.max(dim=1, keepdim=True).values, min=0)
    scale = torch.clamp((hi - lo) / 255, min=torch.finfo(torch.float32).eps)
    zp = torch.clamp(-128 - torch.round(lo / scale), -128, 127)
    q = torch.clamp(torch.round(x / scale) + zp, -128, 127)
    return (q - zp) * scale


def quant_report(program) -> QuantReport:
    info = program.quantization
    if info is None:
        raise ValueError("quant_report(): the program was exported without quantization")
    if isinstance(info.scheme, Int8Static):
        return _static(info)
    if isinstance(info.scheme, Int8Dynamic):
        return _dynamic(info)
    raise ValueError(f"quant_report(): no report for {scheme_name(info.scheme)} programs")
