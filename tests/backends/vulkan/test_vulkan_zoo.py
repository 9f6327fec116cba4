"""The zoo's mobilenet_v2, resnet18 and transformer encoder delegated whole to Vulkan (lavapipe) through
pockettorch.export(backends=["vulkan"]) and pockettorch.load, against eager: fp32 within 1e-4, fp16 storage within
1e-2 (marked slow: lavapipe runs them at ~1 GFLOP/s on the CPU); mobilenet_v2 and the encoder split around an
unsupported op (slow too) and a small model split the same way; the
CPU fallback when no driver is present."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import pockettorch
from pockettorch.exporter import zoo


def _rel_err(got, want) -> float:
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-6))


@pytest.mark.slow
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


class _SplitZoo(torch.nn.Module):
    """A zoo model cut in two by an op the backend does not take (cumsum), its halves the zoo's own layers."""

    def __init__(self, name: str):
        super().__init__()
        self.model = zoo.build(name)[0]

    def forward(self, x):
        m = self.model
        if isinstance(m.layers if hasattr(m, "layers") else None, torch.nn.ModuleList):  # transformer encoder
            x = m.layers[0](x)
            x = x + 0.01 * torch.cumsum(x, dim=2)
            for layer in m.layers[1:]:
                x = layer(x)
            return x
        x = m.features[:9](x)  # mobilenet_v2: the unsupported op after the ninth block
        x = m.features[9:](x + 0.01 * torch.cumsum(x, dim=3))
        return m.classifier(torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mobilenet_v2", "transformer_encoder"])
def test_zoo_partially_delegated(vk_module_env, name):
    """A zoo model with one unsupported op in the middle: two Vulkan partitions around the CPU op, as eager."""
    module = _SplitZoo(name).eval()
    inputs = zoo.build(name)[1]
    prog = pockettorch.export(module, inputs, backends=["vulkan"])
    report = prog.metadata["delegation"]
    assert report["backends"]["vulkan"]["partitions"] == 2 and report["cpu_ops"] >= 1, prog.summary()
    m = pockettorch.load(prog.to_bytes())
    assert [d["active"] for d in m.delegates] == [True, True], m.delegates
    got = m(*[i.numpy() for i in inputs])
    got = got[0] if isinstance(got, (list, tuple)) else got
    with torch.no_grad():
        want = module(*inputs).numpy()
    assert _rel_err(np.asarray(got), want) <= 1e-4


def test_split_around_unsupported_op(vk_module_env):
    """An op the backend does not take (cumsum) in the middle: Vulkan, CPU, Vulkan, same result as eager."""
    torch.manual_seed(0)

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.b = torch.nn.Conv2d(8, 8, 3, padding=1)

        def forward(self, x):
            y = torch.relu(self.a(x))
            return self.b(torch.cumsum(y, dim=3)).mean(dim=(2, 3))

    module, x = M().eval(), torch.randn(1, 3, 9, 9)
    prog = pockettorch.export(module, (x,), backends=["vulkan"])
    report = prog.metadata["delegation"]
    assert report["backends"]["vulkan"]["partitions"] == 2 and report["cpu_ops"] == 1, prog.summary()
    m = pockettorch.load(prog.to_bytes())
    assert [d["active"] for d in m.delegates] == [True, True]
    got = m(x.numpy())
    got = got[0] if isinstance(got, (list, tuple)) else got
    assert _rel_err(np.asarray(got), module(x).detach().numpy()) <= 1e-4


def test_falls_back_to_cpu_without_a_device(tmp_path):
    """No Vulkan driver at run time: the delegate is inactive and its CPU instructions give the same result."""
    import os
    import subprocess
    import sys
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2)).eval()
    x = torch.randn(3, 6)
    path = tmp_path / "m.ptm"
    pockettorch.export(module, (x,), backends=["vulkan"]).save(path)
    np.save(tmp_path / "x.npy", x.numpy())
    code = ("import sys, json, numpy as np, pockettorch; m = pockettorch.load(sys.argv[1]); "
            "y = m(np.load(sys.argv[2])); y = y[0] if isinstance(y, (list, tuple)) else y; np.save(sys.argv[3], y); "
            "print(json.dumps([d['active'] for d in m.delegates]))")
    env = {**os.environ, "VK_DRIVER_FILES": "/nonexistent/icd.json", "VK_ICD_FILENAMES": "/nonexistent/icd.json"}
    proc = subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[false]"
    assert _rel_err(np.load(tmp_path / "y.npy"), module(x).detach().numpy()) <= 1e-5
