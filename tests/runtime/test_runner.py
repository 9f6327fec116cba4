"""The standalone runner (runtime/tools/pkt_runner.c): outputs match eager, the JSON report follows
pockettorch.run/1 (runtime/tools/RUN_JSON.md), errors are named and exit with the documented codes."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import pockettorch
from support_tools import run_tool, tools

LATENCY_KEYS = {"min", "median", "p90", "p99", "mean", "std"}
TOP_KEYS = {"schema", "model", "runtime", "threads", "isa", "iters", "warmup", "load_ms", "first_inference_ms", "latency_ms",
            "arena_bytes", "peak_rss_kb", "delegates"}


class TwoHeads(torch.nn.Module):
    """Two inputs, two outputs, with a reshape: (x [2, 3, 4], y [5]) -> (a [2, 6], b [3])."""

    def __init__(self):
        super().__init__()
        self.fx = torch.nn.Linear(12, 6)
        self.fy = torch.nn.Linear(5, 3)

    def forward(self, x, y):
        return torch.relu(self.fx(x.reshape(2, 12))), self.fy(y)


@pytest.fixture(scope="module")
def runner() -> str:
    return tools()["pkt_runner"]


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.ReLU(),
                                torch.nn.Linear(32, 4)).eval()
    x = torch.randn(3, 8)
    d = tmp_path_factory.mktemp("mlp")
    path = d / "mlp.ptm"
    pockettorch.export(model, (x,), name="tiny_mlp").save(path)
    np.save(d / "x.npy", x.numpy())
    with torch.no_grad():
        expected = model(x).numpy()
    return path, d / "x.npy", expected


@pytest.fixture(scope="module")
def two_heads(tmp_path_factory):
    torch.manual_seed(1)
    model = TwoHeads().eval()
    x, y = torch.randn(2, 3, 4), torch.randn(5)
    d = tmp_path_factory.mktemp("two")
    path = d / "two.ptm"
    pockettorch.export(model, (x, y)).save(path)
    np.save(d / "x.npy", x.numpy())
    np.save(d / "y.npy", y.numpy())
    with torch.no_grad():
        a, b = model(x, y)
    return path, d, [a.numpy(), b.numpy()]


def run_json(runner, *args):
    proc = run_tool([runner, *args])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    return json.loads(lines[0])


def close(got, expected, tol=1e-4):
    scale = max(float(np.abs(expected).max()), 1e-6)
    return got.shape == expected.shape and got.dtype == expected.dtype and float(np.abs(got - expected).max()) <= tol * scale


def test_outputs_match_eager(runner, mlp, tmp_path):
    path, x, expected = mlp
    report = run_json(runner, path, "--input", x, "--output-dir", tmp_path / "out", "--iters", "3", "--warmup", "2")
    got = np.load(tmp_path / "out" / "output_0.npy")
    assert close(got, expected)
    assert report["iters"] == 3 and report["warmup"] == 2


def test_outputs_match_eager_with_threads(runner, mlp, tmp_path):
    path, x, expected = mlp
    run_json(runner, path, "--input", x, "--output-dir", tmp_path, "--threads", "2", "--iters", "2")
    assert close(np.load(tmp_path / "output_0.npy"), expected)


def test_multi_input_multi_output(runner, two_heads, tmp_path):
    path, d, expected = two_heads
    run_json(runner, path, "--input", d / "x.npy", d / "y.npy", "--output-dir", tmp_path / "a", "--iters", "2")
    for i, e in enumerate(expected):
        assert close(np.load(tmp_path / "a" / f"output_{i}.npy"), e), i
    # by name, in any order
    run_json(runner, path, "--input", f"y={d / 'y.npy'}", "--input", f"x={d / 'x.npy'}", "--output-dir", tmp_path / "b")
    for i, e in enumerate(expected):
        assert close(np.load(tmp_path / "b" / f"output_{i}.npy"), e), i


def test_random_inputs_are_deterministic(runner, mlp, tmp_path):
    path, _, _ = mlp
    run_json(runner, path, "--output-dir", tmp_path / "a", "--iters", "1")
    run_json(runner, path, "--output-dir", tmp_path / "b", "--iters", "1")
    run_json(runner, path, "--output-dir", tmp_path / "c", "--iters", "1", "--seed", "7")
    a, b, c = (np.load(tmp_path / k / "output_0.npy") for k in "abc")
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_json_schema(runner, mlp, tmp_path):
    path, x, _ = mlp
    out = tmp_path / "report.json"
    report = run_json(runner, path, "--iters", "7", "--warmup", "1", "--threads", "1", "--json", out)
    assert json.loads(out.read_text()) == report
    assert set(report) == TOP_KEYS
    assert report["schema"] == "pockettorch.run/1"
    assert report["model"] == "tiny_mlp"
    assert report["runtime"] == "c"
    assert report["threads"] == 1 and report["iters"] == 7 and report["warmup"] == 1
    assert report["isa"] == pockettorch.load(path).isa
    assert set(report["latency_ms"]) == LATENCY_KEYS
    lat = report["latency_ms"]
    assert 0 <= lat["min"] <= lat["median"] <= lat["p90"] <= lat["p99"]
    assert lat["min"] <= lat["mean"] and lat["std"] >= 0
    assert report["load_ms"] >= 0 and report["first_inference_ms"] >= 0
    assert report["arena_bytes"] == pockettorch.load(path).arena_bytes > 0
    assert report["peak_rss_kb"] > 0


def test_peak_rss_is_the_runners_own(runner, mlp):
    """Started from a process whose resident memory peaked at 400+ MB, the runner reports its own few MB."""
    path, _, _ = mlp
    ballast = np.ones(110 * 2**20, dtype=np.float32)  # 440 MB, touched, alive while the runner runs
    report = run_json(runner, path, "--iters", "2", "--warmup", "0")
    assert 0 < report["peak_rss_kb"] < 64 * 1024, report["peak_rss_kb"]
    del ballast


def test_profile(runner, mlp):
    path, _, _ = mlp
    report = run_json(runner, path, "--iters", "5", "--warmup", "0", "--profile")
    ops = report["ops"]
    assert set(report) == TOP_KEYS | {"ops", "instructions"}
    program_order = pockettorch.load(path).instructions()
    assert [(i["op"], i["source"]) for i in report["instructions"]] == program_order
    assert sum(i["ms"] for i in report["instructions"]) * 5 == pytest.approx(sum(o["total_ms"] for o in report["ops"]),
                                                                             rel=1e-6)
    by_op = {o["op"]: o for o in ops}
    assert set(by_op) == {op for op, _ in pockettorch.load(path).instructions()}
    assert by_op["linear"]["calls"] == 3 * 5  # three linear instructions, five timed runs
    for o in ops:
        assert set(o) == {"op", "calls", "total_ms", "avg_ms", "share"}
        assert o["avg_ms"] == pytest.approx(o["total_ms"] / o["calls"], rel=1e-3, abs=1e-6)
    assert sum(o["share"] for o in ops) == pytest.approx(1.0, abs=1e-3)
    assert [o["total_ms"] for o in ops] == sorted((o["total_ms"] for o in ops), reverse=True)


def test_model_name_falls_back_to_file_name(runner, mlp, tmp_path):
    from support_ptm import KINDS, Ptm

    path, _, _ = mlp
    p = Ptm.parse(path.read_bytes())
    p.bodies[KINDS["METADATA"]] = b'{"inputs": [{"name": "x"}], "user": {"name": "nested"}}'
    other = tmp_path / "renamed.ptm"
    other.write_bytes(p.build())
    assert run_json(runner, other, "--iters", "1")["model"] == "renamed"


# ---- errors -------------------------------------------------------------------------------------------

def fails(runner, *args, code=1):
    proc = run_tool([runner, *args])
    assert proc.returncode == code, f"exit {proc.returncode}: {proc.stderr}"
    assert proc.stdout == ""
    assert "Sanitizer" not in proc.stderr and "Segmentation" not in proc.stderr
    return proc.stderr


def test_missing_model_file(runner, tmp_path):
    err = fails(runner, tmp_path / "nope.ptm")
    assert "PKT_IO:" in err and "nope.ptm" in err


def test_wrong_input_shape(runner, mlp, tmp_path):
    path, _, _ = mlp
    np.save(tmp_path / "bad.npy", np.zeros((2, 8), np.float32))
    err = fails(runner, path, "--input", tmp_path / "bad.npy")
    assert "PKT_INPUT_SHAPE:" in err and "'input'" in err and "[2, 8]" in err and "[3, 8]" in err


def test_wrong_input_dtype(runner, mlp, tmp_path):
    path, _, _ = mlp
    np.save(tmp_path / "bad.npy", np.zeros((3, 8), np.float64))
    np.save(tmp_path / "int.npy", np.zeros((3, 8), np.int64))
    assert "PKT_INPUT_DTYPE:" in fails(runner, path, "--input", tmp_path / "int.npy")
    err = fails(runner, path, "--input", tmp_path / "bad.npy")  # float64 is not a runtime dtype
    assert "PKT_IO:" in err and "'input'" in err and "<f8" in err


def test_wrong_input_count(runner, two_heads):
    path, d, _ = two_heads
    err = fails(runner, path, "--input", d / "x.npy")
    assert "PKT_INPUT_COUNT:" in err and "x, y" in err


def test_bad_npy_files(runner, mlp, tmp_path):
    path, _, _ = mlp
    (tmp_path / "garbage.npy").write_bytes(b"not numpy at all")
    np.save(tmp_path / "fortran.npy", np.asfortranarray(np.zeros((3, 8), np.float32)))
    good = (tmp_path / "good.npy")
    np.save(good, np.zeros((3, 8), np.float32))
    (tmp_path / "short.npy").write_bytes(good.read_bytes()[:-4])
    for name in ("garbage", "fortran", "short", "missing"):
        assert "PKT_IO:" in fails(runner, path, "--input", tmp_path / f"{name}.npy"), name


def test_usage_errors(runner, mlp):
    path, _, _ = mlp
    fails(runner, code=2)
    fails(runner, path, "--bogus", code=2)
    fails(runner, path, "--iters", "0", code=2)
    fails(runner, path, "--iters", "ten", code=2)
    fails(runner, path, "--warmup", code=2)
    fails(runner, path, path, code=2)
    assert run_tool([runner, "--help"]).returncode == 0


def test_dump_to_a_folder_that_cannot_be_made(runner, mlp, tmp_path):
    path, _, _ = mlp
    (tmp_path / "file").write_text("")
    err = fails(runner, path, "--dump", tmp_path / "file" / "dump")
    assert "PKT_IO:" in err and "dump directory" in err


def test_selective_build_without_the_kernel(mlp):
    """A runner built without the linear kernel refuses the program with KERNEL_NOT_BUILT."""
    path, _, _ = mlp
    runner = tools(kernels=("reshape",))["pkt_runner"]
    err = fails(runner, path)
    assert "PKT_KERNEL_NOT_BUILT:" in err and "linear" in err


def test_runner_under_sanitizers(mlp, two_heads, tmp_path):
    """The whole runner path (npy parsing, JSON, profile, threads, the instruction dump) is clean under ASan/UBSan."""
    runner = tools(sanitize=True)["pkt_runner"]
    path, x, expected = mlp
    for threads in ("1", "2"):
        proc = run_tool([runner, path, "--input", x, "--output-dir", tmp_path, "--threads", threads, "--profile",
                         "--iters", "3", "--dump", tmp_path / f"dump{threads}"], sanitize=True)
        assert proc.returncode == 0, proc.stderr
        assert close(np.load(tmp_path / "output_0.npy"), expected)
        index = json.loads((tmp_path / f"dump{threads}" / "index.json").read_text())
        last = index["instructions"][-1]["outputs"][0]
        assert len(index["ops"]) == len(index["instructions"]) and last["shape"] == list(expected.shape)
        assert close(np.load(tmp_path / f"dump{threads}" / last["file"]), expected)
    path2, d, _ = two_heads
    proc = run_tool([runner, path2, "--input", d / "y.npy", d / "x.npy"], sanitize=True)
    assert proc.returncode == 1 and "PKT_INPUT_SHAPE:" in proc.stderr, proc.stderr


def test_npy_mutants_under_sanitizers(mlp, tmp_path):
    """Mutated .npy inputs (header and data) are refused or accepted, never crash the runner."""
    import random

    runner = tools(sanitize=True)["pkt_runner"]
    path, x, _ = mlp
    good = x.read_bytes()
    rng = random.Random(7)
    codes = set()
    for i in range(120):
        b = bytearray(good)
        for _ in range(rng.randint(1, 3)):
            k = rng.randrange(4)
            if k == 0 and len(b) > 0:
                j = rng.randrange(min(128, len(b)))  # the header
                b[j] = rng.choice([0, 0x20, 0x27, 0x28, 0x29, 0x2C, 0x39, 0x7F, 0xFF, ord("L"), ord("T")])
            elif k == 1 and len(b) > 0:
                del b[rng.randrange(len(b)):]
            elif k == 2:
                j = rng.randrange(10, 128)
                b[j:j] = rng.choice([b"9" * 30, b"(", b")", b",", b"'"])
            elif k == 3:
                b[8:10] = rng.randrange(65536).to_bytes(2, "little")
        f = tmp_path / f"m{i}.npy"
        f.write_bytes(bytes(b))
        proc = run_tool([runner, path, "--input", f, "--iters", "1", "--warmup", "0"], sanitize=True)
        assert proc.returncode in (0, 1), proc.stderr[-4000:]
        assert "Sanitizer" not in proc.stderr and "runtime error" not in proc.stderr, proc.stderr[-4000:]
        codes.add(proc.returncode)
    assert codes == {0, 1} or codes == {1}


def test_samples_are_every_timed_latency(runner, mlp):
    path, _, _ = mlp
    report = run_json(runner, path, "--iters", "7", "--warmup", "1", "--samples")
    samples = report["samples_ms"]
    assert len(samples) == 7 and all(s > 0 for s in samples)
    assert min(samples) == pytest.approx(report["latency_ms"]["min"]) and max(samples) >= report["latency_ms"]["p99"] - 1e-9
