"""Model files -> Programs: `pockettorch.export("model.pt" | "model.onnx", example_inputs)` and the CLI.

The suffix picks the frontend; the first bytes are checked against it, so a file whose suffix lies fails with an
error that says what the file is instead of a parser's message.
"""
from __future__ import annotations

import os

from pockettorch.runtime import error_catalogue as errors

TORCHSCRIPT_SUFFIXES = (".pt", ".pth", ".ts", ".jit", ".torchscript")
ONNX_SUFFIXES = (".onnx",)
SUFFIXES = TORCHSCRIPT_SUFFIXES + ONNX_SUFFIXES


def is_model_file(spec) -> bool:
    """Whether `spec` (a CLI argument or a path) names a model file by its suffix."""
    return isinstance(spec, (str, os.PathLike)) and os.fspath(spec).lower().endswith(SUFFIXES)


def sniff(path: str) -> str:
    """What the file's first bytes say it is: 'zip' (TorchScript and torch.save), 'pickle', 'onnx' (a protobuf
    whose first field is ModelProto's ir_version), 'ptm' or 'unknown'."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    if head[:4] == b"PKTM":
        return "ptm"
    if head[:1] == b"\x08" and len(head) > 1 and head[1] < 0x80:  # field 1 (ir_version), varint, a small number
        return "onnx"
    return "unknown"


_WHAT = {"zip": "a zip archive (TorchScript or torch.save)", "pickle": "a pickle (torch.save)",
         "onnx": "an ONNX model", "ptm": "a PocketTorch program (.ptm)", "unknown": "neither TorchScript nor ONNX"}


def export_file(path, example_inputs=None, name: str | None = None, metadata: dict | None = None,
                dynamic_shapes=None, reference: bool = False, quantization=None, backends=None,
                backend_options=None):
    """Export the TorchScript (.pt, .pth, .ts) or ONNX (.onnx) model at `path` to a Program.

    quantization, backends and backend_options as for pockettorch.export: a TorchScript file becomes a torch.export
    program and takes every scheme; an ONNX file takes them as exporter/onnx_frontend/quantize.py says."""
    options = dict(quantization=quantization, backends=backends, backend_options=backend_options)
    path = os.fspath(path)
    if not os.path.exists(path):
        raise errors.IoError(f"no such file: {path}")
    if os.path.isdir(path):
        raise errors.IoError(f"{path} is a directory, not a model file")
    suffix = os.path.splitext(path)[1].lower()
    found = sniff(path)
    label = os.path.basename(path)
    if suffix in ONNX_SUFFIXES:
        if found in ("zip", "pickle", "ptm"):
            raise errors.BadModelArgsError(f"{label} is named .onnx but is {_WHAT[found]}",
                                           hint="rename it to what it is (.pt for TorchScript)")
        return _export_onnx(path, example_inputs, name, metadata, dynamic_shapes, reference, options)
    if suffix in TORCHSCRIPT_SUFFIXES:
        if found == "onnx":
            raise errors.BadModelArgsError(f"{label} is named {suffix} but looks like {_WHAT[found]}",
                                           hint="rename it to .onnx")
        if found == "ptm":
            raise errors.BadModelArgsError(f"{label} is already {_WHAT[found]}",
                                           hint="load it with pockettorch.load or `pockettorch run`")
        if example_inputs is None:
            raise errors.BadModelArgsError(f"{label}: TorchScript files carry no input shapes; pass example_inputs",
                                           hint="pockettorch export model.pt --input-shape x:1,3,224,224")
        from pockettorch.exporter.torchscript_frontend import export_torchscript

        return export_torchscript(path, example_inputs, name=name, metadata=metadata, dynamic_shapes=dynamic_shapes,
                                  reference=reference, **options)
    raise errors.BadModelArgsError(f"{label}: unknown model file type {suffix or '(no suffix)'}",
                                   hint=f"PocketTorch imports {', '.join(SUFFIXES)} files")


def _export_onnx(path, example_inputs, name, metadata, dynamic_shapes, reference, options):
    try:
        from pockettorch.exporter.onnx_frontend import export_onnx
    except ImportError as exc:
        if "onnx_frontend" not in str(exc):
            raise errors.NotSupportedError(f"the ONNX frontend needs a package that is not installed: {exc}",
                                           hint="pip install -e '.[test]' (onnx)") from None
        raise errors.NotSupportedError("ONNX import is not available in this build of PocketTorch",
                                       hint="export the model to TorchScript, or use a build with the ONNX frontend") \
            from None
    if reference:
        raise errors.NotSupportedError("--reference is not available for ONNX models yet",
                                       hint="export without --reference; compare with onnxruntime instead")
    return export_onnx(path, example_inputs=example_inputs, name=name, metadata=metadata,
                       dynamic_shapes=dynamic_shapes, **options)
