"""`pockettorch export model.pt|model.onnx` with --input-shape / --input / --dynamic, `inspect` showing where a
program came from, and the example-input parsing behind the options."""
import json

import numpy as np
import pytest
import torch

import pockettorch
from pockettorch import errors
from pockettorch.cli import main
from pockettorch.exporter.example_inputs import example_inputs, parse_input_file, parse_input_shape


class TwoInputs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(6, 3)

    def forward(self, tokens, ids):
        return self.fc(tokens) + ids.to(torch.float32).sum(-1, keepdim=True)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    torch.manual_seed(0)
    model = TwoInputs().eval()
    path = tmp_path_factory.mktemp("ts") / "two_inputs.pt"
    torch.jit.save(torch.jit.script(model), str(path))
    return model, path


def test_export_with_input_shapes_and_inspect_shows_the_source(model_file, tmp_path, capsys):
    model, path = model_file
    out = tmp_path / "m.ptm"
    assert main(["export", str(path), "--out", str(out), "--input-shape", "ids:2,4:int64",
                 "--input-shape", "tokens:2,6"]) == 0
    assert "source:  TorchScript (two_inputs.pt)" in capsys.readouterr().out
    assert main(["inspect", str(out)]) == 0
    assert "source: TorchScript (two_inputs.pt)" in capsys.readouterr().out
    assert main(["inspect", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["source"] == {"format": "torchscript", "file": "two_inputs.pt"}
    assert [(i["name"], i["dtype"], i["shape"]) for i in info["inputs"]] == [
        ("tokens", "float32", [2, 6]), ("ids", "int64", [2, 4])]
    tokens, ids = torch.randn(2, 6), torch.randint(0, 9, (2, 4))
    with pockettorch.load(out) as runtime:
        torch.testing.assert_close(runtime(tokens, ids), model(tokens, ids), rtol=1e-5, atol=1e-5)


def test_export_with_npy_inputs_and_dynamic_dim(model_file, tmp_path):
    model, path = model_file
    np.save(tmp_path / "tokens.npy", np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32))
    np.save(tmp_path / "ids.npy", np.arange(12, dtype=np.int64).reshape(3, 4))
    out = tmp_path / "m.ptm"
    assert main(["export", str(path), "--out", str(out), "--quiet", "--input", f"tokens={tmp_path / 'tokens.npy'}",
                 "--input", f"ids={tmp_path / 'ids.npy'}", "--dynamic", "tokens:0=1..8:batch",
                 "--dynamic", "ids:0=1..8:batch"]) == 0
    with pockettorch.load(out) as runtime:
        assert runtime.input_specs[0].ranges == {0: ("batch", 1, 8)}
        tokens, ids = torch.randn(5, 6), torch.randint(0, 9, (5, 4))
        torch.testing.assert_close(runtime(tokens, ids), model(tokens, ids), rtol=1e-5, atol=1e-5)


def test_positional_inputs(model_file, tmp_path):
    _, path = model_file
    assert main(["export", str(path), "--out", str(tmp_path / "m.ptm"), "--quiet",
                 "--input-shape", "2,6", "--input-shape", "2,4:int32"]) == 0


@pytest.mark.parametrize("args,expected", [
    ([], "carry no input shapes"),
    (["--input-shape", "tokens:2,x"], "expected NAME:D0,D1"),
    (["--input-shape", "tokens:2,6:complex64"], "unknown dtype"),
    (["--input-shape", "tokens:2,6", "--input-shape", "2,4"], "name every input"),
    (["--input-shape", "tokens:2,6", "--input-shape", "tokens:2,6"], "given twice"),
    (["--input-shape", "tokens:2,6", "--input-shape", "nope:2,4"], "not inputs of the model"),
    (["--input", "tokens=absent.npy"], "no such file"),
], ids=["none", "bad-dim", "bad-dtype", "mixed", "twice", "unknown", "missing-npy"])
def test_input_option_errors_are_one_line(args, expected, model_file, tmp_path, capsys):
    _, path = model_file
    assert main(["export", str(path), "--out", str(tmp_path / "m.ptm"), *args]) == 1
    err = capsys.readouterr().err
    assert expected in err and "PKT_" in err and "Traceback" not in err


def test_input_options_refused_for_builders(tmp_path, capsys):
    assert main(["export", "zoo:mlp", "--out", str(tmp_path / "m.ptm"), "--input-shape", "x:1,784"]) == 2
    assert "only for model files" in capsys.readouterr().err


def test_onnx_file_goes_to_the_onnx_frontend_or_says_it_is_missing(tmp_path, capsys):
    """Until the ONNX frontend is in the build, a real .onnx file gets a clear NOT_SUPPORTED."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    path = tmp_path / "relu.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    try:
        import pockettorch.exporter.onnx_frontend  # noqa: F401
    except ImportError:
        assert main(["export", str(path), "--out", str(tmp_path / "m.ptm")]) == 1
        assert "ONNX import is not available in this build" in capsys.readouterr().err
        return
    out = tmp_path / "m.ptm"
    assert main(["export", str(path), "--out", str(out), "--quiet"]) == 0
    with pockettorch.load(out) as runtime:
        assert runtime.source["format"] == "onnx" and runtime.source["opset"] == 17


def test_parse_input_shape_and_file(tmp_path):
    assert parse_input_shape("x:1,3,224,224") == ("x", (1, 3, 224, 224), "float32")
    assert parse_input_shape("ids:1,128:int64") == ("ids", (1, 128), "int64")
    assert parse_input_shape("4,5") == (None, (4, 5), "float32")
    assert parse_input_shape("t:scalar") == ("t", (), "float32")
    for bad in ("x:0,3", "x:", "x:1,,2", "x:99999,99999,99999"):
        with pytest.raises(errors.BadModelArgsError):
            parse_input_shape(bad)
    np.save(tmp_path / "a.npy", np.ones((2, 2)))  # float64: numpy's default, taken as float32
    name, array = parse_input_file(f"a={tmp_path / 'a.npy'}")
    assert name == "a" and array.dtype == np.float32
    np.save(tmp_path / "o.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(errors.BadModelArgsError, match="object arrays are not read"):
        parse_input_file(str(tmp_path / "o.npy"))


def test_random_example_inputs_are_deterministic():
    a = example_inputs(("x:2,3", "ids:4:int64"))
    b = example_inputs(("x:2,3", "ids:4:int64"))
    assert np.array_equal(a["x"], b["x"]) and a["x"].dtype == np.float32
    assert a["ids"].dtype == np.int64 and not a["ids"].any()
    assert isinstance(example_inputs(("2,3",)), tuple)


def test_python_api_takes_a_path_and_sets_the_source(model_file):
    model, path = model_file
    inputs = (torch.randn(2, 6), torch.zeros(2, 4, dtype=torch.int64))
    program = pockettorch.export(path, inputs)
    assert program.metadata["source"]["format"] == "torchscript"
    assert pockettorch.export(model, inputs).metadata["source"] == {"format": "pytorch"}
    assert "source:  PyTorch" in pockettorch.export(model, inputs).summary()
