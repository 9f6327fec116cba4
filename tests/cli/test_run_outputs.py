"""`pockettorch run` prints a short summary of each output and, with --output DIR, saves one .npy per output,
named after the output; a model file's names are untrusted, so they cannot leave DIR or drive the terminal."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import pockettorch
from pockettorch.cli import main
from pockettorch.runtime import run_outputs


class TwoHeads(torch.nn.Module):
    def forward(self, x):
        return {"scores": x * 2, "mask": x > 0}


@pytest.fixture(scope="module")
def program():
    return pockettorch.export(TwoHeads(), (torch.tensor([[1.0, -2.0, 3.0, float("nan")]]),))


def test_run_prints_and_saves_each_output(program, tmp_path, capsys):
    model = program.save(tmp_path / "two.ptm")
    x = np.array([[1.0, -2.0, 3.0, np.nan]], np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "new" / "outs"
    assert main(["run", model, "--iters", "2", "--warmup", "0", "--input", str(tmp_path / "x.npy"),
                 "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "scores  float32[1, 4]  min -4  max 6  mean 1.33333  nan 1  [ 2., -4.,  6., nan]" in text
    assert "mask  bool[1, 4]  min 0  max 1  mean 0.5  [ True, False,  True, False]" in text
    assert sorted(p.name for p in out.iterdir()) == ["mask.npy", "scores.npy"]
    np.testing.assert_array_equal(np.load(out / "scores.npy"), x * 2)
    np.testing.assert_array_equal(np.load(out / "mask.npy"), x > 0)


def test_long_outputs_show_a_few_values(capsys):
    line = run_outputs.summary("logits", np.arange(1000, dtype=np.float32).reshape(10, 100))
    assert line == "logits  float32[10, 100]  min 0  max 999  mean 499.5  [0., 1., 2., 3., 4., 5., ...]"
    assert run_outputs.summary("e", np.zeros((0, 3), np.int64)) == "e  int64[0, 3]  (empty)"


@pytest.mark.parametrize("names, files", [
    (["../../etc/passwd", "/abs/path", "a/b\\c"], ["etc_passwd.npy", "abs_path.npy", "a_b_c.npy"]),
    (["..", ".", "", ".hidden"], ["output_0.npy", "output_1.npy", "output_2.npy", "hidden.npy"]),
    (["x", "X", "x"], ["x.npy", "X_1.npy", "x_2.npy"]),
    (["CON", "nul.txt", "logits\n\x1b[31m"], ["_CON.npy", "_nul.txt.npy", "logits_31m.npy"]),
    (["a" * 300], ["a" * 100 + ".npy"]),
])
def test_file_names_are_safe_and_distinct(names, files):
    assert run_outputs.file_names(names) == files


def test_hostile_output_names_stay_inside_the_folder(program, tmp_path, capsys):
    hostile = ["../escaped", "\x1b]0;pwned\x07"]
    for t, name in zip(program.graph.outputs, hostile):  # what a crafted .ptm could carry
        t.name = name
    program._bytes = None
    model = program.save(tmp_path / "hostile.ptm")
    out = tmp_path / "outs"
    assert main(["run", model, "--iters", "1", "--warmup", "0", "--output", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["0_pwned.npy", "escaped.npy"]
    assert not (tmp_path / "escaped.npy").exists()
    text = capsys.readouterr().out
    assert "\x1b" not in text and "\\x1b]0;pwned\\x07" in text
