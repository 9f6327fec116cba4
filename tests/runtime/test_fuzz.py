"""Fuzzing the loader, the session and the kernels under ASan/UBSan (runtime/tools/pkt_fuzz.c), an
allocation-failure sweep (runtime/tools/pkt_alloc_fail.c), and mutants through the Python binding.

Seed programs are small models of every kind that exports and runs in this tree: the MLP-like ones
always, and models using other kernels (conv, norms, softmax, embeddings, ...) as soon as their
lowering and kernel exist, so new kernels join the fuzzing without touching this file.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import warnings

import numpy as np
import pytest
import torch
from torch.export import Dim

import pockettorch
from pockettorch import errors, quant
from support import QuantNet
from support_tools import SANITIZER_ENV, run_tool, tools

# ≥ 20,000 mutations in total (the small seeds run ~50k mutants/s under ASan), split over two processes
# (CI has 2 cores). PKT_FUZZ_ITERATIONS raises it for a longer soak.
FUZZ_ITERATIONS = max(20000, int(os.environ.get("PKT_FUZZ_ITERATIONS", "200000")))
FUZZ_PROCESSES = 2


class TwoHeads(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fx = torch.nn.Linear(12, 6)
        self.fy = torch.nn.Linear(5, 3)

    def forward(self, x, y):
        return torch.relu(self.fx(x.reshape(2, 12))), self.fy(y)


class Reshapes(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(12, 4)

    def forward(self, x):
        h = self.fc(x.reshape(2, 12))
        return torch.flatten(h).reshape(4, 2)


class Rank3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(6, 5)

    def forward(self, x):
        return self.fc(x)


class Embed(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(10, 4)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, ids):
        return self.fc(self.emb(ids))


class ConvNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 3, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(3)
        self.fc = torch.nn.Linear(3, 2)

    def forward(self, x):
        h = torch.nn.functional.max_pool2d(torch.relu(self.bn(self.conv(x))), 2)
        return self.fc(torch.nn.functional.adaptive_avg_pool2d(h, 1).flatten(1))


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = torch.nn.LayerNorm(8)
        self.qkv = torch.nn.Linear(8, 24)

    def forward(self, x):
        q, k, v = self.qkv(self.ln(x)).chunk(3, dim=-1)
        att = torch.softmax(q @ k.transpose(-1, -2) / 8 ** 0.5, dim=-1)
        return (att @ v + x).sum(dim=-1)


class Elementwise(torch.nn.Module):
    def forward(self, x, y):
        z = torch.where(x > y, x * y, x - y)
        return torch.cat([z.exp().clamp(max=3.0), torch.sigmoid(y)], dim=1).permute(1, 0)


class Recurrent(torch.nn.Module):
    """A stacked LSTM (several sequences) and a GRU: under int8_dynamic, qlstm_dynamic and qgru_dynamic."""

    def __init__(self):
        super().__init__()
        self.lstm, self.gru = torch.nn.LSTM(4, 5, 2, batch_first=True), torch.nn.GRU(4, 3)

    def forward(self, x):
        return self.lstm(x)[0], self.gru(x)[1]


def _quantized_seeds() -> dict:
    """Seeds exported with a quantization scheme (their new ops' fields get mutated like every other)."""
    from pockettorch import quant

    g = torch.Generator().manual_seed(1)
    return {"int8_static": quant.int8([(torch.randn(1, 2, 6, 6, generator=g),) for _ in range(2)]),
            "int8_dynamic": quant.int8_dynamic(), "int8_recurrent": quant.int8_dynamic()}


class SplitElementwise(torch.nn.Module):
    """Delegated to the test backend around a sigmoid: two delegates, each before its CPU fallback."""

    def forward(self, x, y):
        a = torch.relu(x + y) * y
        return torch.relu((torch.sigmoid(a) + a) * x)


def _delegated_seed() -> tuple[str, bytes]:
    """A program with a DELEGATES section: the fuzzer's builds have no backend compiled in, so mutants reach the
    loader's delegate checks and the fallback path (fixtures/elementwise_backend.py writes the blobs)."""
    from fixtures.elementwise_backend import ElementwiseTestBackend

    from pockettorch.exporter import backends

    backends.register(ElementwiseTestBackend)
    try:
        g = torch.Generator().manual_seed(1)
        x, y = torch.randn(2, 8, generator=g), torch.randn(2, 8, generator=g)
        data = pockettorch.export(SplitElementwise(), (x, y), name="delegated",
                                  backends=[ElementwiseTestBackend.name]).to_bytes()
    finally:
        backends.unregister(ElementwiseTestBackend.name)
    pockettorch.load(data)(x, y)
    return "delegated", data


def _seed_models():
    """(name, module, inputs, required[, dynamic_shapes]): required seeds use only linear/reshape and must export."""
    g = torch.Generator().manual_seed(0)

    def r(*shape):
        return torch.randn(*shape, generator=g)

    return [
        ("mlp_2x8", torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4)), (r(2, 8),), True),
        ("mlp_1d", torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Linear(7, 3)), (r(5),), True),
        ("mlp_deep", torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.ReLU(),
                                         torch.nn.Linear(32, 10)), (r(1, 16),), True),
        ("mlp_1d_relu", torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3)), (r(5),), False),
        ("mlp_no_bias", torch.nn.Sequential(torch.nn.Linear(6, 4, bias=False)), (r(3, 6),), False),
        ("mlp_rank3", Rank3(), (r(2, 3, 6),), True),
        ("two_heads", TwoHeads(), (r(2, 3, 4), r(5)), True),
        ("reshapes", Reshapes(), (r(4, 6),), True),
        ("embedding", Embed(), (torch.randint(0, 10, (2, 3), generator=g),), False),
        ("convnet", ConvNet(), (r(1, 2, 6, 6),), False),
        ("attention", Attention(), (r(1, 4, 8),), False),
        ("elementwise", Elementwise(), (r(3, 4), r(3, 4)), False),
        # dynamic dims (a SHAPES section): mutations reach its validation and the shape rules at session creation
        ("rank3_dynamic", Rank3(), (r(2, 3, 6),), True, ({1: Dim("seq", min=1, max=5)},)),
        ("embedding_dynamic", Embed(), (torch.randint(0, 10, (2, 3), generator=g),), False,
         ({1: Dim("seq", min=1, max=7)},)),
        ("attention_dynamic", Attention(), (r(1, 4, 8),), False, ({1: Dim("seq", min=2, max=6)},)),
        ("int8_static", QuantNet(), (r(1, 2, 6, 6),), False),
        ("int8_dynamic", Rank3(), (r(2, 3, 6),), False),
        ("int8_recurrent", Recurrent(), (r(2, 3, 4),), False),
        # weight-only quantized (linear_wo, embedding_wo): mutations reach the bits, group size, packed size and
        # scale checks
        ("linear_w4", torch.nn.Sequential(torch.nn.Linear(32, 7), torch.nn.ReLU()), (r(3, 32),), True, None,
         quant.weight_only(bits=4, group_size=16)),
        ("embedding_w8", torch.nn.Embedding(10, 32), (torch.randint(0, 10, (2, 3), generator=g),), True, None,
         quant.weight_only(bits=8, group_size=8)),
    ]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, bytes]:
    d = tmp_path_factory.mktemp("seeds")
    out = {}
    for name, module, inputs, required, *extra in _seed_models():
        module.eval()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = pockettorch.export(module, inputs, name=name, dynamic_shapes=extra[0] if extra else None,
                                          quantization=extra[1] if len(extra) > 1 else
                                          _quantized_seeds().get(name)).to_bytes()
                pockettorch.load(data)(*inputs)
        except errors.PocketTorchError:
            if required:
                raise
            continue  # its lowering or kernel is not in this tree yet
        (d / f"{name}.ptm").write_bytes(data)
        out[str(d / f"{name}.ptm")] = data
    name, data = _delegated_seed()
    (d / f"{name}.ptm").write_bytes(data)
    out[str(d / f"{name}.ptm")] = data
    assert len(out) >= 5
    return out


