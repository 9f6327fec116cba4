"""Malformed and hostile ONNX files, and models PocketTorch cannot take: each is a clear PocketTorchError (never a
crash or a raw onnx/protobuf exception), naming what is wrong."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnx_support import F, make_model
from pockettorch.exporter.onnx_frontend import export_onnx
from pockettorch.runtime import error_catalogue as errors

N = helper.make_node


def _relu_model(path, opset=17):
    return make_model([N("Add", ["x", "b"], ["s"]), N("Relu", ["s"], ["y"], name="act")], [("x", F, (2, 3))],
                      [("y", F, (2, 3))], {"b": np.ones(3, np.float32)}, opset, path)


def test_truncated_file(tmp_path):
    path = tmp_path / "m.onnx"
    _relu_model(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(errors.BadModelArgsError, match="not a readable ONNX model|not a valid ONNX model|not an ONNX"):
        export_onnx(path)


def test_not_onnx_at_all(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(errors.PocketTorchError):
        export_onnx(path)


def test_missing_file(tmp_path):
    with pytest.raises(errors.IoError):
        export_onnx(tmp_path / "absent.onnx")


def test_wrong_types(tmp_path):
    """Add of a float and an int64 tensor: the type checker's error, as a PocketTorchError."""
    path = tmp_path / "m.onnx"
    make_model([N("Add", ["x", "i"], ["y"])], [("x", F, (2,)), ("i", TensorProto.INT64, (2,))], [("y", F, (2,))],
               path=path)
    with pytest.raises(errors.BadModelArgsError, match="not a valid ONNX model"):
        export_onnx(path)


def test_graph_cycle(tmp_path):
    path = tmp_path / "m.onnx"
    make_model([N("Add", ["x", "b"], ["a"]), N("Relu", ["a"], ["b"])], [("x", F, (2,))], [("b", F, (2,))], path=path)
    with pytest.raises(errors.BadModelArgsError, match="not a valid ONNX model"):
        export_onnx(path)


def test_missing_initializer(tmp_path):
    """The node reads 'w', which nothing defines (an initializer dropped from the file)."""
    model = make_model([N("MatMul", ["x", "w"], ["y"])], [("x", F, (2, 3))], [("y", F, (2, 4))],
                       {"w": np.ones((3, 4), np.float32)})
    del model.graph.initializer[:]
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    with pytest.raises(errors.BadModelArgsError, match="'w'"):
        export_onnx(path)


def _external(tmp_path, location: str):
    model = _relu_model(None)
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "12")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    path = tmp_path / "model" / "m.onnx"
    path.parent.mkdir(exist_ok=True)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "sub/../../secret.bin"])
def test_external_data_outside_the_folder_is_refused(tmp_path, location):
    (tmp_path / "secret.bin").write_bytes(np.ones(3, np.float32).tobytes())
    path = _external(tmp_path, location)
    with pytest.raises(errors.BadModelArgsError, match="outside the model's folder"):
        export_onnx(path)


def test_external_data_missing(tmp_path):
    with pytest.raises(errors.IoError, match="missing"):
        export_onnx(_external(tmp_path, "weights.bin"))


def test_external_data_next_to_the_model_loads(tmp_path):
    """The supported case: onnx.save with save_as_external_data, the data file beside the model."""
    model = make_model([N("MatMul", ["x", "w"], ["y"])], [("x", F, (2, 64))], [("y", F, (2, 32))],
                       {"w": np.arange(64 * 32, dtype=np.float32).reshape(64, 32) / 1000})
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path), save_as_external_data=True, location="m.weights", size_threshold=0)
    assert (tmp_path / "m.weights").exists()
    from onnx_support import check_against_oracles
    check_against_oracles(path, [np.ones((2, 64), np.float32)])


def test_unsupported_node_names_node_op_and_opset(tmp_path):
    path = tmp_path / "m.onnx"
    make_model([N("Det", ["x"], ["y"], name="determinant_3")], [("x", F, (3, 3))], [("y", F, ())], opset=17,
               path=path)
    with pytest.raises(errors.UnsupportedOpError, match=r"determinant_3.*Det.*opset 17") as info:
        export_onnx(path)
    assert "docs/ONNX.md" in info.value.hint


def test_unsupported_form_of_a_supported_op(tmp_path):
    path = tmp_path / "m.onnx"
    make_model([N("Resize", ["x", "", "s"], ["y"], mode="linear", coordinate_transformation_mode="tf_crop_and_resize",
                  name="rs")], [("x", F, (1, 1, 2, 2))], [("y", F, (1, 1, 4, 4))],
               {"s": np.array([1, 1, 2, 2], np.float32)}, path=path)
    with pytest.raises(errors.UnsupportedOpError, match=r"'rs' \(Resize, opset 17\).*tf_crop_and_resize"):
        export_onnx(path)


def test_opset_out_of_range(tmp_path):
    path = tmp_path / "m.onnx"
    _relu_model(path, opset=11)
    with pytest.raises(errors.UnsupportedVersionError, match="opset 11"):
        export_onnx(path)


def test_runtime_int8_is_refused(tmp_path):
    """A DequantizeLinear of an int8 graph input needs the int8 ops: refused, naming the node."""
    path = tmp_path / "m.onnx"
    make_model([N("DequantizeLinear", ["q", "s"], ["y"], name="dq")], [("q", TensorProto.INT8, (4,))],
               [("y", F, (4,))], {"s": np.float32(0.1)}, opset=19, path=path)
    with pytest.raises(errors.UnsupportedOpError, match="'dq'.*int8"):
        export_onnx(path)


def test_example_input_of_wrong_shape(tmp_path):
    path = tmp_path / "m.onnx"
    _relu_model(path)
    with pytest.raises(errors.BadModelArgsError, match="fixes it to 3"):
        export_onnx(path, example_inputs=(np.zeros((2, 4), np.float32),))


def test_bad_dynamic_bounds(tmp_path):
    path = tmp_path / "m.onnx"
    make_model([N("Relu", ["x"], ["y"])], [("x", F, ("batch", 3))], [("y", F, ("batch", 3))], path=path)
    with pytest.raises(errors.BadModelArgsError, match="1 <= min <= max"):
        export_onnx(path, dynamic_shapes={"x": {0: (4, 2)}})
    with pytest.raises(errors.BadModelArgsError, match="not inputs of the model"):
        export_onnx(path, dynamic_shapes={"z": {0: (1, 2)}})


def test_corrupted_bytes_never_crash(tmp_path):
    """Bytes of a valid model flipped at seeded random places: each import succeeds or raises a PocketTorchError."""
    path = tmp_path / "m.onnx"
    make_model([N("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), N("Relu", ["c"], ["r"]),
                N("Reshape", ["r", "s"], ["y"])], [("x", F, (1, 2, 4, 4))], [("y", F, (1, 48))],
               {"w": np.ones((3, 2, 3, 3), np.float32), "s": np.array([1, -1], np.int64)}, path=path)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    for trial in range(40):
        broken = bytearray(data)
        for at in rng.integers(0, len(broken), 3):
            broken[at] = int(rng.integers(0, 256))
        path.write_bytes(bytes(broken))
        try:
            export_onnx(path)
        except errors.PocketTorchError:
            pass


def test_hostile_producer_is_recorded_short(tmp_path):
    model = _relu_model(None)
    model.producer_name, model.producer_version = "x" * 5000, "\x1b[2J"
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    source = export_onnx(path).metadata["source"]
    assert len(source["producer"]) <= 256 and source["format"] == "onnx" and source["file"] == "m.onnx"
