"""The in-process debugger (`pockettorch.debug(model, inputs)` with no device: the binding's instruction hook) finds
an injected fault. The fault comes from a test build of the binding (runtime/build.py `build_binding(
fault_injection=True)`, -DPKT_FAULT_INJECTION) loaded as pockettorch.runtime._native in a process of its own;
the installed binding carries no fault injection, so PKT_FAULT_INJECT changes nothing in this process."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import pockettorch
from pockettorch.runtime.build import build_binding

from debug_support import HERE, build

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # compiles the binding once per source change (~3 min on 2 cores)

# Runs in the subprocess: the fault build replaces the binding before pockettorch imports it; PKT_FAULT_INJECT is
# read when a session is created, so one process tries no fault, an op and a fused instruction in turn.
SCRIPT = """
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location("pockettorch.runtime._native", sys.argv[1])
native = importlib.util.module_from_spec(spec)
spec.loader.exec_module(native)
sys.modules["pockettorch.runtime._native"] = native
sys.path.insert(0, sys.argv[2])
import pockettorch
from pockettorch.runtime import module
from debug_support import assert_first_divergence, build
assert module._native is native
model, inputs = build()
clean = pockettorch.debug(model, inputs)
assert clean.first is None and clean.where == "this process", clean.table()
os.environ["PKT_FAULT_INJECT"] = "layer_norm"
report = pockettorch.debug(model, inputs)
assert report.where == "this process"
assert_first_divergence(report, "layer_norm", "NORM_LINE", "h = self.norm(h)")
os.environ["PKT_FAULT_INJECT"] = "0"  # instruction 0: conv + batch norm + ReLU
fused = ("aten.convolution.default", "aten._native_batch_norm_legit_no_training.default", "aten.relu.default")
assert_first_divergence(pockettorch.debug(model, inputs), "conv2d", "FUSED_LINE",
                        "y = torch.relu(self.bn(self.conv(x)))", fused)
print("named-first")
"""


def test_in_process_debugger_names_the_injected_op_and_line_first():
    binding = build_binding(fault_injection=True)
    env = {k: v for k, v in os.environ.items() if k != "PKT_FAULT_INJECT"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, binding, str(HERE)], capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.strip().endswith("named-first")


def test_the_installed_binding_ignores_the_switch(monkeypatch):
    monkeypatch.setenv("PKT_FAULT_INJECT", "layer_norm")
    model, inputs = build()
    report = pockettorch.debug(model, inputs)
    assert report.first is None and not report.divergences, report.table()
