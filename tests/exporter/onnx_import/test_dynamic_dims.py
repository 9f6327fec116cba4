"""Dynamic ONNX dims (dim_param) as the exporter's bounded dynamic shapes: bounds as (min, max) pairs or
torch.export.Dim, the plan made for the maxima, the program run at several sizes against onnxruntime; dims the
import cannot follow are a clear DynamicShapeError."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from onnx import helper
from torch import nn

from onnx_support import F, I64, check_against_oracles, make_model
from pockettorch.exporter.onnx_frontend import export_onnx
from pockettorch.runtime import error_catalogue as errors

R = np.random.default_rng(1)


@pytest.fixture(scope="module")
def cnn_file(tmp_path_factory):
    """A CNN exported with a dynamic batch (dim_param 'batch') and a dynamic width."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(8, 5), nn.Softmax(-1)).eval()
    path = tmp_path_factory.mktemp("dyn") / "cnn.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(2, 3, 8, 8),), str(path), dynamo=False, opset_version=17,
                          input_names=["image"], dynamic_axes={"image": {0: "batch", 3: "width"}})
    return path


def test_bounds_as_pairs_run_at_every_size(cnn_file):
    bounds = {"image": {0: (1, 4), 3: (4, 16)}}
    for batch, width in ((4, 16), (1, 5), (3, 8)):
        program = check_against_oracles(cnn_file, [R.standard_normal((batch, 3, 8, width)).astype(np.float32)],
                                        oracles=("onnxruntime",), dynamic_shapes=bounds)
    meta = program.metadata
    assert {s["name"]: (s["min"], s["max"]) for s in meta["symbols"]} == {"batch": (1, 4), "width": (4, 16)}
    assert meta["inputs"][0]["shape"] == [4, 3, 8, 16]  # the plan's sizes: the maxima
    assert meta["outputs"][0]["dynamic"]["0"]["symbol"] == "batch"
    assert "batch 1..4" in program.summary()  # the arena at the minima, measured by the runtime's shape rules


def test_bounds_as_torch_dims(cnn_file):
    batch = torch.export.Dim("batch", min=1, max=3)
    feeds = [R.standard_normal((2, 3, 8, 8)).astype(np.float32)]
    program = check_against_oracles(cnn_file, feeds, oracles=("onnxruntime",), dynamic_shapes=[{0: batch, 3: (8, 8)}])
    assert program.metadata["symbols"][0]["max"] == 3


def test_open_dims_without_bounds_take_the_example_sizes(cnn_file):
    feeds = [R.standard_normal((2, 3, 8, 6)).astype(np.float32)]
    program = check_against_oracles(cnn_file, feeds, oracles=("onnxruntime",), example_inputs=feeds)
    assert "symbols" not in program.metadata and program.metadata["inputs"][0]["shape"] == [2, 3, 8, 6]


def test_missing_bounds_ask_for_them(cnn_file):
    with pytest.raises(errors.DynamicShapeError, match="'image' dim 0 is dynamic \\(batch\\)") as info:
        export_onnx(cnn_file)
    assert "dynamic_shapes" in info.value.hint and "--input-shape" in info.value.hint


def test_shape_read_as_data_is_a_clear_error(tmp_path):
    """Shape of a dynamic dim used as data (cast to float, added to activations): refused, naming the node."""
    path = tmp_path / "m.onnx"
    make_model([helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Cast", ["s"], ["y"], to=F, name="to_float")],
               [("x", F, ("n", 3))], [("y", F, (2,))], path=path)
    with pytest.raises(errors.DynamicShapeError, match="to_float.*dynamic dims"):
        export_onnx(path, dynamic_shapes={"x": {0: (1, 4)}})
    path = tmp_path / "m2.onnx"
    make_model([helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "i"], ["n"]),
                helper.make_node("Add", ["n", "x"], ["y"], name="add_size")],
               [("x", I64, ("n", 3))], [("y", I64, ("n", 3))], {"i": np.array(0, np.int64)}, path=path)
    with pytest.raises(errors.DynamicShapeError, match="add_size.*run-time data|add_size.*as data"):
        export_onnx(path, dynamic_shapes={"x": {0: (1, 4)}})


class SelfAttention(nn.Module):
    """Reshapes to heads computed from x.shape: the TorchScript exporter emits Shape -> Gather -> Concat -> Reshape."""

    def __init__(self):
        super().__init__()
        self.qkv, self.out, self.norm = nn.Linear(32, 96), nn.Linear(32, 32), nn.LayerNorm(32)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.norm(x)).split(32, dim=-1)
        q, k, v = (z.reshape(b, t, 4, 8).transpose(1, 2) for z in (q, k, v))
        a = torch.softmax(q @ k.transpose(-1, -2) / 8 ** 0.5, dim=-1) @ v
        return x + self.out(a.transpose(1, 2).reshape(b, t, c))


def test_shape_arithmetic_on_dynamic_batch_and_sequence(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "attention.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(SelfAttention().eval(), (torch.randn(2, 6, 32),), str(path), dynamo=False,
                          opset_version=17, input_names=["x"], dynamic_axes={"x": {0: "batch", 1: "seq"}})
    for b, t in ((2, 16), (1, 3)):
        check_against_oracles(path, [R.standard_normal((b, t, 32)).astype(np.float32)], oracles=("onnxruntime",),
                              dynamic_shapes={"x": {0: (1, 2), 1: (2, 16)}})


def test_reshape_keeps_the_symbol(tmp_path):
    path = tmp_path / "m.onnx"
    make_model([helper.make_node("Reshape", ["x", "s"], ["r"]), helper.make_node("Relu", ["r"], ["y"])],
               [("x", F, ("n", 2, 3))], [("y", F, None)], {"s": np.array([-1, 6], np.int64)}, path=path)
    for n in (1, 5):
        check_against_oracles(path, [R.standard_normal((n, 2, 3)).astype(np.float32)],
                              dynamic_shapes={"x": {0: (1, 5)}})
