"""The packed GEMM and the kernels built on it (linear, matmul, sdpa, softmax, layer_norm), run with every
SIMD implementation this CPU has (PKT_MAX_ISA caps the choice at session creation) against eager torch.

Shapes are picked to hit the micro-kernels' edges: M below / at / above a row tile (4 portable, 6 AVX2,
12 AVX-512), N across the 16- and 32-column halves of a panel, odd K, several panels, and products big
enough to be split over two threads.
"""
from __future__ import annotations

import platform

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import pockettorch

from test_ops_nn import Fn, rnd, run_case

ISAS = ["portable", "neon"] if platform.machine().lower() in ("arm64", "aarch64") else ["portable", "avx2", "avx512"]
_available: dict[str, bool] = {}


def _isa_available(name: str) -> bool:
    if name not in _available:
        program = pockettorch.export(nn.Linear(2, 2), (torch.randn(1, 2),))
        _available[name] = pockettorch.load(program.to_bytes()).isa == name
    return _available[name]


@pytest.fixture(params=ISAS)
def isa(request, monkeypatch):
    """Runs the test with the runtime capped at one ISA; skipped when this CPU lacks it."""
    monkeypatch.setenv("PKT_MAX_ISA", request.param)
    if not _isa_available(request.param):
        pytest.skip(f"this CPU has no {request.param}")
    return request.param


LINEAR = [  # (M, K, N, act, threads)
    (1, 7, 5, None, 1),
    (1, 300, 70, "relu", 2),  # batch-1 layer: one row, panels split over threads
    (3, 33, 17, None, 1),
    (5, 16, 31, "relu", 1),
    (6, 64, 32, None, 1),
    (7, 40, 33, "gelu", 1),
    (12, 9, 48, None, 1),
    (13, 128, 65, "relu", 2),
    (29, 100, 96, "hardtanh", 2),
    (64, 257, 130, None, 2),  # big enough for threads: rows or panels split
]


def _act(name):
    return {None: nn.Identity(), "relu": nn.ReLU(), "gelu": nn.GELU(), "hardtanh": nn.Hardtanh(-0.5, 0.5)}[name]


@pytest.mark.parametrize("M,K,N,act,threads", LINEAR)
def test_linear_isa(check_eager, isa, M, K, N, act, threads):
    torch.manual_seed(M * 1000 + K + N)
    module = nn.Sequential(nn.Linear(K, N), _act(act))
    run_case(check_eager, module, (rnd(M, K),), threads=threads)


def test_linear_computed_weight(check_eager, isa):
    """A weight that the graph computes is packed into scratch on every run."""
    module = Fn(lambda m, x, w: F.linear(x, w * 2.0, m.b), b=rnd(19))
    run_case(check_eager, module, (rnd(14, 23), rnd(19, 23, seed=1)), threads=2)


def test_linear_packs_weights_once(isa):
    """Several rows: weights packed once at load and reused; one row: read in place (nothing packed)."""
    module = nn.Sequential(nn.Linear(40, 70), nn.ReLU(), nn.Linear(70, 3)).eval()
    panels = lambda n: (n + 31) // 32 * 32  # noqa: E731
    runtime = pockettorch.load(pockettorch.export(module, (torch.randn(4, 40),)).to_bytes())
    assert runtime.packed_bytes >= 4 * (40 * panels(70) + 70 * panels(3))
    for _ in range(3):  # packed weights are reused, not repacked or overwritten, across runs
        x = torch.randn(4, 40)
        torch.testing.assert_close(runtime(x), module(x), rtol=1e-4, atol=1e-5)
    runtime = pockettorch.load(pockettorch.export(module, (torch.randn(1, 40),)).to_bytes())
    assert runtime.packed_bytes == 0
    x = torch.randn(1, 40)
    torch.testing.assert_close(runtime(x), module(x), rtol=1e-4, atol=1e-5)


