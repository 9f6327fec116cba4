"""Quantization and delegation of model files: `pockettorch.export("model.pt" | "model.onnx", inputs,
quantization=..., backends=...)` and `pockettorch export model.pt --quantize/--calibration/--backend`.

A TorchScript file becomes a torch.export program, so every scheme applies as to the Python model: the program from
the file is compared with the one exported from the module it was saved from (same scheme, same calibration) and,
for static int8, with its own PT2E reference within one output step (tests/quant's tolerance). An ONNX file takes
dynamic int8 and weight-only as rewrites after lowering: compared with the PyTorch export of the module the file
came from under the same scheme. Delegated programs are compared with eager / onnxruntime at 1e-4.
(Static int8 of a float ONNX file: tests/exporter/onnx_import/test_qdq.py.)"""
from __future__ import annotations

import json
import pathlib
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

import pockettorch
from pockettorch import quant
from pockettorch.cli import cli

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "quant"))
from quant_support import lsb_error, output_scale  # noqa: E402


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Linear(8 * 8 * 8, 10)

    def forward(self, x):
        return self.head(torch.flatten(torch.relu(self.conv(x)), 1))


def _cnn():
    torch.manual_seed(0)
    return SmallCNN().eval(), (torch.randn(1, 3, 8, 8),)


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).eval(), (torch.randn(2, 64),)


def _calibration(shape, n=4):
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(shape, generator=g),) for _ in range(n)]


def _run(program, inputs) -> np.ndarray:
    with pockettorch.load(program.to_bytes()) as m:
        out = m(*[t.numpy() if isinstance(t, torch.Tensor) else t for t in inputs])
    return np.asarray(out[0] if isinstance(out, (list, tuple)) else out)


def _save_ts(module, inputs, path, kind):
    ts = torch.jit.trace(module, inputs) if kind == "trace" else torch.jit.script(module)
    torch.jit.save(ts, str(path))
    return path


def _save_onnx(module, inputs, path):
    torch.onnx.export(module, inputs, str(path), dynamo=False, input_names=["x"], output_names=["y"])
    return path


@pytest.mark.parametrize("kind", ["script", "trace"])
def test_torchscript_static_int8_matches_the_python_export(tmp_path, kind):
    module, inputs = _cnn()
    path = _save_ts(module, inputs, tmp_path / "m.pt", kind)
    scheme = quant.int8(_calibration((1, 3, 8, 8)))
    program = pockettorch.export(path, inputs, quantization=scheme)
    hist = program.graph.op_histogram()
    assert hist.get("qconv2d") == 1 and hist.get("qlinear") == 1, hist
    assert program.metadata["quantization"] == "int8" and program.metadata["source"]["format"] == "torchscript"
    assert lsb_error(program, inputs) <= 1.0 + 1e-4  # against its own PT2E reference
    python = pockettorch.export(module, inputs, quantization=scheme)
    assert output_scale(program) == output_scale(python)  # the same observers saw the same values
    assert np.abs(_run(program, inputs) - _run(python, inputs)).max() <= output_scale(python) * (1 + 1e-4)


def test_torchscript_skip_names_modules_by_their_weights(tmp_path):
    module, inputs = _cnn()
    path = _save_ts(module, inputs, tmp_path / "m.pt", "script")
    program = pockettorch.export(path, inputs, quantization=quant.int8(_calibration((1, 3, 8, 8)), skip=("head",)))
    hist = program.graph.op_histogram()
    assert hist.get("qconv2d") == 1 and hist.get("linear") == 1 and "qlinear" not in hist, hist
    program = pockettorch.export(path, inputs, quantization=quant.weight_only(8, 32, skip=("conv",)))
    assert [layer["name"] for layer in program.metadata["quantization"]["layers"]] == ["head"]


@pytest.mark.parametrize("scheme", [quant.int8_dynamic(), quant.weight_only(8, 32), quant.weight_only(4, 32)],
                         ids=["int8-dynamic", "w8", "w4"])
@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_dynamic_and_weight_only_match_the_python_export(tmp_path, scheme, fmt):
    module, inputs = _mlp()
    if fmt == "torchscript":
        program = pockettorch.export(_save_ts(module, inputs, tmp_path / "m.pt", "script"), inputs,
                                     quantization=scheme)
    else:
        program = pockettorch.export(_save_onnx(module, inputs, tmp_path / "m.onnx"), quantization=scheme)
    op = "qlinear_dynamic" if scheme == quant.int8_dynamic() else "linear_wo"
    assert program.graph.op_histogram().get(op) == 2, program.graph.op_histogram()
    python = pockettorch.export(module, inputs, quantization=scheme)
    want = _run(python, inputs)
    np.testing.assert_allclose(_run(program, inputs), want, rtol=0, atol=1e-5 * np.abs(want).max())
    with torch.no_grad():
        eager = module(*inputs).numpy()
    assert np.abs(want - eager).max() > 0  # it really is quantized


