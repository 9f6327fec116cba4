"""Delegates at run time: a runner built with the test-only backend (fixtures/elementwise_backend.c, a real C backend
that runs on the CPU: the double of an accelerator) runs each delegate on it and skips its fallback; without the
backend, without a device or when init fails, the fallback runs (or, strict, the session is refused). Outputs are
compared with eager in every case."""
from __future__ import annotations

import struct

import numpy as np
import pytest

import pockettorch
from pockettorch import errors
from pockettorch.exporter import backends as registry

import delegation_support as support
import models
from fixtures.elementwise_backend import ElementwiseTestBackend


@pytest.fixture(scope="module")
def programs(tmp_path_factory) -> dict[str, tuple[str, object, tuple]]:
    """name -> (path, module, inputs) for a fully delegated and a split program."""
    support.register_test_backend()
    d = tmp_path_factory.mktemp("delegated")
    out = {}
    for name, module, seed in (("full", models.AllSupported(), 0), ("split", models.SplitBySigmoid(), 1)):
        inputs = models.inputs(seed)
        program = pockettorch.export(module, inputs, name=name, backends=[ElementwiseTestBackend.name])
        out[name] = (program.save(d / f"{name}.ptm"), module, inputs)
    registry.unregister(ElementwiseTestBackend.name)
    return out


def _eager(module, inputs) -> list[np.ndarray]:
    want = module(*inputs)
    return [w.numpy() for w in (want if isinstance(want, tuple) else (want,))]


def _check(outputs, module, inputs):
    want = _eager(module, inputs)
    assert len(outputs) == len(want)
    for g, w in zip(outputs, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["full", "split"])
def test_delegates_run_on_the_backend_and_match_eager(programs, name, tmp_path):
    path, module, inputs = programs[name]
    proc, result, outputs = support.run(path, "--profile", inputs=[t.numpy() for t in inputs], tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    _check(outputs, module, inputs)
    delegates = result["delegates"]
    assert len(delegates) == (1 if name == "full" else 2)
    for d in delegates:
        assert d["active"] and d["backend"] == "test_elementwise" and d["reason"] == ""
        assert (d["device"], d["driver"]) == ("test elementwise device", "test driver 1.0")
        assert d["device_ms"] > 0
    # the profile: each delegate one slice, named by its backend; its fallback instructions never ran
    slices = {i["index"]: i for i in result["instructions"]}
    for d in delegates:
        assert slices[d["instruction"]]["backend"] == "test_elementwise"
        assert slices[d["instruction"]]["device_ms"] == d["device_ms"]
        assert not set(range(d["instruction"] + 1, d["instruction"] + 1 + d["fallback"])) & set(slices)
    cpu_ops = {i["op"] for i in result["instructions"]}
    assert cpu_ops == ({"delegate"} if name == "full" else {"delegate", "unary"})


@pytest.mark.parametrize("mode, reason", [("unavailable", "has no device here"),
                                          ("fail-init", "could not initialize: asked to fail")])
def test_no_device_or_failed_init_runs_the_fallback(programs, mode, reason, tmp_path):
    path, module, inputs = programs["split"]
    env = {"PKT_TEST_BACKEND": mode}
    proc, result, outputs = support.run(path, inputs=[t.numpy() for t in inputs], tmp=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    _check(outputs, module, inputs)
    assert [d["active"] for d in result["delegates"]] == [False, False]
    assert all(reason in d["reason"] and d["device"] == "" for d in result["delegates"])
    proc, _, _ = support.run(path, "--strict-backends", env=env)
    assert proc.returncode == 1
    assert "PKT_NOT_SUPPORTED" in proc.stderr and reason in proc.stderr and "strict_backends" in proc.stderr


def test_backend_option_picks_the_cpu_or_requires_the_backend(programs, tmp_path):
    path, module, inputs = programs["full"]
    proc, result, outputs = support.run(path, "--backend", "cpu", inputs=[t.numpy() for t in inputs], tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    _check(outputs, module, inputs)
    assert not result["delegates"][0]["active"] and "not among the session's backends" in result["delegates"][0]["reason"]
    proc, result, _ = support.run(path, "--backend", "test_elementwise")
    assert proc.returncode == 0 and result["delegates"][0]["active"]
    proc, _, _ = support.run(path, "--backend", "test_elementwise", env={"PKT_TEST_BACKEND": "unavailable"})
    assert proc.returncode == 1 and "has no device here" in proc.stderr
    proc, _, _ = support.run(path, "--backend", "vulkan,test_elementwise")
    assert proc.returncode == 2


def _corrupt_blob_magic(path: str, tmp_path) -> str:
    data = bytearray(open(path, "rb").read())
    off, _ = support.delegates_section(bytes(data))
    blob = off + struct.unpack_from("<Q", data, off + 8 + 8)[0]
    data[blob] ^= 0xFF  # the loader checks where the blob is; what is in it is the backend's to check
    out = tmp_path / "bad_blob.ptm"
    out.write_bytes(bytes(data))
    return str(out)


def test_a_corrupted_blob_is_refused_by_the_backend(programs, tmp_path):
    path, module, inputs = programs["full"]
    bad = _corrupt_blob_magic(path, tmp_path)
    proc, _, _ = support.run(bad, "--strict-backends")
    assert proc.returncode == 1 and "blob does not start with PKTE" in proc.stderr
    proc, result, outputs = support.run(bad, inputs=[t.numpy() for t in inputs], tmp=tmp_path)
    assert proc.returncode == 0 and not result["delegates"][0]["active"]
    _check(outputs, module, inputs)


def test_binding_without_the_backend(programs):
    """The Python binding is built without the test backend: delegates fall back, and say so; strict refuses."""
    path, module, inputs = programs["split"]
    with pockettorch.load(path) as m:
        got = m(*inputs)
        delegates = m.delegates
    _check([g.numpy() for g in got], module, inputs)
    assert [(d["backend"], d["active"], d["device"], d["instruction"], d["fallback"]) for d in delegates] == [
        ("test_elementwise", False, "", 0, 2), ("test_elementwise", False, "", 4, 3)]
    assert all("not compiled into this runtime" in d["reason"] for d in delegates)
    with pytest.raises(errors.NotSupportedError, match="delegate 0 .*strict_backends"):
        pockettorch.load(path, strict_backends=True)
