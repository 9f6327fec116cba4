"""The numerical debugger on the host: in this process (the binding's per-instruction capture) and through the
runner's dump mode (the host device). The fault-injection runner is a test build (PKT_FAULT_INJECTION) whose
sessions perturb the op named by PKT_FAULT_INJECT; the debugger must name that op and its source line first."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import pockettorch
from pockettorch import errors
from pockettorch.cli import main
from pockettorch.debugger.compare import debug_info, metrics
from pockettorch.device.host import HostDevice
from pockettorch.runtime.build import build_runner

from debug_support import MODELS, assert_first_divergence, build, line_of

pytestmark = pytest.mark.timeout(600)
FUSED = ("aten.convolution.default", "aten._native_batch_norm_legit_no_training.default", "aten.relu.default")


@pytest.fixture(scope="module")
def fault_runner():
    return build_runner(fault_injection=True)


@pytest.fixture(scope="module")
def release_runner():
    return build_runner()


def test_no_fault_no_divergence_and_fusions_are_compared_at_their_boundary():
    model, inputs = build()
    report = pockettorch.debug(model, inputs)
    assert report.first is None and not report.divergences, report.table()
    assert "no divergence" in report.table()
    conv = report.rows[0]
    assert conv["op"] == "conv2d" and conv["fused"] and tuple(c["target"] for c in conv["covers"]) == FUSED
    assert conv["outputs"][0]["compared"] and conv["outputs"][0]["eager"] == "relu"
    assert all(r["compared"] for r in report.rows)  # this model has no lowering temporaries
    assert all(o["max_rel"] <= 1e-4 and o["sqnr_db"] > 60 for r in report.rows for o in r["outputs"])


def test_the_runner_dump_equals_the_binding_capture_and_release_builds_ignore_the_switch(release_runner):
    """The same program on the host runner (`--dump`) gives the in-process capture's values bit for bit; a release
    runner carries no fault injection, so PKT_FAULT_INJECT changes nothing there."""
    model, inputs = build()
    here = pockettorch.debug(model, inputs, isa="portable")
    there = pockettorch.debug(model, inputs, device=HostDevice(), isa="portable", runner=release_runner,
                              env={"PKT_FAULT_INJECT": "layer_norm"})
    assert there.first is None and there.where == "host" and there.isa == "portable"
    assert len(here.rows) == len(there.rows) and all(r["compared"] for r in there.rows)
    for a, b in zip(here.rows, there.rows):  # the same kernels, from two builds
        assert np.allclose([o["max_abs"] for o in a["outputs"]], [o["max_abs"] for o in b["outputs"]], atol=1e-6)


def test_host_fault_in_an_op_is_named_first_with_its_line(fault_runner):
    model, inputs = build()
    report = pockettorch.debug(model, inputs, device="host", runner=fault_runner, env={"PKT_FAULT_INJECT": "layer_norm"})
    assert_first_divergence(report, "layer_norm", "NORM_LINE", "h = self.norm(h)")
    assert len(report.divergences) > 1  # what comes after it diverges too, and is listed after it


def test_host_fault_inside_a_fused_instruction_is_named_with_the_ops_it_covers(fault_runner):
    model, inputs = build()
    report = pockettorch.debug(model, inputs, device=HostDevice(), runner=fault_runner,
                               env={"PKT_FAULT_INJECT": "0"})  # instruction 0: conv + batch norm + ReLU
    assert_first_divergence(report, "conv2d", "FUSED_LINE", "y = torch.relu(self.bn(self.conv(x)))", FUSED)


def test_cli_table_and_json(tmp_path, capsys):
    out = tmp_path / "report.json"
    assert main(["debug", f"{MODELS}:build", "--json", str(out), "--isa", "portable"]) == 0
    text = capsys.readouterr().out
    assert "no divergence" in text and "8 instructions (1 fused)" in text
    report = json.loads(out.read_text())
    assert report["schema"] == "pockettorch.debug/1" and report["diverging"] == 0 and report["first_divergence"] is None
    assert report["isa"] == "portable" and len(report["rows"]) == report["instructions"] == report["compared"] == 8
    assert report["rows"][0]["covers"][0]["source"].endswith("torch.relu(self.bn(self.conv(x)))  # FUSED_LINE")


def test_cli_reports_a_divergence_and_exits_1(fault_runner, tmp_path, capsys, monkeypatch):
    """Through the host runner: the table's first row is the faulty op, the JSON names it, the exit code is 1."""
    import pockettorch.device.bench as device_bench

    monkeypatch.setattr(device_bench, "runner_for", lambda info, backend=None: fault_runner)  # the CLI deploys the release build
    monkeypatch.setenv("PKT_FAULT_INJECT", "softmax")  # the host device's runner inherits the environment
    out = tmp_path / "r.json"
    assert main(["debug", f"{MODELS}:build", "--device", "host", "--json", str(out)]) == 1
    captured = capsys.readouterr()
    assert "PKT_VERIFICATION_FAILED" in captured.err and "(softmax)" in captured.err
    first = json.loads(out.read_text())["first_divergence"]
    assert first["op"] == "softmax" and f":{line_of('SOFTMAX_LINE')} in forward" in first["source"]


