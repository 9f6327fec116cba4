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


def int8(calibration, skip=()) -> Int8Static:
    return Int8Static(calibration, tuple(skip))


def int8_dynamic(skip=()) -> Int8Dynamic:
    return Int8Dynamic(tuple(skip))


def weight_only(bits: int = 4, group_size: int = 32, skip=()) -> WeightOnly:
    if bits not in (4, 8):
        raise ValueError(f"weight_only(bits={bits}): bits must be 4 or 8")
    if group_size <= 0 or group_size % 2:
        raise ValueError(f"weight_only(group_size={group_size}): the group size must be a positive even number")
    return WeightOnly(bits, group_size, tuple(skip))
