"""The error catalogue: one table that every language's error type is generated from.

Codes are grouped in ranges (general 1-15, program loading 16-47, execution 48-63, export 64-95, devices 96-127)
so a number alone tells where a failure happened. The C `pkt_status` enum and strings
(`runtime/include/pockettorch/status.h`, `runtime/core/status.c`) are generated from this table by
`python -m pockettorch.runtime.codegen`; the Python exception classes below are built from it at import.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorSpec:
    code: int
    name: str  # UPPER_SNAKE; C: PKT_<NAME>, Python: <Camel>Error
    message: str  # what went wrong, one sentence
    hint: str  # how to fix it, one sentence


CATALOGUE: tuple[ErrorSpec, ...] = (
    ErrorSpec(0, "OK", "Success.", ""),
    # general
    ErrorSpec(1, "INTERNAL", "Internal error in PocketTorch.", "Please report this with the model file that triggers it."),
    ErrorSpec(2, "INVALID_ARGUMENT", "An argument passed to the API is invalid.", "Check the call against the API documentation."),
    ErrorSpec(3, "OUT_OF_MEMORY", "Memory allocation failed.", "Free memory, or supply a caller-owned arena large enough for the model."),
    ErrorSpec(4, "NOT_SUPPORTED", "The operation is not supported on this build or platform.", "Rebuild with the needed feature or use another target."),
    ErrorSpec(5, "IO", "Reading or writing a file failed.", "Check the path exists, is readable, and the disk is not full."),
    # program loading
    ErrorSpec(16, "BAD_MAGIC", "The file is not a PocketTorch program (bad magic bytes).", "Pass a .ptm file written by `pockettorch export`."),
    ErrorSpec(17, "UNSUPPORTED_VERSION", "The program's format version is newer than this runtime supports.", "Upgrade the runtime, or re-export the model with a matching PocketTorch version."),
    ErrorSpec(18, "TRUNCATED", "The program file is truncated.", "The file was cut short (interrupted copy or download); export or copy it again."),
    ErrorSpec(19, "BAD_SECTION", "The program's section table is invalid.", "The file is corrupt; export it again."),
    ErrorSpec(20, "BAD_OFFSET", "An offset or size in the program points outside its section.", "The file is corrupt; export it again."),
    ErrorSpec(21, "BAD_ALIGNMENT", "Program data is not aligned as the format requires.", "Load from a 64-byte aligned buffer, or export the file again."),
    ErrorSpec(22, "BAD_DTYPE", "A tensor has an unknown or unsupported dtype.", "Re-export the model; only dtypes listed in FORMAT.md are supported."),
    ErrorSpec(23, "BAD_SHAPE", "A tensor has an invalid shape (negative dimension, rank too large or size overflow).", "The file is corrupt or the model exceeds runtime limits; export it again."),
    ErrorSpec(24, "BAD_TENSOR_INDEX", "An instruction refers to a tensor that does not exist.", "The file is corrupt; export it again."),
    ErrorSpec(25, "UNKNOWN_OP", "The program uses an operator this runtime does not know.", "Upgrade the runtime, or re-export with the runtime's PocketTorch version."),
    ErrorSpec(26, "BAD_OPERANDS", "An instruction's operands do not match what its operator expects.", "The file is corrupt or was written by an incompatible exporter; export it again."),
    ErrorSpec(27, "BAD_PARAMS", "An instruction's parameters are invalid.", "The file is corrupt or was written by an incompatible exporter; export it again."),
    ErrorSpec(28, "BAD_METADATA", "The program's metadata is invalid.", "The file is corrupt; export it again."),
    ErrorSpec(29, "BAD_IO", "The program's inputs or outputs are invalid.", "The file is corrupt; export it again."),
    ErrorSpec(30, "KERNEL_NOT_BUILT", "The operator's kernel was left out of this build (selective build).", "Regenerate the SDK for this model so its kernels are included."),
    # execution
    ErrorSpec(48, "INPUT_COUNT", "Wrong number of inputs.", "Pass exactly the inputs listed in the model's input specs."),
    ErrorSpec(49, "INPUT_SHAPE", "An input has the wrong shape.", "Reshape the input to the shape recorded at export (see `pockettorch inspect`)."),
    ErrorSpec(50, "INPUT_DTYPE", "An input has the wrong dtype.", "Convert the input to the dtype recorded at export (see `pockettorch inspect`)."),
    ErrorSpec(51, "ARENA_TOO_SMALL", "The supplied arena is smaller than the program's planned arena.", "Allocate at least the planned arena size reported by `pockettorch inspect`."),
    ErrorSpec(52, "INDEX_OUT_OF_RANGE", "An index tensor holds a value outside the indexed dimension.", "Check the index inputs (e.g. token ids) are within the model's range."),
    ErrorSpec(53, "BUSY", "The model was called while a call on it was still running.", "An embedded model has no lock: do not call it from an interrupt or a second thread while it runs; wait for the call to return, or use one model per caller."),
    # export
    ErrorSpec(64, "UNSUPPORTED_OP", "The model uses an operator PocketTorch cannot lower.", "Replace the operator in the model or open an issue naming it."),
    ErrorSpec(65, "EXPORT_FAILED", "torch.export could not capture the model.", "Make the model traceable by torch.export (see the error above for the failing line)."),
    ErrorSpec(66, "DYNAMIC_SHAPE", "The model has a data-dependent or dynamic shape.", "PocketTorch programs have static shapes; export with fixed-size example inputs."),
    ErrorSpec(67, "BAD_MODEL_ARGS", "The model or its example inputs are not usable for export.", "Pass an nn.Module and a tuple of example tensors."),
    # devices
    ErrorSpec(96, "DEVICE_NOT_FOUND", "No device with that serial is connected.", "Run `pockettorch devices` to list the devices that exist."),
    ErrorSpec(97, "DEVICE_DISCONNECTED", "The device disconnected during the operation.", "Reconnect the device (check the cable or network) and run the command again."),
    ErrorSpec(98, "DEVICE_TIMEOUT", "A device command did not finish within its timeout.", "Raise the timeout, or check the device is responsive."),
    ErrorSpec(99, "DEVICE_COMMAND_FAILED", "A command on the device failed.", "Read the command's output in the error for the cause."),
    ErrorSpec(100, "DEVICE_STORAGE_FULL", "The device has no space left.", "Free space on the device (e.g. /data/local/tmp) and try again."),
    ErrorSpec(101, "DEVICE_TOOL_MISSING", "A tool the device backend needs is not installed.", "Install the tool named in the error."),
    ErrorSpec(102, "VERIFICATION_FAILED", "The model's outputs on the device differ from the reference.", "Compare the per-output errors in the report; check the runtime version on the device."),
)

BY_CODE = {e.code: e for e in CATALOGUE}
BY_NAME = {e.name: e for e in CATALOGUE}


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


class PocketTorchError(Exception):
    """Base of every PocketTorch error; carries the catalogue code, name and hint."""

    code = 1
    status_name = "INTERNAL"
    hint = ""

    def __init__(self, detail: str = "", hint: str | None = None, **context):
        spec = BY_CODE[self.code]
        self.detail = detail
        self.context = context  # e.g. command, output, exit_code, serial for device errors
        for key, value in context.items():
            setattr(self, key, value)
        if hint is not None:
            self.hint = hint
        text = detail or spec.message
        super().__init__(f"{text} (PKT_{spec.name}; hint: {self.hint})" if self.hint else text)


def _make_classes() -> dict[str, type[PocketTorchError]]:
    classes = {}
    for spec in CATALOGUE:
        if spec.code == 0:
            continue
        cls_name = _camel(spec.name) + "Error"
        classes[cls_name] = type(cls_name, (PocketTorchError,), {
            "code": spec.code, "status_name": spec.name, "hint": spec.hint,
            "__doc__": spec.message, "__module__": __name__,
        })
    return classes


_CLASSES = _make_classes()
globals().update(_CLASSES)
__all__ = ["ErrorSpec", "CATALOGUE", "PocketTorchError", "error_for_code", *_CLASSES]


def error_for_code(code: int, detail: str = "") -> PocketTorchError:
    """The exception for a C status code (unknown codes map to InternalError)."""
    spec = BY_CODE.get(code, BY_CODE[1])
    return _CLASSES[_camel(spec.name) + "Error"](detail or spec.message)
