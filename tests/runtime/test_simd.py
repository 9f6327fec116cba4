"""SIMD paths of the elementwise kernels and fused activations, on every ISA this machine has.

PKT_MAX_ISA caps the ISA a session picks (runtime/backends/cpu/cpu.h), so each case runs once per ISA: the
portable C loops, AVX2+FMA and AVX-512. Finite inputs over a wide range (|x| up to 110, where exp
overflows and sigmoid/gelu underflow) are compared with eager PyTorch to 1e-4 relative; infinities and NaN
must give exactly what the portable path gives (the runtime's behaviour before vectorization). Lengths that
are not a multiple of the vector width exercise the masked tails; a large input runs on two threads.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import pockettorch
from pockettorch.exporter.ir import Graph
from pockettorch.exporter.memory_plan import plan_memory
from pockettorch.exporter.serialize import serialize
from pockettorch.runtime.op_table import enum_value

ISAS = ("portable", "avx2", "avx512")


def _program(op, shapes, **params):
    g = Graph("single")
    ins = [g.tensor(f"in{k}", "float32", s) for k, s in enumerate(shapes)]
    g.inputs = list(ins)
    out_shape = np.broadcast_shapes(*shapes)
    out = g.tensor("out", "float32", out_shape)
    g.add(op, ins, [out], **params)
    g.outputs = [out]
    return serialize(g, plan_memory(g), {"name": "single", "output_structure": {"kind": "tensor", "index": 0}})


def run(isa, monkeypatch, op, inputs, threads=1, **params):
    """Run one instruction with the session capped at `isa`; skips when the machine lacks it."""
    monkeypatch.setenv("PKT_MAX_ISA", isa)
    module = pockettorch.load(_program(op, [a.shape for a in inputs], **params), num_threads=threads)
    if module.isa != isa:
        pytest.skip(f"this machine has no {isa} (session uses {module.isa})")
    return module.run_numpy([np.ascontiguousarray(a, dtype=np.float32) for a in inputs])[0]


SPECIAL = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0], dtype=np.float32)


def wide(n=20011, seed=0):
    """Finite floats over [-110, 110], dense near 0, plus random normals; odd length (masked tails)."""
    t = np.linspace(-1.0, 1.0, n // 2, dtype=np.float64)
    rng = np.random.default_rng(seed)
    x = np.concatenate([t ** 3 * 110.0, rng.standard_normal(n - n // 2) * 4.0,
                        [1e-30, -1e-30, 1e-6, -1e-6, 88.7, 88.8, -87.5, -103.0, -104.5, 20.0, -20.0]])
    return x.astype(np.float32)


def compare(got, want, x):
    """Finite inputs: 1e-4 relative to torch (1e-6 absolute for results that underflow in torch)."""
    fin = np.isfinite(x)
    w = want[fin]
    g = got[fin]
    big = ~np.isfinite(w)  # exp overflow: must overflow too
    np.testing.assert_array_equal(g[big], w[big])
    np.testing.assert_allclose(g[~big], w[~big], rtol=1e-4, atol=1e-6)


UNARY = {
    "sigmoid": torch.sigmoid, "tanh": torch.tanh, "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"), "silu": F.silu, "hardswish": F.hardswish,
    "hardsigmoid": F.hardsigmoid, "exp": torch.exp, "relu": torch.relu,
}


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("name", list(UNARY))
def test_unary_wide_range(monkeypatch, isa, name):
    kind = enum_value("UNARY", name.upper())
    x = wide()
    got = run(isa, monkeypatch, "unary", [x], kind=kind, alpha=0.0, beta=0.0)
    want = UNARY[name](torch.from_numpy(x)).numpy()
    compare(got, want, x)
    if name in ("sigmoid", "tanh"):  # exactly 1 where the result saturates
        np.testing.assert_array_equal(got[x > 20], want[x > 20])
    # inf / NaN / signed zero: as the portable path (what the runtime always did)
    special = run(isa, monkeypatch, "unary", [SPECIAL], kind=kind, alpha=0.0, beta=0.0)
    monkeypatch.setenv("PKT_MAX_ISA", "portable")
    ref = pockettorch.load(_program("unary", [SPECIAL.shape], kind=kind, alpha=0.0, beta=0.0)).run_numpy([SPECIAL])[0]
    np.testing.assert_array_equal(special[:3], ref[:3])
    np.testing.assert_array_equal(np.signbit(special[3:]) | (special[3:] != 0), np.signbit(ref[3:]) | (ref[3:] != 0))


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("n", [1, 7, 8, 9, 15, 16, 17, 31, 33])
def test_unary_short_rows(monkeypatch, isa, n):
    x = np.linspace(-6, 6, n, dtype=np.float32)
    got = run(isa, monkeypatch, "unary", [x], kind=enum_value("UNARY", "GELU"), alpha=0.0, beta=0.0)
    np.testing.assert_allclose(got, F.gelu(torch.from_numpy(x)).numpy(), rtol=1e-4, atol=1e-6)


ACTS = {
    "RELU": torch.relu, "RELU6": F.relu6, "CLAMP": lambda x: torch.clamp(x, -0.5, 0.75), "SILU": F.silu,
    "GELU": F.gelu, "GELU_TANH": lambda x: F.gelu(x, approximate="tanh"), "HARDSWISH": F.hardswish,
    "SIGMOID": torch.sigmoid, "TANH": torch.tanh,
}


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("layout", ["same", "scalar_b", "scalar_a"])
def test_fused_activation_after_add(monkeypatch, isa, act, layout):
    x = wide()
    y = np.float32(0.25) * np.cos(np.arange(x.size, dtype=np.float32))
    a, b = {"same": (x, y), "scalar_b": (x, y[:1]), "scalar_a": (y[:1], x)}[layout]
    params = dict(kind=enum_value("BINARY", "ADD"), act=enum_value("ACT", act), act_min=-0.5, act_max=0.75)
    got = run(isa, monkeypatch, "binary", [a, b], **params)
    s = torch.from_numpy(a) + torch.from_numpy(b)
    compare(got, ACTS[act](s).numpy(), s.numpy())
    # inf / NaN through the fused activation: as the portable path
    sp = np.tile(SPECIAL, 5)
    special = run(isa, monkeypatch, "binary", [sp, np.zeros(1, np.float32)], **params)
    monkeypatch.setenv("PKT_MAX_ISA", "portable")
    ref = pockettorch.load(_program("binary", [sp.shape, (1,)], **params)).run_numpy([sp, np.zeros(1, np.float32)])[0]
    np.testing.assert_array_equal(special, ref)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("kind", ["ADD", "SUB", "MUL", "DIV"])
@pytest.mark.parametrize("shapes", [((3, 1001), (3, 1001)), ((3, 1001), (1,)), ((1,), (3, 1001)), ((4, 5, 33), (5, 1))])
def test_binary_arithmetic_exact(monkeypatch, isa, kind, shapes):
    rng = np.random.default_rng(1)
    a = rng.standard_normal(shapes[0]).astype(np.float32)
    b = rng.standard_normal(shapes[1]).astype(np.float32)
    a.flat[::17] = np.inf
    b.flat[::5] = 0.0
    got = run(isa, monkeypatch, "binary", [a, b], kind=enum_value("BINARY", kind), act=0, act_min=0.0, act_max=0.0)
    op = {"ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "DIV": np.divide}[kind]
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(got, op(a, b))  # IEEE arithmetic: bit-exact on every ISA


@pytest.mark.parametrize("isa", ISAS)
def test_two_threads_match_one(monkeypatch, isa):
    x = wide(200003)  # above the elementwise kernels' parallel threshold
    kind = enum_value("UNARY", "SILU")
    one = run(isa, monkeypatch, "unary", [x], threads=1, kind=kind, alpha=0.0, beta=0.0)
    two = run(isa, monkeypatch, "unary", [x], threads=2, kind=kind, alpha=0.0, beta=0.0)
    np.testing.assert_array_equal(one, two)
    params = dict(kind=enum_value("BINARY", "MUL"), act=enum_value("ACT", "GELU"), act_min=0.0, act_max=0.0)
    y = np.full(x.shape, 0.5, np.float32)
    np.testing.assert_array_equal(run(isa, monkeypatch, "binary", [x, y], threads=1, **params),
                                  run(isa, monkeypatch, "binary", [x, y], threads=2, **params))
