"""Calibrated weight-only quantization (`quant.weight_only(..., calibration=batches[, min_sqnr_db=])`): which
stored weights each layer gets.

Linears are quantized by GPTQ (gptq.py) from their input Hessians on the calibration batches; embeddings, with no
input features to spread an error over, are rounded to nearest. With min_sqnr_db (int4 only), each layer's damage
is measured alone on the last calibration batch, held out of GPTQ (relative error energy of the model's outputs
with only that weight quantized, wo_calibrate.Sensitivity). The errors of separate layers add up closely (on
all-MiniLM-L6-v2 the sum of the 37 lone errors is within ~10% of the error with all quantized), so layers move to
int8, the most damaging for their size first, until the summed estimate reaches min_sqnr_db. int8 layers are
rounded to nearest (their error is ~25 dB below int4's; GPTQ would change little). The runtime runs int4 and int8
layers side by side as is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from pockettorch.exporter.quant.gptq import HessianAccumulator, gptq_quantize
from pockettorch.exporter.quant.wo_calibrate import Sensitivity, batches_of, hessians
from pockettorch.exporter.quant.wo_rewrite import dequantize_weight, quantize_weight


@dataclass
class WeightUse:
    """One stored weight to quantize: its float value, "linear"/"embedding", and the eager nodes feeding it."""
    weight: torch.Tensor
    kind: str
    inputs: list[str] = field(default_factory=list)  # linears: the origins of their inputs (None: unknown)


@dataclass
class Quantized:
    q: torch.Tensor
    scales: torch.Tensor
    bits: int
    method: str  # "gptq" or "rtn"
    alone_sqnr_db: float | None = None  # the model's output SQNR with only this weight quantized (fallback runs)


def sqnr_db(error: float) -> float:
    return math.inf if error <= 0 else -10.0 * math.log10(error)


def quantize(uses: dict[int, WeightUse], scheme, exported) -> tuple[dict[int, Quantized], dict]:
    """{weight id: its quantization}, and what to add to the metadata entry."""
    batches = batches_of(scheme.calibration)
    acc = {key: HessianAccumulator(u.weight.shape[1]) for key, u in uses.items()
           if u.kind == "linear" and u.inputs and None not in u.inputs}
    wanted: dict[str, list[HessianAccumulator]] = {}
    for key, a in acc.items():
        for origin in uses[key].inputs:
            wanted.setdefault(origin, []).append(a)
    # With a fallback to choose, the last batch is held out of GPTQ to measure the layers on: GPTQ fits the data
    # it sees, so errors measured there read several dB too good.
    held_out = batches[-1] if scheme.min_sqnr_db is not None else None
    hessians(exported, wanted, batches[:-1] if held_out is not None and len(batches) > 1 else batches)

    def one(key: int, bits: int) -> Quantized:
        u = uses[key]
        a = acc.get(key)
        if a is not None and a.rows > 0 and bits == scheme.bits and bool(torch.isfinite(a.h).all()):
            try:
                q, s = gptq_quantize(u.weight, a.h, bits, scheme.group_size)
                return Quantized(q, s, bits, "gptq")
            except torch.linalg.LinAlgError:  # H not positive definite even damped: round to nearest
                pass
        q, s = quantize_weight(u.weight, bits, scheme.group_size)
        return Quantized(q, s, bits, "rtn")

    out = {key: one(key, scheme.bits) for key in uses}
    if scheme.min_sqnr_db is None:
        return out, {}
    return out, _fallback(out, uses, scheme, exported, held_out, one)


def _fallback(out, uses, scheme, exported, batch, one) -> dict:
    """Move the most damaging layers to int8 until the estimated output SQNR reaches scheme.min_sqnr_db."""
    sens = Sensitivity(exported, batch)
    error = {}
    for key, qz in out.items():
        param = sens.key_of(uses[key].weight)
        if param is None:
            continue  # a weight the graph passes changed: it stays int4, unmeasured
        error[key] = sens.error(param, dequantize_weight(qz.q, qz.scales, qz.bits, scheme.group_size))
        qz.alone_sqnr_db = round(sqnr_db(error[key]), 2)
    target = 10 ** (-scheme.min_sqnr_db / 10)
    moved = []
    # Most error removed per byte added first: a large embedding table costs as much as many linears.
    for key in sorted(error, key=lambda k: error[k] / uses[k].weight.numel(), reverse=True):
        if sum(error.values()) <= target:
            break
        qz = one(key, 8)
        qz.alone_sqnr_db = out[key].alone_sqnr_db
        out[key] = qz
        # int8's step is 127.5 / 7.5 = 17x finer than int4's: its error energy ~1/289 of the int4 one (not rerun)
        error[key] /= 289.0
        moved.append(key)
    return {"min_sqnr_db": scheme.min_sqnr_db, "estimated_output_sqnr_db": round(sqnr_db(sum(error.values())), 2),
            "int8_fallback": len(moved)}