MATMUL = [  # (a shape, b shape, transpose_b, threads)
    ((5, 9), (9, 33), False, 1),
    ((13, 40), (40, 70), False, 2),
    ((3, 13, 17), (3, 17, 40), False, 2),  # batches >= threads: whole batches per thread
    ((2, 3, 25, 8), (1, 3, 8, 25), False, 2),  # broadcast batch of b
    ((4, 7, 16), (4, 35, 16), True, 2),  # transpose_b through the pack strides
    ((1, 40, 64), (1, 50, 64), True, 2),  # one batch split over threads
]


@pytest.mark.parametrize("a,b,tb,threads", MATMUL)
def test_matmul_isa(check_eager, isa, a, b, tb, threads):
    fn = (lambda m, x, y: x @ y.transpose(-1, -2)) if tb else (lambda m, x, y: x @ y)
    run_case(check_eager, Fn(fn), (rnd(*a), rnd(*b, seed=1)), threads=threads)


SDPA = [  # (q shape, S, Ev, causal, mask kind, threads)
    ((1, 4, 50, 64), 50, 64, False, None, 2),
    ((2, 2, 61, 24), 61, 17, True, None, 1),  # causal: later blocks see more keys
    ((1, 1, 100, 16), 100, 16, True, None, 2),  # one head split into row parts over threads
    ((1, 2, 13, 8), 37, 8, False, "bool", 1),
    ((1, 2, 13, 8), 37, 8, False, "float", 2),
]


@pytest.mark.parametrize("q_shape,S,Ev,causal,mask_kind,threads", SDPA)
def test_sdpa_isa(check_eager, isa, q_shape, S, Ev, causal, mask_kind, threads):
    q = rnd(*q_shape)
    k = rnd(*q_shape[:-2], S, q_shape[-1], seed=1)
    v = rnd(*q_shape[:-2], S, Ev, seed=2)
    if mask_kind is None:
        module = Fn(lambda m, q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
        run_case(check_eager, module, (q, k, v), threads=threads)
        return
    g = torch.Generator().manual_seed(3)
    mask = torch.rand(q_shape[-2], S, generator=g)
    if mask_kind == "bool":
        mask = mask > 0.5
        mask[:, 0] = True
        mask[3] = False  # a row with nothing to attend gives 0
    else:
        mask = mask * 6 - 3
    module = Fn(lambda m, q, k, v, mask: F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    with torch.no_grad():
        if torch.isnan(module(q, k, v, mask)).any():
            pytest.skip("this torch returns NaN for fully masked rows")
    run_case(check_eager, module, (q, k, v, mask), threads=threads)


@pytest.mark.parametrize("n", [1, 7, 33, 1000])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_isa(check_eager, isa, n, log):
    x = rnd(3, n) * 10
    x[0, 0] = -200.0  # exp underflows to 0
    fn = (lambda m, x: F.log_softmax(x, -1)) if log else (lambda m, x: torch.softmax(x, -1))
    run_case(check_eager, Fn(fn), (x,))


def test_softmax_special_values(check_eager, isa):
    x = rnd(4, 21)
    x[0, 3] = float("-inf")
    x[1, :] = float("-inf")  # all -inf: NaN like torch
    x[2, 5] = float("nan")
    run_case(check_eager, Fn(lambda m, x: torch.softmax(x, -1)), (x,))


def test_softmax_wide_range(check_eager, isa):
    """The polynomial exp across its whole range: differences from 0 down to -100 after the max shift."""
    x = torch.linspace(-100.0, 0.0, 4001).reshape(1, -1)
    run_case(check_eager, Fn(lambda m, x: torch.softmax(x, -1)), (x,), tol=1e-5)
    run_case(check_eager, Fn(lambda m, x: F.log_softmax(x, -1)), (x,), tol=1e-5)


@pytest.mark.parametrize("D", [1, 5, 16, 37, 256])
def test_layer_norm_isa(check_eager, isa, D):
    torch.manual_seed(D)
    ln = nn.LayerNorm(D)
    with torch.no_grad():
        ln.weight.normal_()
        ln.bias.normal_()
    run_case(check_eager, ln, (rnd(3, 4, D) * 3 + 1,))
