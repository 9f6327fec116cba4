"""Files PocketTorch writes get the permissions the user's umask allows (0644 under umask 022), not 0600."""
from __future__ import annotations

import os
import stat

import numpy as np
import pytest
import torch

import pockettorch
from pockettorch.cli import main


@pytest.fixture
def umask():
    """Set a umask for one test and restore the old one after it."""
    old = os.umask(0o022)
    os.umask(old)

    def set_mask(mask: int) -> None:
        os.umask(mask)

    yield set_mask
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_saved_program_follows_the_umask(tmp_path, umask, mask):
    umask(mask)
    path = pockettorch.export(torch.nn.Linear(3, 2), (torch.randn(1, 3),)).save(tmp_path / "m.ptm")
    assert mode(path) == 0o666 & ~mask


BUILDER = """
import torch

def build():
    return torch.nn.Linear(3, 2), (torch.randn(1, 3),)
"""


def test_every_file_the_cli_writes_follows_the_umask(tmp_path, umask):
    umask(0o022)
    (tmp_path / "models.py").write_text(BUILDER)
    model = tmp_path / "m.ptm"
    assert main(["export", f"{tmp_path / 'models.py'}:build", "--out", str(model), "--quiet"]) == 0
    np.save(tmp_path / "x.npy", np.zeros((1, 3), np.float32))
    assert main(["run", str(model), "--iters", "1", "--warmup", "0", "--input", str(tmp_path / "x.npy"),
                 "--json", str(tmp_path / "run.json"), "--output", str(tmp_path / "outs")]) == 0
    written = [model, tmp_path / "run.json", *sorted((tmp_path / "outs").iterdir())]
    assert len(written) == 3
    assert {p.name: oct(mode(p)) for p in written} == {p.name: oct(0o644) for p in written}
    assert oct(mode(tmp_path / "outs")) == oct(0o755)
