"""Open a TorchScript file (torch.jit.save) as untrusted input.

The file is checked as a zip archive and as TorchScript's layout (`<root>/code/`, `<root>/constants.pkl`) before
torch.jit.load sees it. torch.jit.load's unpickler resolves only TorchScript's own types (never arbitrary Python
globals), and nothing here calls torch.load or pickle: a `torch.save` checkpoint (a pickle that may name any
Python callable) is recognised by its layout and refused unread.
"""
from __future__ import annotations

import os
import zipfile

from pockettorch.runtime import error_catalogue as errors

ZIP_MAGIC = b"PK\x03\x04"
PICKLE_PROTOCOL_2_TO_5 = tuple(bytes([0x80, p]) for p in range(2, 6))
HINT = "pass a file written by torch.jit.save (torch.jit.script or torch.jit.trace of the model)"


def kind_of_archive(names: list[str]) -> str:
    """'torchscript', 'torch.save', 'torch.export' or 'zip' from an archive's member names."""
    roots = {n.split("/", 1)[0] for n in names if "/" in n}
    def has(suffix: str) -> bool:
        return any(f"{r}/{suffix}" in names for r in roots)
    if any(n.split("/", 2)[1:2] == ["code"] for n in names if n.count("/") >= 2) and has("constants.pkl") \
            and has("data.pkl"):
        return "torchscript"
    if any(n.split("/", 2)[1:2] == ["archive_format"] for n in names) or any("/models/" in n for n in names):
        return "torch.export"
    if has("data.pkl"):
        return "torch.save"
    return "zip"


def check_torchscript_file(path: str) -> None:
    """Raise a clear error unless `path` holds a readable TorchScript archive (before torch parses it)."""
    label = os.path.basename(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4)
        if head[:4] != ZIP_MAGIC:
            if head[:2] in PICKLE_PROTOCOL_2_TO_5:
                raise errors.BadModelArgsError(
                    f"{label} is a legacy torch.save pickle, not TorchScript; it is not unpickled (it could run code)",
                    hint="load the model in Python and export the nn.Module, or save it with torch.jit.save")
            raise errors.BadModelArgsError(f"{label} is not a TorchScript file (no zip archive)", hint=HINT)
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            bad = archive.testzip()  # reads every member: a truncated or corrupt archive fails here, not in torch
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as exc:
        raise errors.BadModelArgsError(f"{label} is not a complete zip archive ({exc}); it may be truncated",
                                       hint="copy or save the file again") from None
    except IsADirectoryError:
        raise errors.IoError(f"{path} is a directory") from None
    if bad is not None:
        raise errors.BadModelArgsError(f"{label} is corrupt: archive member {bad!r} fails its CRC check",
                                       hint="copy or save the file again")
    kind = kind_of_archive(names)
    if kind == "torch.save":
        raise errors.BadModelArgsError(
            f"{label} is a torch.save checkpoint (a pickle), not TorchScript; it is not unpickled (it could run code)",
            hint="load the model in Python and export the nn.Module, or save it with torch.jit.save")
    if kind == "torch.export":
        raise errors.BadModelArgsError(f"{label} is a torch.export archive, not TorchScript",
                                       hint="load it with torch.export.load and export ep.module() from Python")
    if kind != "torchscript":
        raise errors.BadModelArgsError(f"{label} is a zip archive but not TorchScript (no code/ and constants.pkl)",
                                       hint=HINT)


def load_torchscript(path: str):
    """The torch.jit.ScriptModule in `path`, on the CPU, in eval mode."""
    import torch

    check_torchscript_file(path)
    try:
        module = torch.jit.load(path, map_location="cpu")
    except Exception as exc:  # torch raises RuntimeError and others; the file is the user's, so report it
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise errors.BadModelArgsError(f"torch.jit.load could not read {os.path.basename(path)}: {first}",
                                       hint=HINT) from None
    if not isinstance(module, torch.jit.ScriptModule) or not hasattr(module, "forward"):
        raise errors.BadModelArgsError(f"{os.path.basename(path)} holds no TorchScript module with a forward method",
                                       hint=HINT)
    return module.eval()
