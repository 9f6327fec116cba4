"""The zoo's mobilenet_v2, resnet18 and transformer encoder delegated whole to Vulkan (lavapipe) through
pockettorch.export(backends=["vulkan"]) and pockettorch.load, against eager: fp32 within 1e-4, fp16 storage within
1e-2. Marked slow: lavapipe runs these at ~1 GFLOP/s on the CPU."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import pockettorch
from pockettorch.exporter import zoo

pytestmark = pytest.mark.slow


def _rel_err(got, want) -> float:
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-6))


@pytest.mark.parametrize("name,precision,tol", [
    ("mobilenet_v2", "fp32", 1e-4), ("resnet18", "fp32", 1e-4), ("transformer_encoder", "fp32", 1e-4),
    ("mobilenet_v2", "fp16", 1e-2),
])
def test_zoo_fully_delegated(vk_module_env, name, precision, tol):
    module, inputs, _ = zoo.build(name)
    prog = pockettorch.export(module, inputs, backends=["vulkan"], backend_options={"vulkan": {"precision": precision}})
    report = prog.metadata["delegation"]
    assert report["cpu_ops"] == 0 and report["backends"]["vulkan"]["partitions"] == 1, prog.summary()
    m = pockettorch.load(prog.to_bytes())
    [d] = m.delegates
    assert d["backend"] == "vulkan" and d["active"], d
    got = m(*[i.numpy() for i in inputs])
    got = got[0] if isinstance(got, (list, tuple)) else got
    with torch.no_grad():
        want = module(*inputs).numpy()
    assert _rel_err(np.asarray(got), want) <= tol
