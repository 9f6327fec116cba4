"""bench/onnx_input.py, what compare.py --onnx runs on: model names, inputs and reference outputs from the file,
both runtimes' artifacts, FLOPs counted on the graph. (The timing loop is compare.py's, shared with zoo models.)"""
from __future__ import annotations

import pathlib
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))

import onnx_input  # noqa: E402
import pockettorch  # noqa: E402


def _model(path):
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32) / 27, "w")
    fc = numpy_helper.from_array(np.ones((4 * 6 * 6, 5), np.float32) / 100, "fc")
    shape = numpy_helper.from_array(np.array([1, -1], np.int64), "shape")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Reshape", ["c", "shape"], ["f"]),
             helper.make_node("MatMul", ["f", "fc"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], [w, fc, shape])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_inputs_artifacts_and_flops(tmp_path):
    path = tmp_path / "tiny net.onnx"
    _model(path)
    name = onnx_input.ensure_inputs(path, tmp_path / "work")
    assert name == "onnx-tiny_net"
    x = np.load(tmp_path / "work" / name / "inputs_0.npy")
    reference = np.load(tmp_path / "work" / name / "reference_0.npy")
    assert x.shape == (1, 3, 8, 8) and reference.shape == (1, 5)
    for runtime, suffix in (("ort", ".onnx"), ("pockettorch", ".ptm")):
        onnx_input.export(path, runtime, str(tmp_path / f"{runtime}{suffix}"))
    with pockettorch.load(str(tmp_path / "pockettorch.ptm")) as m:
        np.testing.assert_allclose(m(x), reference, rtol=1e-5, atol=1e-6)
    assert (tmp_path / "ort.onnx").read_bytes() == path.read_bytes()
    # Conv: 4x6x6 outputs x 27 MACs; MatMul: 5 outputs x 144 MACs
    assert onnx_input.count_flops(path) == 2 * (4 * 6 * 6 * 27 + 5 * 144)
    with pytest.raises(ValueError, match="needs the PyTorch module"):
        onnx_input.export(path, "executorch", str(tmp_path / "x.pte"))
