"""The C SDK of a program with a dynamic sequence length (tests/sdk/c/dynamic_lengths.c, built with gcc against
the SDK's library): any length in the range runs and gives eager's outputs at that length; a length outside it,
or inputs that disagree on it, gives PKT_INPUT_SHAPE with the range in the SDK's error."""
from __future__ import annotations

import pathlib
import shutil

import numpy as np
import pytest
import torch
from c_sdk_support import run

from pockettorch.runtime.error_catalogue import BY_NAME
from pockettorch.sdk_templates.c_sdk import generate
from support import export_dynamic_tokens

HERE = pathlib.Path(__file__).parent
INPUT_SHAPE = BY_NAME["INPUT_SHAPE"].code


def _inputs(seq: int):
    x = np.sin(0.37 * np.arange(seq * 8, dtype=np.float64) + seq).astype(np.float32).reshape(1, seq, 8)
    mask = np.zeros((1, seq), dtype=np.bool_)
    mask[0, seq - 1] = seq > 2
    return torch.from_numpy(x), torch.from_numpy(mask)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if shutil.which("gcc") is None or shutil.which("make") is None:
        pytest.skip("gcc and make are needed")
    out = tmp_path_factory.mktemp("c_dynamic")
    ptm = out / "tok.ptm"
    model = export_dynamic_tokens(ptm, max_len=20, seed=5)
    sdk = out / "sdk"
    generate.generate(ptm, sdk, prefix="tok")
    header = (sdk / "tok.h").read_text()
    assert "TOK_INPUT_X_DIM1_MIN 1" in header and "TOK_INPUT_X_DIM1_MAX 20" in header
    run(["make", "-j2", "lib", "CFLAGS=-O2 -fno-math-errno"], cwd=sdk)
    binary = out / "dynamic_lengths"
    run(["gcc", "-std=c11", "-O2", "-Wall", "-Werror", "-I", sdk, "-I", sdk / "runtime" / "include",
         HERE / "dynamic_lengths.c", sdk / "libtok.a", "-lpthread", "-lm", "-o", binary])
    return model, binary, ptm


def test_c_sdk_runs_every_length_in_range(built):
    model, binary, ptm = built
    lengths = [1, 7, 20, 3]
    lines = run([binary, ptm, *map(str, lengths)], timeout=120).stdout.splitlines()
    assert len(lines) == len(lengths)
    for seq, line in zip(lengths, lines):
        words = line.split()
        assert words[:5] == ["shape", "1", str(seq), "3", "values"], line
        with torch.no_grad():
            want = model(*_inputs(seq)).numpy().ravel()
        np.testing.assert_allclose(np.array(words[5:], dtype=np.float32), want, rtol=1e-4, atol=1e-5)


def test_c_sdk_refuses_lengths_outside_the_range(built):
    _, binary, ptm = built
    lines = run([binary, ptm, "21", "0", "5"], timeout=120).stdout.splitlines()
    assert lines[0].startswith(f"refused {INPUT_SHAPE} ") and "1..20" in lines[0] and "seq" in lines[0]
    assert lines[1].startswith(f"refused {INPUT_SHAPE} ")
    assert lines[2].startswith("shape 1 5 3")  # the model still works after refusing
