"""`pockettorch export --backend`, `run --backend` and `inspect` on delegated programs (in-process, the test backend
registered with the exporter; the binding has no test backend compiled in, so its delegates run their fallbacks)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pockettorch.cli import cli
from pockettorch.exporter import backends as registry

import delegation_support as support
from fixtures.elementwise_backend import ElementwiseTestBackend

BUILDER = '''
import torch

class M(torch.nn.Module):
    def forward(self, x, y):
        return torch.relu(torch.relu(x + y) * y)

def build():
    return M(), (torch.randn(2, 8), torch.randn(2, 8))
'''


@pytest.fixture
def delegated(tmp_path):
    support.register_test_backend()
    (tmp_path / "m.py").write_text(BUILDER)
    out = tmp_path / "m.ptm"
    result = CliRunner().invoke(cli, ["export", f"{tmp_path / 'm.py'}:build", "--out", str(out), "--backend",
                                      "test_elementwise", "--backend-option", "test_elementwise:precision=fp16"])
    registry.unregister(ElementwiseTestBackend.name)
    assert result.exit_code == 0, result.output
    assert "ops in 1 partition, 3 transfers; cpu 0 ops" in result.output
    return str(out)


def test_run_backend_cpu_and_strict_backend(delegated, tmp_path):
    result = CliRunner().invoke(cli, ["run", delegated, "--iters", "2", "--warmup", "0", "--backend", "cpu", "--profile",
                                      "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "delegate 0 (test_elementwise) runs on the CPU: backend 'test_elementwise' is not among" in result.output
    r = json.loads((tmp_path / "r.json").read_text())
    assert [d["active"] for d in r["delegates"]] == [False]
    assert {row["op"] for row in r["ops"]} == {"delegate", "binary", "unary"}  # inactive: the fallback ran
    result = CliRunner().invoke(cli, ["run", delegated, "--iters", "1", "--backend", "test_elementwise"])
    assert result.exit_code != 0 and "not compiled into this runtime" in str(result.exception)


def test_bad_backend_option_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["export", "zoo:mlp", "--out", str(tmp_path / "m.ptm"),
                                      "--backend-option", "precision=fp16"])
    assert result.exit_code == 2 and "NAME:KEY=VALUE" in result.output


def test_bench_result_names_the_backend_device_and_driver():
    from pockettorch.device.bench import backend_summary

    ran = {"backend": "vulkan", "active": True, "device": "llvmpipe", "driver": "Mesa 22.3", "reason": ""}
    fell_back = {"backend": "vulkan", "active": False, "device": "", "driver": "", "reason": "has no device here"}
    assert backend_summary([fell_back, ran]) == {"name": "vulkan", "device": "llvmpipe", "driver": "Mesa 22.3",
                                                 "delegates": 2, "active": 1}
    assert backend_summary([fell_back])["name"] == "cpu" and backend_summary([])["delegates"] == 0


def test_trace_shows_a_delegate_as_one_named_slice():
    from pockettorch.device.trace import build_trace

    result = {"model": "m", "samples_ms": [1.0], "instructions": [
        {"index": 0, "op": "delegate", "source": "delegate to vulkan", "ms": 0.5, "backend": "vulkan", "device_ms": 0.4},
        {"index": 3, "op": "unary", "source": "", "ms": 0.1}]}
    ops = [e for e in build_trace(result)["traceEvents"] if e.get("cat") == "op"]
    assert [e["name"] for e in ops] == ["delegate (vulkan)", "unary"]
    assert ops[0]["args"]["device_ms"] == 0.4 and ops[0]["dur"] == 500.0
