"""QDQ models from onnxruntime.quantization.quantize_static (QuantFormat.QDQ, per-channel int8 weights, int8 or
uint8 activations) import as int8 programs: the Conv / Gemm / MatMul / Add / pool / Concat patterns run on the int8
ops, and the outputs are within one quantization step of onnxruntime running the same file, both with its graph
optimizations (its own int8 kernels: QLinearConv, ...) and without (the QDQ graph's float value). A float ONNX file
exported with quant.int8(calibration) is quantized by onnxruntime and imports the same way.

Everything here is produced inside the test: the models by torch.onnx.export, their QDQ forms by quantize_static
(the zoo's mobilenet_v2 and resnet18 included)."""
from __future__ import annotations

import json
import warnings

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from click.testing import CliRunner
from onnx import TensorProto, helper
from torch import nn

import pockettorch
from pockettorch import errors, quant
from pockettorch.cli import cli
from pockettorch.exporter import zoo

from onnx_support import make_model, ort_options

INT8_OPS = {"qconv2d", "qlinear", "qbinary", "qmax_pool2d", "qavg_pool2d", "qconcat", "qmatmul", "qlut"}


class SmallCNN(nn.Module):
    """Conv+Relu, MaxPool, Conv+Clip on a residual Add, Concat, global average pool, Flatten, Gemm."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.c3 = nn.Conv2d(8, 4, 1)
        self.fc = nn.Linear(12, 10)

    def forward(self, x):
        y = torch.nn.functional.max_pool2d(torch.relu(self.c1(x)), 2)
        y = y + torch.clamp(self.c2(y), 0, 6)
        y = torch.cat([y, self.c3(y)], 1)
        return self.fc(torch.nn.functional.adaptive_avg_pool2d(y, 1).flatten(1))


class AttentionMLP(nn.Module):
    """Linears (MatMul/Gemm with constant weights) and two activation x activation MatMuls around a softmax."""

    def __init__(self):
        super().__init__()
        self.q, self.k, self.out = nn.Linear(32, 32), nn.Linear(32, 32), nn.Linear(32, 8)

    def forward(self, x):
        attention = torch.softmax(self.q(x) @ self.k(x).transpose(1, 2), -1)
        return self.out(torch.relu(attention @ x + x))


def _batches(shape, n=4, seed=0):
    return [np.random.default_rng(seed + i).standard_normal(shape).astype(np.float32) for i in range(n)]


def _float_onnx(module, shape, path):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (torch.randn(shape),), str(path), dynamo=False, opset_version=17,
                          input_names=["x"], output_names=["y"])
    return path


def _quantize(float_path, qdq_path, shape, activations="uint8", **extra):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Calibration(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"x": b} for b in _batches(shape)])

        def get_next(self):
            return next(self.batches, None)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_static(str(float_path), str(qdq_path), Calibration(), quant_format=QuantFormat.QDQ,
                        per_channel=True, weight_type=QuantType.QInt8,
                        activation_type=QuantType.QUInt8 if activations == "uint8" else QuantType.QInt8,
                        extra_options=extra or None)
    return qdq_path


def _output_step(path) -> float:
    """The scale of the DequantizeLinear that makes the model's output."""
    model = onnx.load(str(path))
    last = next(n for n in model.graph.node if n.output[0] == model.graph.output[0].name)
    assert last.op_type == "DequantizeLinear"
    return float(next(onnx.numpy_helper.to_array(i) for i in model.graph.initializer if i.name == last.input[1]))


def _ort(path, optimized: bool):
    options = onnxruntime.SessionOptions() if optimized else ort_options()
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _steps(program, qdq_path, shape, n=4) -> dict[str, float]:
    """max |program (or a .ptm path) - onnxruntime| over n inputs, in steps of the output's quantization: against
    onnxruntime with graph optimizations ("optimized": its int8 kernels) and without ("qdq": the QDQ graph's own
    value), and how far those two are apart ("ort_self")."""
    step = _output_step(qdq_path)
    optimized, qdq = _ort(qdq_path, True), _ort(qdq_path, False)
    worst = {"optimized": 0.0, "qdq": 0.0, "ort_self": 0.0}
    with pockettorch.load(program.to_bytes() if hasattr(program, "to_bytes") else str(program)) as runtime:
        for x in _batches(shape, n, seed=100):
            got = np.asarray(runtime(x))
            a, b = optimized.run(None, {"x": x})[0], qdq.run(None, {"x": x})[0]
            for key, d in (("optimized", got - a), ("qdq", got - b), ("ort_self", a - b)):
                worst[key] = max(worst[key], float(np.abs(d).max()) / step)
    return worst


def _steps_from_ort(program, qdq_path, shape, n=4) -> float:
    """The larger of the differences from onnxruntime with and without graph optimizations, in steps."""
    worst = _steps(program, qdq_path, shape, n)
    return max(worst["optimized"], worst["qdq"])


def _float_ops(program) -> set[str]:
    return {op for op in program.graph.op_histogram() if op in {"conv2d", "conv_pw_dw", "conv_dw_pw", "linear"}}


