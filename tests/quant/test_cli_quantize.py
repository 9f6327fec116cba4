"""`pockettorch export --quantize` and `inspect` on quantized programs, through click's CliRunner."""
import json

import numpy as np
from click.testing import CliRunner

from pockettorch.cli import cli

BUILDER = '''
import torch
from torch import nn

def build():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)), (torch.randn(2, 8),)

def build_wide():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32)), (torch.randn(2, 64),)

def build_calibrated():
    model, inputs = build()
    g = torch.Generator().manual_seed(1)
    return model, inputs, {}, [(torch.randn(2, 8, generator=g),) for _ in range(3)]
'''


def _export(tmp_path, *args):
    path = tmp_path / "models.py"
    path.write_text(BUILDER)
    out = tmp_path / "m.ptm"
    r = CliRunner().invoke(cli, ["export", f"{path}:{args[0]}", "--out", str(out), "--quiet", *args[1:]])
    assert r.exit_code == 0, r.output
    info = json.loads(CliRunner().invoke(cli, ["inspect", str(out), "--json"]).output)
    return info, CliRunner().invoke(cli, ["inspect", str(out)]).output


def test_static_int8_with_an_npz_and_with_builder_calibration(tmp_path):
    np.savez(tmp_path / "cal.npz", x=np.random.default_rng(0).standard_normal((3, 2, 8)).astype(np.float32))
    for args in (("build", "--quantize", "int8", "--calibration", str(tmp_path / "cal.npz")),
                 ("build_calibrated", "--quantize", "int8")):
        info, text = _export(tmp_path, *args)
        assert info["quantization"] == "int8" and info["ops"]["qlinear"] == 2
        assert info["dtypes"]["int8"] >= 3 and info["inputs"][0]["dtype"] == "float32"
        assert "quantization: int8" in text


def test_dynamic_int8(tmp_path):
    info, _ = _export(tmp_path, "build", "--quantize", "int8-dynamic")
    assert info["quantization"] == "int8-dynamic" and info["ops"]["qlinear_dynamic"] == 2


def test_a_calibration_file_that_does_not_fit_is_a_usage_error(tmp_path):
    np.savez(tmp_path / "bad.npz", x=np.zeros((3, 5), np.float32))
    path = tmp_path / "models.py"
    path.write_text(BUILDER)
    r = CliRunner().invoke(cli, ["export", f"{path}:build", "--out", str(tmp_path / "m.ptm"), "--quantize", "int8",
                                 "--calibration", str(tmp_path / "bad.npz")])
    assert r.exit_code == 2 and "--calibration" in r.output


def test_weight_only_with_an_npz_is_gptq_and_min_sqnr_mixes_in_int8(tmp_path):
    import pockettorch

    np.savez(tmp_path / "cal.npz", x=np.random.default_rng(0).standard_normal((4, 2, 64)).astype(np.float32))
    cal = ("--calibration", str(tmp_path / "cal.npz"))
    w4 = ("build_wide", "--quantize", "w4")
    for args, method in ((w4, "rtn"), ((*w4, *cal), "gptq"), ((*w4, *cal, "--min-sqnr", "60"), "gptq")):
        info, _ = _export(tmp_path, *args)
        assert info["ops"]["linear_wo"] == 2
        meta = pockettorch.load(str(tmp_path / "m.ptm")).metadata["quantization"]
        assert meta["method"] == method
        bits = [l["bits"] for l in meta["layers"]]
        assert bits == ([8, 8] if "--min-sqnr" in args else [4, 4])  # 60 dB: out of int4's reach


def test_min_sqnr_needs_w4_and_calibration(tmp_path):
    path = tmp_path / "models.py"
    path.write_text(BUILDER)
    for extra in (["--quantize", "w4"], ["--quantize", "w8", "--calibration", __file__]):
        r = CliRunner().invoke(cli, ["export", f"{path}:build_wide", "--out", str(tmp_path / "m.ptm"), *extra,
                                     "--min-sqnr", "20"])
        assert r.exit_code == 2 and "--min-sqnr" in r.output
