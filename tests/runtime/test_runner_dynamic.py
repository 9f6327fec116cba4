"""pkt_runner on a program with dynamic dims: any .npy shape inside the ranges runs (outputs at that shape, as
eager), a shape outside fails with PKT_INPUT_SHAPE naming the range."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from support import export_dynamic_tokens
from support_tools import run_tool, tools


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    path = tmp_path_factory.mktemp("dyn") / "tokens.ptm"
    return export_dynamic_tokens(path, max_len=24, seed=3), path


def _inputs(tmp_path, length: int):
    x = np.random.default_rng(length).standard_normal((1, length, 8)).astype(np.float32)
    mask = np.zeros((1, length), dtype=np.bool_)
    mask[0, length - 1:] = length > 2
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "mask.npy", mask)
    return x, mask


@pytest.mark.parametrize("length", [1, 10, 24])
def test_runner_takes_any_length_in_range(program, tmp_path, length):
    model, path = program
    x, mask = _inputs(tmp_path, length)
    proc = run_tool([tools()["pkt_runner"], path, "--input", tmp_path / "x.npy", tmp_path / "mask.npy",
                     "--output-dir", tmp_path / "out", "--iters", "2"])
    assert proc.returncode == 0, proc.stderr
    got = np.load(tmp_path / "out" / "output_0.npy")
    with torch.no_grad():
        want = model(torch.from_numpy(x), torch.from_numpy(mask)).numpy()
    assert got.shape == want.shape == (1, length, 3)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_runner_refuses_a_length_outside_the_range(program, tmp_path):
    _, path = program
    _inputs(tmp_path, 25)
    proc = run_tool([tools()["pkt_runner"], path, "--input", tmp_path / "x.npy", tmp_path / "mask.npy"])
    assert proc.returncode == 1 and proc.stdout == ""
    assert "PKT_INPUT_SHAPE:" in proc.stderr and "1..24" in proc.stderr and "seq" in proc.stderr


def test_runner_random_inputs_run_at_the_bound(program, tmp_path):
    _, path = program
    proc = run_tool([tools()["pkt_runner"], path, "--output-dir", tmp_path / "out", "--iters", "1"])
    assert proc.returncode == 0, proc.stderr
    assert np.load(tmp_path / "out" / "output_0.npy").shape == (1, 24, 3)
