"""Read an ONNX file as untrusted input: parse, refuse external data outside the model's folder, check, infer shapes.

Every failure is a PocketTorchError naming the file; onnx's own exceptions never reach the caller.
"""
from __future__ import annotations

import os

import onnx
from onnx import external_data_helper

from pockettorch.runtime import error_catalogue as errors

MIN_OPSET, MAX_OPSET = 13, 21


def _check_external_data(model: onnx.ModelProto, folder: str, path: str) -> None:
    """Each external tensor's `location` must name a file inside the model's folder (no absolute paths, no ..)."""
    root = os.path.realpath(folder)
    for tensor in external_data_helper._get_all_tensors(model):
        if not external_data_helper.uses_external_data(tensor):
            continue
        info = {e.key: e.value for e in tensor.external_data}
        location = info.get("location", "")
        target = os.path.realpath(os.path.join(root, location))
        if not location or os.path.isabs(location) or os.path.commonpath([root, target]) != root:
            raise invalid(
                f"{path}: initializer {tensor.name!r} points at external data {location!r} outside the model's "
                f"folder; refusing to read it", hint="Keep external data files next to the .onnx file.")
        if not os.path.isfile(target):
            raise errors.IoError(f"{path}: external data file {location!r} of initializer {tensor.name!r} is missing")


def load_model(path: str) -> onnx.ModelProto:
    """The checked model, external data loaded."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise errors.IoError(f"could not read {path}: {exc.strerror or exc}") from None
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf DecodeError and friends: a truncated or foreign file
        raise invalid(f"{path} is not a readable ONNX model ({type(exc).__name__}: {exc})",
                                       hint="Check that the file is complete and is an ONNX ModelProto.") from None
    if not model.HasField("graph") or not model.opset_import:
        raise invalid(f"{path} is not an ONNX model (no graph or no opset)")
    folder = os.path.dirname(os.path.abspath(path))
    _check_external_data(model, folder, path)
    try:
        external_data_helper.load_external_data_for_model(model, folder)
    except Exception as exc:
        raise errors.IoError(f"{path}: could not load external data ({exc})") from None
    opset = default_opset(model)
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise errors.UnsupportedVersionError(
            f"{path} uses ONNX opset {opset}; PocketTorch imports opsets {MIN_OPSET} to {MAX_OPSET}",
            hint="Convert it with onnx.version_converter.convert_version(model, 17).")
    try:
        onnx.checker.check_model(model, full_check=False)
    except Exception as exc:  # ValidationError: wrong types, cycles, undefined inputs...
        raise _invalid(path, exc) from None
    return model


def infer_shapes(model: onnx.ModelProto, path: str) -> onnx.ModelProto:
    """Shapes and types of every value (the inputs' dims already fixed or named after their symbols)."""
    try:
        return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except Exception as exc:  # InferenceError: mismatched types or shapes
        raise _invalid(path, exc) from None


def invalid(message: str, hint: str = "The ONNX file or the arguments given with it are not usable; the message "
                                      "says which part.") -> errors.BadModelArgsError:
    return errors.BadModelArgsError(message, hint=hint)


def _invalid(path: str, exc: Exception) -> errors.BadModelArgsError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return invalid(f"{path} is not a valid ONNX model: {first}",
                                    hint="onnx.checker.check_model(model, full_check=True) shows the full report.")


def default_opset(model: onnx.ModelProto) -> int:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    raise invalid("the model imports no version of the default ONNX domain")