def test_an_isa_the_machine_lacks_is_refused():
    model, inputs = build()
    with pytest.raises(errors.NotSupportedError, match="--isa neon"):
        pockettorch.debug(model, inputs, isa="neon")


def test_a_runner_needs_a_device():
    model, inputs = build()
    with pytest.raises(errors.InvalidArgumentError, match="device"):
        pockettorch.debug(model, inputs, env={"PKT_FAULT_INJECT": "0"})


def test_a_malformed_debug_record_is_a_clear_error():
    for bad in ({}, {"debug": []}, {"debug": {"instructions": [{"covers": "x", "outputs": [None]}]}},
                {"debug": {"instructions": [{"covers": [], "outputs": [1]}]}},
                {"debug": {"instructions": [{"covers": [], "outputs": []}]}}):
        with pytest.raises(errors.BadMetadataError):
            debug_info(bad, [1])


def test_metrics_follow_eager_nan_and_infinities():
    a = np.array([1.0, np.nan, np.inf, -2.0], dtype=np.float32)
    assert metrics(a.copy(), a) == {"max_abs": 0.0, "max_rel": 0.0, "sqnr_db": float("inf"), "mismatch": False}
    b = a.copy()
    b[1] = 0.0
    assert metrics(b, a)["mismatch"]
    c = a.copy()
    c[0] = 1.5
    m = metrics(c, a)
    assert m["max_abs"] == 0.5 and m["max_rel"] == 0.25 and not m["mismatch"]
    assert metrics(np.array([1, 2]), np.array([1, 3]))["mismatch"]


def test_mobilenet_fusions_conv_pairs_and_residual_adds_are_compared_at_their_boundaries(fault_runner):
    """mobilenet_v2 from the zoo: nearly every instruction is a fusion (conv + batch norm + ReLU6, conv pairs, residual
    adds). Without a fault nothing diverges and every instruction is compared; a fault in the first conv pair is named
    first, with the six eager ops it covers."""
    from pockettorch.exporter import zoo

    model, inputs, _ = zoo.build("mobilenet_v2")
    clean = pockettorch.debug(model, inputs)
    assert clean.first is None and all(r["compared"] for r in clean.rows), clean.table()
    pair = next(r for r in clean.rows if r["op"] == "conv_pw_dw")
    assert [c["target"] for c in pair["covers"]].count("aten.convolution.default") == 2
    residual = next(r for r in clean.rows if r["covers"][-1]["target"] == "aten.add.Tensor")
    assert residual["outputs"][0]["eager"] == residual["covers"][-1]["node"]
    faulty = pockettorch.debug(model, inputs, device="host", runner=fault_runner, env={"PKT_FAULT_INJECT": "conv_pw_dw"})
    assert faulty.first["index"] == pair["index"] and faulty.first["op"] == "conv_pw_dw"
    assert faulty.first["covers"] == pair["covers"] and faulty.first["source"] == pair["source"]


def test_binding_capture_and_its_checks():
    """Module.run_capture returns every instruction's outputs (the last one is the program's output); the C side
    refuses offsets that do not match the instructions' outputs or a buffer they would overrun."""
    model, inputs = build()
    m = pockettorch.load(pockettorch.export(model, inputs).to_bytes())
    x = inputs[0].numpy()
    outputs, captured = m.run_capture([x])
    assert [len(c) for c in captured] == [len(o) for o in m.instruction_outputs()] and len(captured) == 8
    assert np.array_equal(captured[-1][0], outputs[0]) and np.array_equal(outputs[0], m.run_numpy([x])[0])
    assert captured[3][0].shape == (2, 32) and captured[3][0].dtype == np.float32  # layer_norm's output
    sizes = [o[3] for outs in m._session.instruction_outputs() for o in outs]
    out = [np.empty((2, 5), np.float32)]
    fits = np.cumsum([0, *sizes[:-1]]).astype(np.int64)
    m._session.run([x], out, np.empty(sum(sizes), np.uint8), fits)  # packed back to back: fits exactly
    for buffer, offsets in ((np.empty(sum(sizes) - 1, np.uint8), fits), (np.empty(sum(sizes), np.uint8), fits[:-1]),
                            (np.empty(sum(sizes), np.uint8), fits.astype(np.int32))):
        with pytest.raises(pockettorch.runtime._native.NativeError):
            m._session.run([x], out, buffer, offsets)
    m.close()


class Pick(torch.nn.Module):
    def forward(self, x):
        return torch.tanh(x[:, 0]) * 2


def test_a_fault_in_a_lowering_temporary_is_pointed_at(fault_runner):
    """`x[:, 0]` lowers to a slice (a temporary: no eager value has its shape) and a reshape (eager's select): a fault
    in the slice shows at the reshape, and the report names the slice just before it as not compared."""
    report = pockettorch.debug(Pick(), (torch.randn(3, 4, 5),), device="host", runner=fault_runner,
                               env={"PKT_FAULT_INJECT": "slice"})
    first = report.first
    slice_row = next(r for r in report.rows if r["op"] == "slice")
    assert not slice_row["compared"] and first["index"] == slice_row["index"] + 1
    assert first["covers"] == slice_row["covers"] and first["covers"][0]["target"] == "aten.select.int"
    assert first["unchecked_before"] == [slice_row["index"]]
    assert f"{slice_row['index']} (slice)" in report.table().splitlines()[-1]
