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

from onnx_support import F, check_against_oracles, make_model
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


def test_shape_read_as_a_value_is_a_clear_error(tmp_path):
    """Shape of a dynamic dim feeding arithmetic: PocketTorch needs shapes that fold to constants."""
    path = tmp_path / "m.onnx"
    make_model([helper.make_node("Shape", ["x"], ["s"], name="shape_of_x"), helper.make_node("Cast", ["s"], ["y"], to=F)],
               [("x", F, ("n", 3))], [("y", F, (2,))], path=path)
    with pytest.raises(errors.DynamicShapeError, match="shape_of_x.*dynamic dim"):
        export_onnx(path, dynamic_shapes={"x": {0: (1, 4)}})


def test_reshape_keeps_the_symbol(tmp_path):
    path = tmp_path / "m.onnx"
    make_model([helper.make_node("Reshape", ["x", "s"], ["r"]), helper.make_node("Relu", ["r"], ["y"])],
               [("x", F, ("n", 2, 3))], [("y", F, None)], {"s": np.array([-1, 6], np.int64)}, path=path)
    for n in (1, 5):
        check_against_oracles(path, [R.standard_normal((n, 2, 3)).astype(np.float32)],
                              dynamic_shapes={"x": {0: (1, 5)}})
