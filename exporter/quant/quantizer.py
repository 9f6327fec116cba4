"""The PT2E quantizer: annotates exactly the patterns PocketTorch's int8 kernels run (exporter/quant/lower_int8.py
turns each annotated pattern into one int8 instruction). Observers are torchao's.

Weights: int8 symmetric per output channel (qconv2d / qlinear read them as the GEMM's B, which has no zero point).
Activations: int8 asymmetric per tensor, min/max observed over the calibration data. The right operand of an
activation x activation matmul is symmetric too (zero point 0), for the same reason.
"""
from __future__ import annotations

import torch
from torch.fx import Node
from torchao.quantization.pt2e.observer import MinMaxObserver, PerChannelMinMaxObserver
from torchao.quantization.pt2e.quantizer import (QuantizationAnnotation, QuantizationSpec, Quantizer,
                                                 SharedQuantizationSpec)

aten = torch.ops.aten

ACT = QuantizationSpec(torch.int8, MinMaxObserver.with_args(eps=2 ** -12), -128, 127, torch.per_tensor_affine)
ACT_SYMMETRIC = QuantizationSpec(torch.int8, MinMaxObserver.with_args(eps=2 ** -12), -127, 127,
                                 torch.per_tensor_symmetric)
WEIGHT = QuantizationSpec(torch.int8, PerChannelMinMaxObserver.with_args(eps=2 ** -12), -127, 127,
                          torch.per_channel_symmetric, ch_axis=0)

GEMM = {aten.conv2d.default, aten.conv1d.default, aten.linear.default}
BINARY = {aten.add.Tensor, aten.mul.Tensor}
POOL_OWN = {aten.avg_pool2d.default, aten.adaptive_avg_pool2d.default}
POOL_SHARED = {aten.max_pool2d.default}
MATMUL = {aten.matmul.default, aten.bmm.default}
# Activations the int8 lookup-table op computes (any function of one int8 value is a 256-entry table).
LUT = {aten.sigmoid.default, aten.tanh.default, aten.hardswish.default, aten.gelu.default,
       aten.hardsigmoid.default, aten.silu.default}
# Activations folded into the producer's output clamp.
CLAMPS = {aten.relu.default, aten.relu_.default, aten.hardtanh.default, aten.hardtanh_.default,
          aten.relu6.default, aten.clamp.default}
VIEWS = {aten.reshape.default, aten.view.default, aten.flatten.using_ints, aten.squeeze.dim, aten.squeeze.dims,
         aten.unsqueeze.default, aten.permute.default, aten.transpose.int}
CAT = {aten.cat.default, aten.concat.default}

KEY = "quantization_annotation"


def _is_float_tensor(n) -> bool:
    v = n.meta.get("val") if isinstance(n, Node) else None
    return isinstance(v, torch.Tensor) and v.dtype == torch.float32


def module_path(n: Node) -> list[str]:
    """The qualified module names a node sits in, outermost first."""
    out = []
    for path, _ in (n.meta.get("nn_module_stack") or {}).values():
        out.append(path.removeprefix("L['self']."))
    return out


class PocketTorchQuantizer(Quantizer):
    def __init__(self, skip: tuple[str, ...] = ()):
        super().__init__()
        self.skip = tuple(skip)
        self.skipped: dict[str, str] = {}  # node name -> why it stays float

    def _skipped(self, n: Node) -> bool:
        for path in module_path(n):
            for s in self.skip:
                if path == s or path.startswith(s + "."):
                    self.skipped[n.name] = f"skip={s!r}"
                    return True
        return False

    def annotate(self, model: torch.fx.GraphModule) -> torch.fx.GraphModule:
        for n in model.graph.nodes:
            if n.op != "call_function" or KEY in n.meta or not _is_float_tensor(n) or self._skipped(n):
                continue
            t = n.target
            if t in GEMM:
                self._gemm(n)
            elif t in BINARY and all(_is_float_tensor(a) for a in n.args[:2]):
                self._with_clamp(n, {n.args[0]: ACT, n.args[1]: ACT})
            elif t in MATMUL and all(_is_float_tensor(a) for a in n.args[:2]):
                self._mark(n, {n.args[0]: ACT, n.args[1]: ACT_SYMMETRIC}, ACT)
            elif t in POOL_OWN or t in LUT:
                self._mark(n, {n.args[0]: ACT}, ACT)
            elif t in POOL_SHARED:
                self._mark(n, {n.args[0]: ACT}, SharedQuantizationSpec((n.args[0], n)))
            elif t in CAT and all(_is_float_tensor(a) for a in n.args[0]):
                self._mark(n, {a: ACT for a in n.args[0]}, ACT)
            elif t in VIEWS and _annotated_output(n.args[0]):
                self._mark(n, {n.args[0]: ACT}, SharedQuantizationSpec((n.args[0], n)))
        return model

    def _mark(self, n: Node, inputs: dict, output) -> None:
        n.meta[KEY] = QuantizationAnnotation(input_qspec_map=inputs, output_qspec=output, _annotated=True)

    def _gemm(self, n: Node) -> None:
        x, w = n.args[0], n.args[1]
        if not _is_float_tensor(w) or w.op != "get_attr" and w.op != "placeholder":
            return
        self._with_clamp(n, {x: ACT, w: WEIGHT})

    def _with_clamp(self, n: Node, inputs: dict) -> None:
        """Annotate n; a clamp-like activation that is n's only user takes the output observer (it is folded)."""
        users = list(n.users)
        follower = users[0] if len(users) == 1 and users[0].target in CLAMPS else None
        if follower is not None and not self._skipped(follower) and KEY not in follower.meta:
            self._mark(n, inputs, None)
            self._mark(follower, {}, ACT)
        else:
            self._mark(n, inputs, ACT)

    def validate(self, model: torch.fx.GraphModule) -> None:
        pass


def _annotated_output(n) -> bool:
    if not isinstance(n, Node):
        return False
    a = n.meta.get(KEY)
    return a is not None and a.output_qspec is not None


__all__ = ["PocketTorchQuantizer"]
