"""The `pockettorch` command line, driven through click's CliRunner and pockettorch.cli.main."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from pockettorch.cli import cli, main

BUILDER = '''
import torch
from torch import nn

def build():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)), (torch.randn(2, 8),)

def broken():
    raise RuntimeError("no weights here")
'''


@pytest.fixture
def builder(tmp_path):
    path = tmp_path / "my_models.py"
    path.write_text(BUILDER)
    return path


def test_export_inspect_run_roundtrip(builder, tmp_path):
    runner = CliRunner()
    out = tmp_path / "m.ptm"
    r = runner.invoke(cli, ["export", f"{builder}:build", "--out", str(out), "--metadata", '{"labels": ["a","b","c","d"]}'])
    assert r.exit_code == 0, r.output
    assert "planned" in r.output and out.exists()
    r = runner.invoke(cli, ["inspect", str(out)])
    assert r.exit_code == 0, r.output
    for text in ("format 1.1", "float32", "[2, 8]", "linear", "naive sum", "lower bound", "labels"):
        assert text in r.output
    r = runner.invoke(cli, ["inspect", str(out), "--json"])
    info = json.loads(r.output)
    assert info["ops"] == {"linear": 2} and info["arena_bytes"] <= info["naive_bytes"]
    result = tmp_path / "run.json"
    np.save(tmp_path / "x.npy", np.ones((2, 8), np.float32))
    r = runner.invoke(cli, ["run", str(out), "--iters", "7", "--warmup", "1", "--input", str(tmp_path / "x.npy"),
                            "--json", str(result), "--profile"])
    assert r.exit_code == 0, r.output
    data = json.loads(result.read_text())
    assert data["schema"] == "pockettorch.run/1" and data["iters"] == 7 and data["threads"] == 1
    lat = data["latency_ms"]
    assert lat["min"] <= lat["median"] <= lat["p90"] <= lat["p99"] and lat["std"] >= 0
    assert data["ops"][0]["op"] == "linear" and abs(sum(o["share"] for o in data["ops"]) - 1) < 1e-6
    assert "median" in r.output and "first inference" in r.output


def test_export_zoo_model(tmp_path):
    out = tmp_path / "mlp.ptm"
    assert main(["export", "zoo:mlp", "--out", str(out), "--quiet"]) == 0
    assert out.stat().st_size > 2_000_000


@pytest.mark.parametrize("args, message", [
    (["export", "zoo:nope", "--out", "x.ptm"], "unknown zoo model 'nope'"),
    (["export", "missing.py:build", "--out", "x.ptm"], "no such file"),
    (["export", "not-a-spec", "--out", "x.ptm"], "neither zoo:NAME nor FILE.py:FUNCTION"),
    (["run", "--iters", "0", "x.ptm"], "0"),
])
def test_usage_errors_are_one_clear_line(args, message, capsys):
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_builder_errors_and_bad_files(builder, tmp_path, capsys):
    assert main(["export", f"{builder}:broken", "--out", str(tmp_path / "x.ptm")]) == 1
    assert "no weights here" in capsys.readouterr().err
    assert main(["export", f"{builder}:absent", "--out", str(tmp_path / "x.ptm")]) == 2
    assert "has no function 'absent'" in capsys.readouterr().err
    bad = tmp_path / "bad.ptm"
    bad.write_bytes(b"not a model at all" * 10)
    assert main(["run", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "PKT_BAD_MAGIC" in err and "Traceback" not in err


def test_wrong_input_file_names_the_input(builder, tmp_path, capsys):
    out = tmp_path / "m.ptm"
    assert main(["export", f"{builder}:build", "--out", str(out), "--quiet"]) == 0
    np.save(tmp_path / "x.npy", np.ones((3, 8), np.float32))
    assert main(["run", str(out), "--input", str(tmp_path / "x.npy")]) == 1
    err = capsys.readouterr().err
    assert "'input' has shape (3, 8), expected (2, 8)" in err