@pytest.fixture(scope="module")
def asan_tools() -> dict[str, str]:
    return tools(sanitize=True)


def test_fuzz_under_sanitizers(asan_tools, seeds, tmp_path):
    fuzz = asan_tools["pkt_fuzz"]
    per_process = -(-FUZZ_ITERATIONS // FUZZ_PROCESSES)
    env = {**os.environ, **SANITIZER_ENV}
    dirs = [tmp_path / f"p{k}" for k in range(FUZZ_PROCESSES)]
    for d in dirs:
        d.mkdir()
    procs = [subprocess.Popen([fuzz, "--seed", str(1000 + k), "--iterations", str(per_process), "--crash-dir",
                               str(dirs[k]), *seeds], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env) for k in range(FUZZ_PROCESSES)]
    reports = []
    for p, d in zip(procs, dirs):
        stdout, stderr = p.communicate(timeout=600)
        saved = sorted(os.listdir(d))  # current.ptm/current.txt stay behind when a process dies
        assert p.returncode == 0, f"pkt_fuzz exited {p.returncode}; saved in {d}: {saved}\n{stderr[-6000:]}"
        assert saved == [], saved
        assert "runtime error" not in stderr and "Sanitizer" not in stderr, stderr[-6000:]
        reports.append(json.loads(stdout))
    total = sum(r["iterations"] for r in reports)
    assert total >= 20000
    for r in reports:
        assert r["schema"] == "pockettorch.fuzz/1"
        assert sum(r["load"].values()) == r["iterations"]
        # the mutants reach every layer: the loader's checks, prepare, and real runs
        assert r["load"].get("PKT_OK", 0) > r["iterations"] // 50
        assert len(r["load"]) >= 8, r["load"]
        assert r["session"].get("PKT_OK", 0) > 0 and r["run"].get("PKT_OK", 0) > 0
        assert set(r["session"]) - {"PKT_OK"}, "no mutant was refused by prepare()"


def test_fuzzer_is_deterministic(asan_tools, seeds):
    fuzz = asan_tools["pkt_fuzz"]
    args = [fuzz, "--seed", "5", "--iterations", "500", *seeds]
    a, b = (run_tool(args, sanitize=True) for _ in range(2))
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    ja, jb = json.loads(a.stdout), json.loads(b.stdout)
    ja.pop("elapsed_s"), jb.pop("elapsed_s")
    assert ja == jb
    # --dump reproduces a single mutant byte for byte
    d1, d2 = (subprocess.run([fuzz, "--seed", "5", "--iterations", "500", "--dump", "123", *seeds], capture_output=True,
                             env={**os.environ, **SANITIZER_ENV}, timeout=60) for _ in range(2))
    assert d1.returncode == 0 and d1.stdout == d2.stdout and len(d1.stdout) > 0, d1.stderr


def test_allocation_failures(asan_tools, seeds):
    """Every allocation the runtime makes, failed in turn: OUT_OF_MEMORY from the call, no crash, no leak."""
    tool = asan_tools.get("pkt_alloc_fail")
    if tool is None:
        pytest.skip("pkt_alloc_fail needs GNU ld --wrap (Linux)")
    proc = run_tool([tool, *seeds], sanitize=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-6000:]
    report = json.loads(proc.stdout)
    assert report["ok"] is True
    assert all(p["allocations"] >= 8 for p in report["programs"]), report


def _mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if len(b) < 2:
            break
        kind = rng.randrange(5)
        if kind == 0:
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        elif kind == 1:
            i = rng.randrange(len(b))
            b[i] = rng.choice([0, 0xFF, 0x7F, 0x80, 0xC3, 0xE0])
        elif kind == 2 and len(b) >= 8:
            i = rng.randrange(len(b) // 4) * 4
            b[i:i + 4] = rng.choice([0, 1, 0xFFFFFFFF, 0x80000000, len(b)]).to_bytes(4, "little")
        elif kind == 3:
            del b[rng.randrange(len(b)):]
            if len(b) >= 24 and rng.random() < 0.7:
                b[16:24] = len(b).to_bytes(8, "little")
        elif len(b) > 1:
            i = rng.randrange(len(b))
            del b[i:i + rng.randint(1, 64)]
    return bytes(b)


def test_python_binding_raises_only_catalogue_errors(seeds):
    """Mutants loaded and run through pockettorch.load: any failure is a PocketTorchError, never another type."""
    rng = random.Random(1234)
    programs = list(seeds.values())
    loaded = 0
    for _ in range(5000):
        data = _mutate(rng.choice(programs), rng)
        try:
            m = pockettorch.load(data)
            loaded += 1
            inputs = [np.zeros([s.ranges[d][2] if n is None else n for d, n in enumerate(s.shape)],  # dynamic: max
                               dtype=s.numpy_dtype) for s in m.input_specs]
            m(*inputs)
            m.metadata, m.instructions(), repr(m)
        except errors.PocketTorchError:
            pass
    assert loaded > 30


@pytest.mark.parametrize("metadata", [
    b'{"name": "m", "output_structure": {"kind": "tensor"}}',                # no index
    b'{"name": "m", "output_structure": {"kind": "tensor", "index": 7}}',    # index out of range
    b'{"name": "m", "output_structure": {"kind": "tuple"}}',                 # no items
    b'[1, 2]',                                                               # valid JSON, not an object
], ids=["no_index", "index_out_of_range", "no_items", "not_an_object"])
def test_mutated_output_structure(seeds, metadata):
    from support_ptm import KINDS, Ptm

    p = Ptm.parse(next(iter(seeds.values())))
    p.bodies[KINDS["METADATA"]] = metadata
    with pytest.raises(errors.BadMetadataError):
        m = pockettorch.load(p.build())
        m(*[torch.zeros(s.shape, dtype=getattr(torch, s.dtype)) for s in m.input_specs])
