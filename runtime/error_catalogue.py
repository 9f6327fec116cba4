"""The error catalogue: one table that every language's error type is generated from, and the Python exceptions.

It sits below every layer (runtime, exporter, devices, SDK generators all import it; it imports nothing of
PocketTorch); `pockettorch.errors` is its public face. Codes are grouped in ranges (general 1-15, program
loading 16-47, execution 48-63, export 64-95, devices 96-127) so a number alone tells where a failure happened.
The C `pkt_status` enum and strings (`runtime/include/pockettorch/status.h`, `runtime/core/status.c`) are
generated from this table by `python -m pockettorch.runtime.codegen`. Each Python exception class is declared
below so static tools see it; it names its code and takes its status name, hint and doc from the table
(`tests/runtime/test_error_catalogue.py` checks every entry has its class and every class its entry).
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


class PocketTorchError(Exception):
    """Base of every PocketTorch error; carries the catalogue code, name and hint."""

    code = 1
    status_name = "INTERNAL"
    hint = ""

    def __init_subclass__(cls, code: int | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if code is None:  # a narrower kind of a catalogue error (e.g. device/farm's LeaseHeld) keeps its code
            return
        if code in _CLASSES:
            raise TypeError(f"{cls.__name__} and {_CLASSES[code].__name__} both declare code {code}")
        spec = BY_CODE[code]
        cls.code, cls.status_name, cls.hint, cls.__doc__ = code, spec.name, spec.hint, spec.message
        _CLASSES[code] = cls

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


_CLASSES: dict[int, type[PocketTorchError]] = {}  # code -> the class declaring it


class InternalError(PocketTorchError, code=1):
    pass


class InvalidArgumentError(PocketTorchError, code=2):
    pass


class OutOfMemoryError(PocketTorchError, code=3):
    pass


class NotSupportedError(PocketTorchError, code=4):
    pass


class IoError(PocketTorchError, code=5):
    pass


class BadMagicError(PocketTorchError, code=16):
    pass


class UnsupportedVersionError(PocketTorchError, code=17):
    pass


class TruncatedError(PocketTorchError, code=18):
    pass


class BadSectionError(PocketTorchError, code=19):
    pass


class BadOffsetError(PocketTorchError, code=20):
    pass


class BadAlignmentError(PocketTorchError, code=21):
    pass


class BadDtypeError(PocketTorchError, code=22):
    pass


class BadShapeError(PocketTorchError, code=23):
    pass


class BadTensorIndexError(PocketTorchError, code=24):
    pass


class UnknownOpError(PocketTorchError, code=25):
    pass


class BadOperandsError(PocketTorchError, code=26):
    pass


class BadParamsError(PocketTorchError, code=27):
    pass


class BadMetadataError(PocketTorchError, code=28):
    pass


class BadIoError(PocketTorchError, code=29):
    pass


class KernelNotBuiltError(PocketTorchError, code=30):
    pass


class InputCountError(PocketTorchError, code=48):
    pass


class InputShapeError(PocketTorchError, code=49):
    pass


class InputDtypeError(PocketTorchError, code=50):
    pass


class ArenaTooSmallError(PocketTorchError, code=51):
    pass


class IndexOutOfRangeError(PocketTorchError, code=52):
    pass


class BusyError(PocketTorchError, code=53):
    pass


class UnsupportedOpError(PocketTorchError, code=64):
    pass


class ExportFailedError(PocketTorchError, code=65):
    pass


class DynamicShapeError(PocketTorchError, code=66):
    pass


class BadModelArgsError(PocketTorchError, code=67):
    pass


class DeviceNotFoundError(PocketTorchError, code=96):
    pass


class DeviceDisconnectedError(PocketTorchError, code=97):
    pass


class DeviceTimeoutError(PocketTorchError, code=98):
    pass


class DeviceCommandFailedError(PocketTorchError, code=99):
    pass


class DeviceStorageFullError(PocketTorchError, code=100):
    pass


class DeviceToolMissingError(PocketTorchError, code=101):
    pass


class VerificationFailedError(PocketTorchError, code=102):
    pass


def error_for_code(code: int, detail: str = "") -> PocketTorchError:
    """The exception for a C status code (unknown codes map to InternalError)."""
    cls = _CLASSES.get(code, InternalError)
    return cls(detail or BY_CODE[cls.code].message)


__all__ = ["ErrorSpec", "CATALOGUE", "BY_CODE", "BY_NAME", "PocketTorchError", "error_for_code", "InternalError",
           "InvalidArgumentError", "OutOfMemoryError", "NotSupportedError", "IoError", "BadMagicError",
           "UnsupportedVersionError", "TruncatedError", "BadSectionError", "BadOffsetError", "BadAlignmentError",
           "BadDtypeError", "BadShapeError", "BadTensorIndexError", "UnknownOpError", "BadOperandsError",
           "BadParamsError", "BadMetadataError", "BadIoError", "KernelNotBuiltError", "InputCountError",
           "InputShapeError", "InputDtypeError", "ArenaTooSmallError", "IndexOutOfRangeError", "BusyError",
           "UnsupportedOpError", "ExportFailedError", "DynamicShapeError", "BadModelArgsError",
           "DeviceNotFoundError", "DeviceDisconnectedError", "DeviceTimeoutError", "DeviceCommandFailedError",
           "DeviceStorageFullError", "DeviceToolMissingError", "VerificationFailedError"]
