"""Where a program came from: METADATA "source" (FORMAT.md), written by the exporter, read by `inspect` and
Program.summary(). The field comes from a model file, so it is checked before anything shows it.

    {"format": "pytorch" | "torchscript" | "onnx", "file": "model.onnx", "opset": 17, "producer": "pytorch 2.13"}
"""
from __future__ import annotations

from pockettorch.runtime import error_catalogue as errors

FORMATS = {"pytorch": "PyTorch", "torchscript": "TorchScript", "onnx": "ONNX"}
MAX_TEXT = 256


def source_of(metadata: dict, label: str = "program") -> dict | None:
    """The checked "source" entry of a program's metadata (None for programs written before it existed)."""
    source = metadata.get("source")
    if source is None:
        return None
    if not isinstance(source, dict) or source.get("format") not in FORMATS:
        raise errors.BadMetadataError(f"{label}: metadata source must be an object with format one of "
                                      f"{', '.join(FORMATS)}")
    for key in ("file", "producer"):
        if key in source and not (isinstance(source[key], str) and len(source[key]) <= MAX_TEXT):
            raise errors.BadMetadataError(f"{label}: metadata source {key} must be a string of at most {MAX_TEXT} "
                                          "characters")
    opset = source.get("opset")
    if opset is not None and not (isinstance(opset, int) and not isinstance(opset, bool) and 0 <= opset < 1000):
        raise errors.BadMetadataError(f"{label}: metadata source opset must be an integer")
    return source


def describe(source: dict | None) -> str:
    """'TorchScript (model.pt)', 'ONNX opset 17 from pytorch 2.13 (model.onnx)', 'PyTorch'; printable only."""
    from pockettorch.runtime.run_outputs import printable  # the file name came from the user: shown safely

    if source is None:
        return "not recorded"
    text = FORMATS[source["format"]]
    if source.get("opset") is not None:
        text += f" opset {source['opset']}"
    if source.get("producer"):
        text += f" from {source['producer']}"
    if source.get("file"):
        text += f" ({source['file']})"
    return printable(text)
