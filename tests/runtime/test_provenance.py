"""METADATA "source" comes from a model file: checked before anything shows it, shown escaped."""
import pytest

from pockettorch.runtime import error_catalogue as errors
from pockettorch.runtime.provenance import describe, source_of


def test_sources_described():
    assert describe(source_of({"source": {"format": "pytorch"}})) == "PyTorch"
    assert describe(source_of({"source": {"format": "torchscript", "file": "m.pt"}})) == "TorchScript (m.pt)"
    onnx = {"format": "onnx", "file": "m.onnx", "opset": 17, "producer": "pytorch 2.13"}
    assert describe(source_of({"source": onnx})) == "ONNX opset 17 from pytorch 2.13 (m.onnx)"
    assert describe(source_of({})) == "not recorded"
    assert describe({"format": "onnx", "file": "a\x1b[2Jb"}) == "ONNX (a\\x1b[2Jb)"  # no terminal control


@pytest.mark.parametrize("source", [
    "onnx", {"format": "tflite"}, {"format": "onnx", "opset": "17"}, {"format": "onnx", "opset": True},
    {"format": "onnx", "file": 3}, {"format": "onnx", "producer": "x" * 300}, [],
])
def test_malformed_sources_are_refused(source):
    with pytest.raises(errors.BadMetadataError):
        source_of({"source": source})
