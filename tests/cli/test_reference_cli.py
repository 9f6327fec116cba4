"""The REFERENCE section through the commands: `inspect` shows it, `verify` runs it on the host, and the three
`sdk` commands leave it out of the model they embed unless `--with-reference`."""
from __future__ import annotations

import json
import pathlib
import re
import struct

import pytest
import torch

import pockettorch
from pockettorch.cli import main
from pockettorch.runtime.ptm_info import read_reference, without_reference

REFERENCE_KIND = 7


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> pathlib.Path:
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    path = tmp_path_factory.mktemp("ref") / "tiny.ptm"
    pockettorch.export(m, (torch.randn(1, 16),), name="tiny", reference=True).save(path)
    return path


def test_inspect_shows_the_reference(model, tmp_path, capsys):
    assert main(["inspect", str(model)]) == 0
    text = capsys.readouterr().out
    assert re.search(r"reference: 1 input\(s\), 1 output\(s\), 80 B of tensors \(\d+ B section", text), text
    assert main(["inspect", str(model), "--json"]) == 0
    ref = json.loads(capsys.readouterr().out)["reference"]
    assert ref["inputs"] == [{"dtype": "float32", "shape": [1, 16], "bytes": 64}]
    assert ref["outputs"] == [{"dtype": "float32", "shape": [1, 4], "bytes": 16}]
    plain = tmp_path / "plain.ptm"
    plain.write_bytes(without_reference(model.read_bytes()))
    assert main(["inspect", str(plain)]) == 0
    assert "reference: none" in capsys.readouterr().out


def test_verify_on_the_host_reads_the_section(model, tmp_path, capsys):
    assert main(["verify", str(model), "--device", "host"]) == 0
    assert "all 1 output(s) match on host" in capsys.readouterr().out
    data = bytearray(model.read_bytes())
    table = [struct.unpack_from("<I4xQQ", data, 64 + 24 * i) for i in range(struct.unpack_from("<I", data, 12)[0])]
    (offset,) = [off for kind, off, _ in table if kind == REFERENCE_KIND]
    out_data = struct.unpack_from("<Q", data, offset + 8 + 88 + 8)[0]  # the output entry's data offset
    struct.pack_into("<f", data, offset + out_data, 1e6)  # a wrong expected value
    wrong = tmp_path / "wrong.ptm"
    wrong.write_bytes(bytes(data))
    assert main(["verify", str(wrong), "--device", "host"]) == 1
    assert "PKT_VERIFICATION_FAILED" in capsys.readouterr().err


def _embedded(kind: str, out: pathlib.Path) -> bytes:
    """The program bytes an SDK carries."""
    if kind == "c":
        source = (out / "tiny_model.c").read_text()
        return bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", source.split("{", 1)[1]))
    (path,) = [p for p in out.rglob("*.ptm")]
    return path.read_bytes()


@pytest.mark.parametrize("kind, args", [("c", ["--embed"]), ("android", ["--package", "com.acme.tiny"]),
                                        ("ios", [])])
def test_sdks_leave_the_reference_out_unless_asked(model, tmp_path, kind, args):
    full = model.read_bytes()
    for flag, want in (([], without_reference(full)), (["--with-reference"], full)):
        out = tmp_path / f"{kind}{len(flag)}"
        assert main(["sdk", kind, str(model), "--out", str(out), *args, *flag]) == 0
        embedded = _embedded(kind, out)
        assert embedded == want
        assert (read_reference(embedded) is None) == (not flag)
    assert len(without_reference(full)) < len(full)

