"""Static int8 of a float ONNX file (`quant.int8(calibration)` / `--quantize int8 --calibration cal.npz`).

ONNX Runtime's quantizer does what torchao's PT2E flow does for a PyTorch model: it runs the calibration batches,
observes each activation's range and writes a QDQ model (int8 activations asymmetric per tensor, int8 weights
symmetric per output channel: the scheme PocketTorch's int8 ops run). That QDQ model then imports as any QDQ file
does (ops_quant.py), so the program is the one ONNX Runtime's own QDQ file describes. `skip` names ONNX nodes (or
a prefix ending at '/' or '.') that stay float.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np
import onnx

from pockettorch.runtime import error_catalogue as errors


def _batches(calibration, names: list[str]) -> list[dict[str, np.ndarray]]:
    out = []
    for i, batch in enumerate(calibration):
        if isinstance(batch, dict):
            unknown = sorted(set(batch) - set(names))
            if unknown or len(batch) != len(names):
                raise errors.BadModelArgsError(f"calibration batch {i} names {sorted(batch)}; the model's inputs are "
                                               f"{names}", hint="one array per model input, by its name")
            items = [batch[n] for n in names]
        else:
            items = list(batch) if isinstance(batch, (tuple, list)) else [batch]
            if len(items) != len(names):
                raise errors.BadModelArgsError(f"calibration batch {i} has {len(items)} arrays; the model takes "
                                               f"{len(names)} inputs ({', '.join(names)})",
                                               hint="one array per model input, in order, or a dict by input name")
        arrays = [np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v) for v in items]
        out.append({n: a.astype(np.float32) if a.dtype == np.float64 else a for n, a in zip(names, arrays)})
    if not out:
        raise errors.BadModelArgsError("static int8 of an ONNX file needs calibration data",
                                       hint="quant.int8([batch, ...]) in the API; --calibration cal.npz (or "
                                            "--input / --input-shape, calibrating on the example) on the CLI")
    return out


def _excluded(model: onnx.ModelProto, skip) -> list[str]:
    names = [n.name for n in model.graph.node if n.name]
    out = [n for n in names if any(n == s or n.startswith(s + "/") or n.startswith(s + ".") for s in skip)]
    missing = [s for s in skip if not any(n == s or n.startswith(s + "/") or n.startswith(s + ".") for n in names)]
    if missing:
        raise errors.BadModelArgsError(f"skip names {missing}, which are no ONNX node names of this model",
                                       hint="node names of this model: " + ", ".join(names[:8]) +
                                            (", ..." if len(names) > 8 else ""))
    return out


def quantize_file(path: str, calibration, skip, workdir: str) -> str:
    """Write the QDQ form of the float model at `path` into `workdir`; returns its path."""
    try:
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    except ImportError:
        raise errors.NotSupportedError("static int8 of a float ONNX file uses onnxruntime's quantizer, which is not "
                                       "installed", hint="pip install onnxruntime, or quantize the file yourself "
                                                         "(QDQ format) and import that") from None
    model = onnx.load(path, load_external_data=False)
    initializers = {i.name for i in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in initializers]
    batches = _batches(calibration, names)
    excluded = _excluded(model, skip)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(batches)

        def get_next(self):
            return next(self._it, None)

    out = os.path.join(workdir, os.path.basename(path))
    try:
        quantize_static(path, out, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, nodes_to_exclude=excluded)
    except errors.PocketTorchError:
        raise
    except Exception as exc:  # noqa: BLE001 - onnxruntime's quantizer raises many types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise errors.ExportFailedError(f"onnxruntime's quantize_static failed: {type(exc).__name__}: {first}",
                                       hint="check the calibration batches' shapes and dtypes") from exc
    return out


def temporary_directory():
    return tempfile.TemporaryDirectory(prefix="pockettorch-qdq-")