@pytest.mark.parametrize("activations", ["uint8", "int8"])
def test_small_cnn_runs_int8_within_one_step_of_onnxruntime(tmp_path, activations):
    shape = (1, 3, 16, 16)
    qdq = _quantize(_float_onnx(SmallCNN(), shape, tmp_path / "f.onnx"), tmp_path / "q.onnx", shape, activations)
    program = pockettorch.export(qdq)
    hist = program.graph.op_histogram()
    assert hist.get("qconv2d") == 3 and hist.get("qlinear") == 1 and hist.get("qbinary") == 1, hist
    assert hist.get("qmax_pool2d") == 1 and hist.get("qavg_pool2d") == 1 and hist.get("qconcat") == 1, hist
    assert hist.get("quantize") == 1 and hist.get("dequantize") == 1  # float at the program's edges only
    assert program.metadata["quantization"] == "int8" and not _float_ops(program)
    assert _steps_from_ort(program, qdq, shape) <= 1.0 + 1e-4
    with pytest.raises(errors.NotSupportedError, match="onnxruntime"):
        program.quant_report()  # no PyTorch model to compare layers with
    path = tmp_path / "q.ptm"
    program.save(path)
    info = json.loads(CliRunner().invoke(cli, ["inspect", str(path), "--json"]).output)
    assert info["dtypes"]["int8"] >= 8 and info["inputs"][0]["dtype"] == "float32"


@pytest.mark.slow
@pytest.mark.parametrize("name,activations", [("mobilenet_v2", "uint8"), ("resnet18", "int8")])
def test_zoo_qdq_models_run_int8(tmp_path, name, activations):
    shape = (1, 3, 64, 64)
    module, _, _ = zoo.build(name)
    qdq = _quantize(_float_onnx(module, shape, tmp_path / "f.onnx"), tmp_path / "q.onnx", shape, activations)
    program = pockettorch.export(qdq)
    hist = program.graph.op_histogram()
    assert not _float_ops(program) and hist.get("qconv2d", 0) >= 20 and hist.get("qbinary", 0) >= 8, hist
    assert _steps_from_ort(program, qdq, shape, n=2) <= 1.0 + 1e-4


@pytest.mark.parametrize("symmetric", [False, True], ids=["asymmetric", "symmetric"])
def test_matmul_model(tmp_path, symmetric):
    """Constant-weight MatMuls are qlinear. Activation x activation MatMuls are qmatmul when the right operand's
    zero point is 0 (ActivationSymmetric); with onnxruntime's default asymmetric activations they stay float between
    their QDQ pairs, computing the QDQ graph's value: onnxruntime's optimized int8 kernels round those differently
    (it disagrees with itself by up to 2 steps here), so the program is held to one step of that value and to one
    step beyond onnxruntime's own disagreement."""
    shape = (1, 6, 32)
    qdq = _quantize(_float_onnx(AttentionMLP(), shape, tmp_path / "f.onnx"), tmp_path / "q.onnx", shape, "int8",
                    **({"ActivationSymmetric": True} if symmetric else {}))
    program = pockettorch.export(qdq)
    hist = program.graph.op_histogram()
    assert hist.get("qlinear") == 3 and "linear" not in hist, hist
    assert (hist.get("qmatmul", 0), hist.get("matmul", 0)) == ((2, 0) if symmetric else (0, 2)), hist
    worst = _steps(program, qdq, shape)
    assert worst["qdq"] <= 1.0 + 1e-4
    assert worst["optimized"] <= (1.0 if symmetric else worst["ort_self"] + 1.0) + 1e-4, worst


