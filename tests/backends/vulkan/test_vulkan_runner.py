"""pkt_runner with the Vulkan backend compiled in (runtime/build.py backends=["vulkan"], a few kernels to keep the
build small) runs a delegated program on lavapipe: same output as eager, the delegate active on the llvmpipe device
with its device time from the timestamp queries, one profile slice."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch

import pockettorch
from pockettorch.runtime import build, manifest
import vkharness

KERNELS = ("delegate", "linear", "reshape", "unary", "binary")


@pytest.mark.slow  # a runtime build (minutes on a loaded 2-core machine; cached by source hash afterwards)
def test_runner_runs_vulkan_delegate(tmp_path):
    if "vulkan" not in manifest.buildable_backends():
        pytest.skip("glslangValidator or the Vulkan headers are missing")
    runner = build.build_runner(kernels=KERNELS, backends=["vulkan"])
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2)).eval()
    x = torch.randn(3, 6)
    pockettorch.export(module, (x,), backends=["vulkan"]).save(tmp_path / "m.ptm")
    np.save(tmp_path / "x.npy", x.numpy())
    proc = subprocess.run([runner, str(tmp_path / "m.ptm"), "--backend", "vulkan", "--iters", "2", "--warmup", "0",
                           "--input", str(tmp_path / "x.npy"), "--output-dir", str(tmp_path / "out"), "--profile"],
                          capture_output=True, text=True, timeout=300, env=vkharness.lavapipe_env())
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    [d] = out["delegates"]
    assert d["backend"] == "vulkan" and d["active"] and d["device"].startswith("llvmpipe") and d["device_ms"] > 0
    assert [i["op"] for i in out["instructions"]] == ["delegate"]
    np.testing.assert_allclose(np.load(tmp_path / "out" / "output_0.npy"), module(x).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
