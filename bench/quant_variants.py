"""Quantized rows: a model name `<model>@<scheme>` (e.g. `mobilenet_v2@int8`, `ffn_stack@w4`) is the float model,
quantized by every runtime with its own tool for that scheme. The inputs and the reference outputs are the float
model's (so `max abs err` and `SQNR` are accuracy against fp32 eager); each runtime calibrates on the same seeded
batches (`calibration`).

    python bench/compare.py --models mobilenet_v2 mobilenet_v2@int8 --section compare-int8
"""
from __future__ import annotations

SCHEMES = {
    "int8": "static int8: weights int8 per output channel (symmetric), activations int8 per tensor, calibrated on "
            f"the same {8} seeded batches by every runtime; float32 inputs and outputs",
    "w4": "int4 weights in groups of 32 (symmetric, float scales) on the linear layers",
}
CALIBRATION_BATCHES = 8


def split(model: str) -> tuple[str, str | None]:
    """('mobilenet_v2', 'int8') for 'mobilenet_v2@int8'; (model, None) for a float model."""
    base, sep, scheme = model.partition("@")
    if sep and scheme not in SCHEMES:
        raise ValueError(f"unknown quantization scheme {scheme!r} in {model!r}; known: {', '.join(SCHEMES)}")
    return base, (scheme if sep else None)


def calibration(model: str, example_inputs) -> list[tuple]:
    """Seeded calibration batches shaped like the example inputs: float inputs drawn like the zoo's (normal),
    integer inputs (token ids, masks) kept as they are."""
    import torch

    g = torch.Generator().manual_seed(1234)
    return [tuple(torch.randn(x.shape, generator=g, dtype=x.dtype) if x.is_floating_point() else x
                  for x in example_inputs) for _ in range(CALIBRATION_BATCHES)]


def refuse(runtime: str, scheme: str, why: str):
    """A runtime without a path for the scheme: reported as missing with the reason (compare.py's notes)."""
    raise NotImplementedError(f"{runtime} {scheme}: {why}")