def test_dynamic_batch(tmp_path):
    """A QDQ model with a dynamic batch dim runs int8 at every size in the bounds given."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)).eval()
    float_path = tmp_path / "f.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(2, 16),), str(float_path), dynamo=False, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "batch"}})
    qdq = _quantize(float_path, tmp_path / "q.onnx", (3, 16), "uint8")
    program = pockettorch.export(qdq, dynamic_shapes={"x": {0: (1, 8)}})
    assert program.graph.op_histogram() == {"qlinear": 2, "quantize": 1, "dequantize": 1}
    for batch in (1, 5, 8):
        assert _steps_from_ort(program, qdq, (batch, 16), n=1) <= 1.0 + 1e-4


def test_per_axis_activation_quantization_stays_float(tmp_path):
    """A per-channel QuantizeLinear of an activation has no int8 form in the runtime: a float fake-quant."""
    scale = np.array([0.05, 0.1, 0.02], np.float32)
    zp = np.array([3, -2, 0], np.int8)
    path = tmp_path / "axis.onnx"
    make_model([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1),
                helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=1)],
               [("x", TensorProto.FLOAT, [2, 3, 4])], [("y", TensorProto.FLOAT, [2, 3, 4])], {"s": scale, "z": zp},
               path=path)
    program = pockettorch.export(path)
    assert "quantize" not in program.graph.op_histogram()
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32) * 4
    with pockettorch.load(program.to_bytes()) as runtime:
        got = np.asarray(runtime(x))
    np.testing.assert_allclose(got, _ort(path, False).run(None, {"x": x})[0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("output_dtype", [None, TensorProto.INT8], ids=["uint8-default", "int8"])
def test_quantize_without_zero_point(tmp_path, output_dtype):
    """No zero point: 0 of uint8, or of opset 21's output_dtype; the DequantizeLinear follows its input's type."""
    path = tmp_path / "q.onnx"
    attrs = {} if output_dtype is None else {"output_dtype": output_dtype}
    model = make_model([helper.make_node("QuantizeLinear", ["x", "s"], ["q"], **attrs),
                        helper.make_node("DequantizeLinear", ["q", "s"], ["y"])],
                       [("x", TensorProto.FLOAT, [9])], [("y", TensorProto.FLOAT, [9])], {"s": np.float32(0.1)},
                       opset=21)
    model.ir_version = 10
    onnx.save(model, str(path))
    x = np.linspace(-20, 20, 9).astype(np.float32)
    program = pockettorch.export(path)
    assert program.graph.op_histogram() == {"quantize": 1, "dequantize": 1}
    with pockettorch.load(program.to_bytes()) as runtime:
        np.testing.assert_array_equal(np.asarray(runtime(x)), _ort(path, False).run(None, {"x": x})[0])


def test_int8_tensors_the_runtime_cannot_take_are_refused(tmp_path):
    qdq = [("s", np.float32(0.1)), ("z", np.int8(0))]
    read_by_add, int8_input = tmp_path / "add.onnx", tmp_path / "input.onnx"
    make_model([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]), helper.make_node("Add", ["q", "q"], ["y"])],
               [("x", TensorProto.FLOAT, [4])], [("y", TensorProto.INT8, [4])], dict(qdq), path=read_by_add)
    make_model([helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])], [("q", TensorProto.INT8, [4])],
               [("y", TensorProto.FLOAT, [4])], dict(qdq), path=int8_input)
    for path, why in ((read_by_add, "reads the quantized output of a QuantizeLinear"),
                      (int8_input, "no QuantizeLinear of this model made")):
        with pytest.raises(errors.UnsupportedOpError) as info:
            pockettorch.export(path)
        assert why in str(info.value)


def test_float_file_with_static_int8_is_quantized_by_onnxruntime(tmp_path):
    """quant.int8(calibration) on a float file: the program is the int8 form of the QDQ model quantize_static makes
    from the same calibration (int8 activations, per-channel weights), within one step of onnxruntime on it."""
    shape = (1, 3, 16, 16)
    float_path = _float_onnx(SmallCNN(), shape, tmp_path / "cnn.onnx")
    reference = _quantize(float_path, tmp_path / "reference.onnx", shape, "int8")
    program = pockettorch.export(float_path, quantization=quant.int8([(b,) for b in _batches(shape)]))
    assert program.metadata["quantization"] == "int8" and not _float_ops(program)
    assert program.metadata["source"]["file"] == "cnn.onnx" and program.name == "cnn"
    assert _steps_from_ort(program, reference, shape) <= 1.0 + 1e-4
    skipped = pockettorch.export(float_path, quantization=quant.int8([{"x": b} for b in _batches(shape)],
                                                                     skip=("/c3/Conv",)))
    assert skipped.graph.op_histogram().get("qconv2d") == 2 and skipped.graph.op_histogram().get("conv2d") == 1
    with pytest.raises(errors.BadModelArgsError, match="already quantized"):
        pockettorch.export(reference, quantization=quant.int8([(b,) for b in _batches(shape)]))
    with pytest.raises(errors.BadModelArgsError, match="needs calibration data"):
        pockettorch.export(float_path, quantization=quant.int8([]))


def test_cli_static_int8_of_a_float_file(tmp_path):
    shape = (1, 3, 16, 16)
    float_path = _float_onnx(SmallCNN(), shape, tmp_path / "cnn.onnx")
    reference = _quantize(float_path, tmp_path / "reference.onnx", shape, "int8")
    np.savez(tmp_path / "cal.npz", x=np.stack(_batches(shape)))
    out = tmp_path / "cnn.ptm"
    result = CliRunner().invoke(cli, ["export", str(float_path), "--out", str(out), "--quiet", "--quantize", "int8",
                                      "--calibration", str(tmp_path / "cal.npz")])
    assert result.exit_code == 0, result.output
    info = json.loads(CliRunner().invoke(cli, ["inspect", str(out), "--json"]).output)
    assert info["quantization"] == "int8" and info["ops"]["qconv2d"] == 3 and info["dtypes"]["int8"] >= 8
    assert _steps_from_ort(out, reference, shape) <= 1.0 + 1e-4
    result = CliRunner().invoke(cli, ["export", str(float_path), "--out", str(out), "--quantize", "int8"])
    assert result.exit_code != 0 and "needs calibration data" in str(result.exception)
