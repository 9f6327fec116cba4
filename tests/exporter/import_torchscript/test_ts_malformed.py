"""Files that are not usable TorchScript: each is one clear PocketTorchError, nothing in them runs, no crash."""
import io
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

import pockettorch
from pockettorch import errors
from support_torchscript import save

INPUTS = (torch.randn(1, 4),)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return save(torch.nn.Linear(4, 3), INPUTS, tmp_path_factory.mktemp("good") / "good.pt", "script").read_bytes()


def rewrite_member(data: bytes, suffix: str, new: bytes) -> bytes:
    """The archive with the member whose name ends in `suffix` replaced by `new`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, new if info.filename.endswith(suffix) else src.read(info))
    return out.getvalue()


class Payload:
    """Unpickling this would create the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def export_error(path, inputs=INPUTS) -> errors.PocketTorchError:
    with pytest.raises(errors.PocketTorchError) as info:
        pockettorch.export(path, inputs)
    return info.value


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.9])
def test_truncated_file(fraction, good, tmp_path):
    path = tmp_path / "cut.pt"
    path.write_bytes(good[:int(len(good) * fraction)])
    error = export_error(path)
    assert isinstance(error, errors.BadModelArgsError)
    assert "truncated" in str(error) or "not a TorchScript file" in str(error)


def test_corrupt_member_fails_its_crc(good, tmp_path):
    data = bytearray(good)
    start = data.index(b"PK\x03\x04", 4)  # the second member's header; its data follows the name
    data[start + 64] ^= 0xFF
    path = tmp_path / "flipped.pt"
    path.write_bytes(bytes(data))
    assert isinstance(export_error(path), errors.BadModelArgsError)


def test_zip_that_is_not_torchscript(tmp_path):
    path = tmp_path / "notes.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("notes/readme.txt", "hello")
    error = export_error(path)
    assert "not TorchScript" in str(error)


def test_hostile_torch_save_checkpoint_is_never_unpickled(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "checkpoint.pt"
    torch.save({"model": Payload(str(marker))}, path)
    error = export_error(path)
    assert "torch.save checkpoint" in str(error)
    assert not marker.exists()


def test_hostile_legacy_pickle_is_never_unpickled(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "legacy.pth"
    path.write_bytes(pickle.dumps(Payload(str(marker)), protocol=2))
    error = export_error(path)
    assert "legacy torch.save pickle" in str(error)
    assert not marker.exists()


@pytest.mark.parametrize("member", ["data.pkl", "constants.pkl"])
def test_hostile_pickle_inside_a_torchscript_archive(member, good, tmp_path):
    """torch.jit.load's unpickler resolves TorchScript types only: a global like `open` is refused."""
    marker = tmp_path / "ran"
    path = tmp_path / "hostile.pt"
    path.write_bytes(rewrite_member(good, "/" + member, pickle.dumps(Payload(str(marker)), protocol=2)))
    error = export_error(path)
    assert isinstance(error, errors.BadModelArgsError) and "torch.jit.load could not read" in str(error)
    assert not marker.exists()


@pytest.mark.parametrize("garbage", [b"", b"\x80\x02}q\x00(X", os.urandom(256)], ids=["empty", "cut", "random"])
def test_garbage_pickle_inside_a_torchscript_archive(garbage, good, tmp_path):
    path = tmp_path / "garbage.pt"
    path.write_bytes(rewrite_member(good, "/data.pkl", garbage))
    assert "torch.jit.load could not read" in str(export_error(path))


@pytest.mark.parametrize("content,suffix,expected", [
    (b"", ".pt", "not a TorchScript file"),
    (os.urandom(64), ".pt", "not a TorchScript file"),
    (b"PKTM" + bytes(60), ".pt", "already a PocketTorch program"),
    (b"\x08\x07\x12\x07pytorch", ".pt", "rename it to .onnx"),
    (b"PK\x03\x04" + bytes(60), ".onnx", "named .onnx but is a zip"),
    (b"hello", ".bin", "unknown model file type"),
], ids=["empty", "random", "ptm", "onnx-named-pt", "zip-named-onnx", "unknown-suffix"])
def test_wrong_kinds_of_file(content, suffix, expected, tmp_path):
    path = tmp_path / f"model{suffix}"
    path.write_bytes(content)
    error = export_error(str(path))
    assert expected in f"{error} {error.hint}"


def test_missing_file_and_directory(tmp_path):
    assert isinstance(export_error(tmp_path / "absent.pt"), errors.IoError)
    (tmp_path / "dir.pt").mkdir()
    assert isinstance(export_error(tmp_path / "dir.pt"), errors.IoError)


@pytest.mark.parametrize("inputs,expected", [
    (None, "carry no input shapes"),
    ((torch.randn(1, 4), torch.randn(1, 4)), "has 2 entries; the model takes 1"),
    ({"y": torch.randn(1, 4)}, "not inputs of the model"),
    (("text",), "example_inputs must hold tensors"),
    ((np.zeros((1, 4), np.complex64),), "complex"),
], ids=["none", "too-many", "unknown-name", "string", "complex"])
def test_wrong_example_inputs(inputs, expected, good, tmp_path):
    path = tmp_path / "good.pt"
    path.write_bytes(good)
    error = export_error(path, inputs)
    assert expected in f"{error} {error.hint}"


def test_mutated_archives_load_or_fail_clearly(good, tmp_path):
    """Bytes changed inside the archive's members (CRCs kept valid, so torch parses them): each file loads or gives
    a PocketTorchError, and the process survives."""
    import random

    from pockettorch.exporter.torchscript_frontend.load import load_torchscript

    rng = random.Random(0)
    names = [n for n in zipfile.ZipFile(io.BytesIO(good)).namelist()]
    path = tmp_path / "mutated.pt"
    for _ in range(40):
        target = rng.choice(names)
        with zipfile.ZipFile(io.BytesIO(good)) as src:
            data = bytearray(src.read(target))
        for _ in range(rng.randint(1, 4)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(rewrite_member(good, target, bytes(data)))
        try:
            load_torchscript(str(path))
        except errors.PocketTorchError:
            pass