def test_onnx_skip_takes_node_names(tmp_path):
    module, inputs = _mlp()
    path = _save_onnx(module, inputs, tmp_path / "m.onnx")
    program = pockettorch.export(path, quantization=quant.int8_dynamic(skip=("/2",)))
    assert program.graph.op_histogram() == {"qlinear_dynamic": 1, "linear": 1}
    program = pockettorch.export(path, quantization=quant.weight_only(4, 32, skip=("/0/Gemm",)))
    meta = program.metadata["quantization"]
    assert [layer["name"] for layer in meta["layers"]] == ["/2/Gemm"]
    assert meta["float"] == [{"name": "/0/Gemm", "op": "linear", "reason": "skipped by the user"}]


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_backends_delegate_model_files(tmp_path, fmt):
    module, inputs = _cnn()
    if fmt == "torchscript":
        program = pockettorch.export(_save_ts(module, inputs, tmp_path / "m.pt", "trace"), inputs,
                                     backends=["vulkan"])
    else:
        program = pockettorch.export(_save_onnx(module, inputs, tmp_path / "m.onnx"), backends=["vulkan"])
    report = program.metadata["delegation"]
    assert report["backends"]["vulkan"]["partitions"] >= 1 and report["cpu_ops"] < len(program.graph.nodes)
    with torch.no_grad():
        want = module(*inputs).numpy()
    got = _run(program, inputs)
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()


def _cli(*args):
    result = CliRunner().invoke(cli, ["export", *args, "--quiet"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def _inspect(path):
    return json.loads(CliRunner().invoke(cli, ["inspect", str(path), "--json"]).output)


def test_cli_torchscript_static_int8_with_a_calibration_npz(tmp_path):
    module, inputs = _cnn()
    path = _save_ts(module, inputs, tmp_path / "m.pt", "script")
    batches = [b[0].numpy() for b in _calibration((1, 3, 8, 8))]
    np.savez(tmp_path / "cal.npz", x=np.stack(batches))
    _cli(str(path), "--out", str(tmp_path / "m.ptm"), "--input-shape", "x:1,3,8,8", "--quantize", "int8",
         "--calibration", str(tmp_path / "cal.npz"))
    info = _inspect(tmp_path / "m.ptm")
    assert info["quantization"] == "int8" and info["ops"]["qconv2d"] == 1 and info["dtypes"]["int8"] >= 3
    api = pockettorch.export(path, inputs, quantization=quant.int8([(torch.from_numpy(b),) for b in batches]))
    with pockettorch.load(str(tmp_path / "m.ptm")) as m:
        got = np.asarray(m(inputs[0].numpy()))
    np.testing.assert_array_equal(got, _run(api, inputs))  # the same program as through the API


def test_cli_model_files_dynamic_weight_only_and_backend(tmp_path):
    module, inputs = _mlp()
    ts = _save_ts(module, inputs, tmp_path / "m.pt", "trace")
    onnx_path = _save_onnx(module, inputs, tmp_path / "m.onnx")
    for model, extra, quantize, op in ((ts, ["--input-shape", "input:2,64"], "int8-dynamic", "qlinear_dynamic"),
                                       (onnx_path, [], "int8-dynamic", "qlinear_dynamic"),
                                       (onnx_path, [], "w4", "linear_wo")):
        out = tmp_path / f"{model.suffix[1:]}-{quantize}.ptm"
        _cli(str(model), "--out", str(out), *extra, "--quantize", quantize)
        info = _inspect(out)
        scheme = info["quantization"]
        assert info["ops"].get(op) == 2 and (scheme if quantize != "w4" else scheme["bits"]) in (quantize, 4), info
    out = tmp_path / "delegated.ptm"
    _cli(str(onnx_path), "--out", str(out), "--backend", "vulkan")
    assert _inspect(out)["delegation"]["backends"]["vulkan"]["partitions"] >= 1


def test_cli_calibration_that_does_not_fit_a_model_file_is_a_usage_error(tmp_path):
    module, inputs = _cnn()
    path = _save_ts(module, inputs, tmp_path / "m.pt", "script")
    np.savez(tmp_path / "bad.npz", x=np.zeros((2, 1, 3, 4, 4), np.float32))
    result = CliRunner().invoke(cli, ["export", str(path), "--out", str(tmp_path / "m.ptm"), "--input-shape",
                                      "x:1,3,8,8", "--quantize", "int8", "--calibration", str(tmp_path / "bad.npz")])
    assert result.exit_code == 2 and "--calibration" in result.output and "does not hold batches" in result.output
    np.save(tmp_path / "one.npy", np.zeros((2, 1, 3, 8, 8), np.float32))
    result = CliRunner().invoke(cli, ["export", str(path), "--out", str(tmp_path / "m.ptm"), "--input-shape",
                                      "x:1,3,8,8", "--quantize", "int8", "--calibration", str(tmp_path / "one.npy")])
    assert result.exit_code == 2 and "numpy.savez" in result.output
