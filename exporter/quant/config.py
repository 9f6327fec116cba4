"""What the user asks for: `pockettorch.export(model, inputs, quantization=quant.int8(calibration))`.

The schemes (docs in README "Quantization"): static int8 (weights int8 symmetric per output channel, activations
int8 asymmetric per tensor, from calibration), dynamic int8 (weights as static; activations quantized per row at
run time) and weight-only (int4/int8 weights in groups with float scales, float activations).
`skip` names modules (by their qualified name in the model, e.g. "head" or "encoder.layer.3") that stay float.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class Int8Static:
    calibration: Iterable  # input tuples, as example_inputs
    skip: tuple[str, ...] = ()


@dataclass(frozen=True)
class Int8Dynamic:
    skip: tuple[str, ...] = ()


@dataclass(frozen=True)
class WeightOnly:
    bits: int = 4  # 4 or 8
    group_size: int = 32
    skip: tuple[str, ...] = ()
    calibration: Iterable | None = None  # input tuples: linears by GPTQ; None: round-to-nearest
    min_sqnr_db: float | None = None  # int4 with calibration: layers fall back to int8 until the outputs reach it


def int8(calibration, skip=()) -> Int8Static:
    return Int8Static(calibration, tuple(skip))


def int8_dynamic(skip=()) -> Int8Dynamic:
    return Int8Dynamic(tuple(skip))


def weight_only(bits: int = 4, group_size: int = 32, skip=(), calibration=None,
                min_sqnr_db: float | None = None) -> WeightOnly:
    """calibration: an iterable of input tuples (as example_inputs) on which each linear's inputs are observed to
    quantize it with GPTQ (exporter/quant/gptq.py); without it every weight is rounded to nearest.
    min_sqnr_db (int4, with calibration): the layers that move the model's outputs most (measured one at a time on
    the first calibration batch) are stored as int8 instead, until the estimated output SQNR reaches it."""
    if bits not in (4, 8):
        raise ValueError(f"weight_only(bits={bits}): bits must be 4 or 8")
    if group_size <= 0 or group_size % 2:
        raise ValueError(f"weight_only(group_size={group_size}): the group size must be a positive even number")
    if min_sqnr_db is not None and (calibration is None or bits != 4):
        raise ValueError("weight_only(min_sqnr_db=...): the int8 fallback needs bits=4 and calibration data")
    return WeightOnly(bits, group_size, tuple(skip), None if calibration is None else list(calibration),
                      None if min_sqnr_db is None else float(min_sqnr_db))
