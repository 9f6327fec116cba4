"""The device harness on the host backend, end to end with the real runner binary (no doubles)."""
import json
import pathlib

import jsonschema
import pytest
import torch
from torch import nn

import pockettorch
from pockettorch import errors
from pockettorch.cli import main
from pockettorch.device.bench import BenchOptions, bench, deploy
from pockettorch.device.host import HostDevice
from pockettorch.device.trace import build_trace

SCHEMA = json.loads((pathlib.Path(pockettorch.device.__file__).parent / "schemas/bench.schema.json").read_text())


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    path = tmp_path_factory.mktemp("host") / "mlp.ptm"
    pockettorch.export(m, (torch.randn(1, 16),), name="tiny", reference=True).save(path)
    return path


@pytest.fixture
def host(tmp_path):
    return HostDevice(workdir=str(tmp_path / "device"))


def test_bench_on_host_end_to_end(model, host, tmp_path):
    r = bench(host, model, BenchOptions(iters=12, warmup=2, profile_ops=True, power=True, keep=True))
    jsonschema.validate(r, SCHEMA)
    assert r["model"] == "tiny" and r["device"]["platform"] == "host" and r["iters"] == 12
    assert len(r["samples_ms"]) == 12
    lat = r["latency_ms"]
    assert lat["min"] <= lat["trimmed_mean"] <= max(r["samples_ms"])
    assert {o["op"] for o in r["ops"]} == {"linear"} and len(r["instructions"]) == 2
    # per-op times come from one extra profiled inference after the 12 timed (unprofiled) ones
    assert [o["calls"] for o in r["ops"]] == [2]
    assert r["power"]["available"] is False or r["power"]["average_mw"] > 0  # unavailable here, never invented
    assert r["deploy"]["pushed"] and pathlib.Path(r["deploy"]["model"]).exists()  # --keep
    trace = build_trace(r)
    slices = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert sum(e["cat"] == "inference" for e in slices) == 12 and sum(e["cat"] == "op" for e in slices) == 2
    assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in slices)
    json.dumps(trace)


def test_deploy_skips_what_is_already_there(model, host):
    first = deploy(host, model)
    second = deploy(host, model)
    assert len(first["pushed"]) == 2 and second["pushed"] == [] and len(second["skipped"]) == 2


def test_runs_clean_up_unless_kept(model, host):
    bench(host, model, BenchOptions(iters=2, warmup=0))
    assert not pathlib.Path(host.workdir).exists()


def test_verify_passes_and_detects_a_wrong_reference(model, host, tmp_path):
    from pockettorch.device.bench import verify

    r = verify(host, model)
    assert r["pass"] and r["outputs"][0]["max_abs_error"] < 1e-5
    assert main(["verify", str(model), "--device", "host"]) == 0


def test_verify_without_reference_says_how_to_fix(host, tmp_path):
    from pockettorch.device.bench import verify

    path = tmp_path / "noref.ptm"
    pockettorch.export(nn.Linear(2, 2), (torch.randn(1, 2),)).save(path)
    with pytest.raises(errors.InvalidArgumentError, match="--reference"):
        verify(host, path)


def test_shell_metacharacters_in_the_model_name_are_harmless(model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "m; touch pwned $(touch pwned2) `touch pwned3`.ptm"
    evil.write_bytes(model.read_bytes())
    assert main(["bench", str(evil), "--device", "host", "--iters", "2", "--warmup", "0"]) == 0
    assert not any(tmp_path.glob("pwned*"))


def test_unknown_serial_lists_the_devices(model, capsys):
    assert main(["bench", str(model), "--device", "nope-123"]) == 1
    err = capsys.readouterr().err
    assert "no device 'nope-123'" in err and "host" in err


def test_cli_bench_writes_json_and_trace(model, tmp_path, capsys):
    out, trace = tmp_path / "r.json", tmp_path / "r.trace.json"
    assert main(["bench", str(model), "--device", "host", "--iters", "5", "--warmup", "1", "--profile-ops",
                 "--json", str(out), "--trace", str(trace)]) == 0
    jsonschema.validate(json.loads(out.read_text()), SCHEMA)
    assert json.loads(trace.read_text())["traceEvents"]
    text = capsys.readouterr().out
    assert "median" in text and "linear" in text
    assert "per-op times of one extra profiled inference (not part of the latencies above)" in text
    assert "x2 " in text  # the two linear instructions, run once


def test_profile_ops_help_says_what_it_measures(capsys):
    assert main(["bench", "--help"]) == 0
    assert "one extra profiled inference after the timed ones" in " ".join(capsys.readouterr().out.split())


def test_devices_prints_a_header_and_says_why_no_android_device_is_listed(capsys):
    from fixtures.adb_server import free_port

    port = free_port()  # nothing listens there
    assert main(["devices", "--adb-server", f"127.0.0.1:{port}"]) == 0
    out = capsys.readouterr()
    header, host = out.out.splitlines()[:2]
    assert header.split()[:4] == ["SERIAL", "PLATFORM", "STATE", "ABI"] and host.startswith("host ")
    assert (f"note: no adb server at 127.0.0.1:{port}: start one with `adb start-server` to list Android devices"
            in out.err)


def test_devices_lists_the_host(capsys):
    assert main(["devices", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["serial"] == "host" and rows[0]["cores"] >= 1
