"""The reference input and expected outputs bundled with the package's XCTest.

Inputs are the ones stored at export (`pockettorch export --reference`) when present, otherwise the
runner's deterministic random data (floats uniform in [-1, 1), integers in [0, 10), bools 0/1); the
expected outputs come from running them on the C runtime through the Python binding, now, so the
XCTest checks the phone computes what the host computes. Files are raw little-endian element bytes.
"""
from __future__ import annotations

import numpy as np

from pockettorch.runtime import error_catalogue as errors
from pockettorch.runtime.module import load
from pockettorch.sdk_templates.model_info import ModelInfo, TensorInfo

SEED = 0


def _random(spec: TensorInfo, rng: np.random.Generator) -> np.ndarray:
    dtype = np.dtype("bool" if spec.dtype == "bool" else spec.dtype)
    if dtype.kind == "f":
        return rng.uniform(-1.0, 1.0, spec.shape).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, spec.shape).astype(dtype)
    return rng.integers(0, 10, spec.shape).astype(dtype)


def inputs_for(info: ModelInfo) -> list[np.ndarray]:
    if info.reference is not None:
        return info.reference.inputs
    rng = np.random.default_rng(SEED)
    return [_random(spec, rng) for spec in info.inputs]


def raw(array: np.ndarray) -> bytes:
    """Little-endian element bytes, the layout the runtime and the Swift `Tensor` use."""
    return np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()


def compute(info: ModelInfo) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(inputs, outputs) of one run on the C runtime."""
    inputs = inputs_for(info)
    try:
        outputs = load(info.data).run_numpy(inputs)
    except errors.PocketTorchError as exc:
        raise type(exc)(f"{info.path}: the reference run for the package's test failed: {exc.detail}",
                        hint="export the model with `pockettorch export --reference`, so the test runs the model's "
                             "own example inputs instead of random ones") from None
    return inputs, outputs
