"""Reductions through the whole chain (export -> .ptm -> C runtime) against eager torch: sum, mean,
amax/amin, prod, any/all, var/std-free var, vector 2-norm, max/min (all and .dim), argmax/argmin.
Cases are bundled per group into one module (one export per group), and a mismatch names the case."""
from __future__ import annotations

import pytest
import torch
from torch.utils import _pytree as pytree

import pockettorch
from pockettorch import errors
from support import bytes_with_params, run_in_runtime


class Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


class Bundle(torch.nn.Module):
    """Runs every case on its own input; returns {case id: output}."""

    def __init__(self, cases):
        super().__init__()
        self.cases = [(name, fn) for name, fn, _ in cases]

    def forward(self, *args):
        return {name: fn(x) for (name, fn), x in zip(self.cases, args)}


def make(shape, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    if dtype == torch.bool:
        return torch.rand(shape, generator=g) > 0.5
    if dtype.is_floating_point:
        return torch.randn(shape, generator=g).to(dtype)
    return torch.randint(-9, 10, shape, generator=g).to(dtype)


def check_bundle(check_eager, cases, dtype, threads=1, tol=1e-4):
    module = Bundle(cases)
    inputs = tuple(make(shape, dtype, seed=k) for k, (_, _, shape) in enumerate(cases))
    try:
        check_eager(module, inputs, tol=tol, threads=threads)
    except AssertionError as exc:
        with torch.no_grad():
            eager = module(*inputs)
        leaves = [name for name, value in eager.items() for _ in pytree.tree_leaves(value)]
        raise AssertionError(f"{exc}\noutputs in order: {leaves}") from None


def _ids(cases):
    return [c[0] for c in cases]


# (id, fn, input shape)
FLOAT_CASES = [
    ("sum_all", lambda x: x.sum(), (2, 3, 4)),
    ("sum_dim", lambda x: x.sum(1), (2, 3, 4)),
    ("sum_last_keep", lambda x: x.sum(-1, keepdim=True), (2, 3, 5)),
    ("sum_first", lambda x: x.sum(0), (5, 3)),
    ("sum_two_dims", lambda x: x.sum((0, 2)), (2, 3, 4)),
    ("sum_two_dims_keep", lambda x: x.sum((0, -1), keepdim=True), (2, 3, 4)),
    ("sum_alternate", lambda x: x.sum((1, 3)), (2, 3, 4, 5)),
    ("sum_size1_dim", lambda x: x.sum(1), (3, 1, 4)),
    ("sum_rank1", lambda x: x.sum(0), (7,)),
    ("sum_rank0", lambda x: x.sum(), ()),
    ("sum_wide", lambda x: x.sum(0), (3, 150)),
    ("mean_all", lambda x: x.mean(), (2, 3, 4)),
    ("mean_dim", lambda x: x.mean(-1), (2, 3, 4)),
    ("mean_hw_keep", lambda x: x.mean((2, 3), keepdim=True), (2, 3, 4, 5)),
    ("mean_channels", lambda x: x.mean(1), (2, 3, 4, 5)),
    ("mean_rank0", lambda x: x.mean(), ()),
    ("amax", lambda x: x.amax(1), (2, 3, 4)),
    ("amax_multi_keep", lambda x: x.amax((0, 2), keepdim=True), (2, 3, 4)),
    ("amin", lambda x: x.amin(-1), (2, 3, 4)),
    ("amin_all", lambda x: x.amin((0, 1, 2)), (2, 3, 4)),
    ("max_all", lambda x: x.max(), (2, 3, 4)),
    ("min_all", lambda x: x.min(), (3, 5)),
    ("prod_dim", lambda x: x.prod(1), (2, 3, 4)),
    ("prod_all", lambda x: x.prod(), (2, 3)),
    ("prod_first_keep", lambda x: x.prod(0, keepdim=True), (3, 4)),
    ("var_dim", lambda x: x.var(1), (2, 5, 4)),
    ("var_all", lambda x: x.var(), (2, 3, 4)),
    ("var_unbiased0", lambda x: x.var(-1, unbiased=False), (2, 3, 6)),
    ("var_correction2_keep", lambda x: torch.var(x, (0, 2), correction=2, keepdim=True), (2, 3, 4)),
    ("norm_dim", lambda x: x.norm(dim=1), (2, 3, 4)),
    ("vector_norm_last_keep", lambda x: torch.linalg.vector_norm(x, 2, dim=-1, keepdim=True), (2, 3, 4)),
    ("vector_norm_all", lambda x: torch.linalg.vector_norm(x), (3, 4)),
]

ARG_CASES = [
    ("argmax_all", lambda x: x.argmax(), (2, 3, 4)),
    ("argmax_all_keep", lambda x: x.argmax(keepdim=True), (2, 3, 4)),
    ("argmax_dim", lambda x: x.argmax(1), (2, 3, 4)),
    ("argmax_last_keep", lambda x: x.argmax(-1, keepdim=True), (2, 3, 5)),
    ("argmin_first", lambda x: x.argmin(0), (4, 3)),
    ("argmin_all", lambda x: x.argmin(), (7,)),
    ("argmax_wide_inner", lambda x: x.argmax(1), (2, 3, 150)),
    ("argmax_rank0", lambda x: x.argmax(), ()),
    ("max_dim", lambda x: tuple(x.max(1)), (2, 3, 4)),
    ("max_dim_keep_neg", lambda x: tuple(x.max(-1, keepdim=True)), (2, 3, 4)),
    ("min_dim", lambda x: tuple(x.min(0)), (3, 4)),
]


def test_float_reductions(check_eager):
    check_bundle(check_eager, FLOAT_CASES, torch.float32)


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.int32], ids=str)
def test_arg_reductions(check_eager, dtype):
    check_bundle(check_eager, ARG_CASES, dtype)


INT_CASES = [
    ("sum_all", lambda x: x.sum(), (2, 3, 4)),
    ("sum_dim", lambda x: x.sum(1), (2, 3, 4)),
    ("sum_two_dims_keep", lambda x: x.sum((0, 2), keepdim=True), (2, 3, 4)),
    ("sum_lanes", lambda x: x.sum(0), (3, 70)),
    ("prod_dim", lambda x: x.prod(-1), (2, 3, 4)),
    ("amax", lambda x: x.amax(1), (2, 3, 4)),
    ("amin_keep", lambda x: x.amin(0, keepdim=True), (3, 4)),
    ("max_all", lambda x: x.max(), (2, 3)),
    ("min_all", lambda x: x.min(), (2, 3)),
    ("any_dim", lambda x: x.any(1), (2, 3, 4)),
]


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32], ids=str)
def test_int_reductions(check_eager, dtype):
    # torch sums and multiplies int32 into int64; the kernel accumulates in int64 and writes the out dtype
    check_bundle(check_eager, INT_CASES, dtype)


BOOL_CASES = [
    ("any_all", lambda x: x.any(), (2, 3, 4)),
    ("any_dim", lambda x: x.any(1), (2, 3, 4)),
    ("any_dims_keep", lambda x: x.any((0, 2), keepdim=True), (2, 3, 4)),
    ("any_lanes", lambda x: x.any(0), (4, 70)),
    ("sum_bool", lambda x: x.sum(1), (2, 3, 4)),
    ("amax_bool", lambda x: x.amax(1), (2, 3, 4)),
]


def test_bool_reductions(check_eager):
    check_bundle(check_eager, BOOL_CASES, torch.bool)


def test_any_of_all_false_and_all_true(check_eager):
    check_eager(Fn(lambda x, y: (x.any(1), x.any(), y.any(0), y.any())),
                (torch.zeros(2, 3, dtype=torch.bool), torch.ones(3, 2, dtype=torch.bool)))


@pytest.mark.parametrize("dtype", [torch.bool, torch.int64, torch.float32], ids=str)
def test_all(check_eager, dtype):
    x = make((2, 3, 4), dtype)
    x[0, 1] = 1
    check_eager(Fn(lambda x: (x.all(), x.all(1), x.all(-1, keepdim=True))), (x,))


def check_with_nan(module, inputs, tol=1e-4):
    """Like check_eager, with NaN allowed where eager has NaN (the shared helper treats NaN as a mismatch)."""
    with torch.no_grad():
        expected = pytree.tree_leaves(module(*inputs))
    got, _ = run_in_runtime(module, inputs)
    for i, (e, g) in enumerate(zip(expected, pytree.tree_leaves(got))):
        assert g.shape == e.shape and g.dtype == e.dtype, f"output {i}: {g.dtype}{list(g.shape)} != {e.dtype}{list(e.shape)}"
        torch.testing.assert_close(g, e, rtol=tol, atol=tol, equal_nan=True, msg=lambda m: f"output {i}: {m}")


def test_any_float_input(check_eager):
    x = torch.tensor([[0.0, 0.0, 1.5], [0.0, 0.0, 0.0]])
    check_eager(Fn(lambda x: (x.any(1), x.any())), (x,))


def test_nan_propagation():
    x = make((3, 5))
    x[1, 2] = float("nan")
    x[2, 0] = float("nan")
    x[2, 3] = float("nan")
    check_with_nan(Fn(lambda x: (x.amax(1), x.amin(0), x.argmax(1), x.argmin(1), x.sum(1), x.max(), tuple(x.max(0)))), (x,))


def test_ties_pick_first_index(check_eager):
    x = torch.tensor([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-1.0, -5.0, 4.0, -5.0]])
    check_eager(Fn(lambda x: (x.argmax(1), x.argmin(1), tuple(x.max(1)), tuple(x.min(1)), x.argmax(0))), (x,))


def test_empty_reductions():
    check_with_nan(Fn(lambda x: (x.sum(1), x.prod(1), x.any(1), x.mean(1), x.var(1), x.norm(dim=1))), (make((2, 0, 3)),))


def test_var_with_too_few_elements():
    # N - correction <= 0: torch gives NaN (0/0) or inf
    check_with_nan(Fn(lambda x, y: (x.var(1), torch.var(y, 1, correction=2), torch.var(y, 1, correction=3))),
                   (make((2, 1)), make((3, 2))))


def test_empty_batch(check_eager):
    check_eager(Fn(lambda x: (x.sum(1), x.amax(1), x.argmax(1))), (make((0, 3)),))


def test_large_sum_precision(check_eager):
    check_eager(Fn(lambda x: (x.sum(), x.mean(0), x.var(1))), (make((64, 512)) + 3.0,), tol=1e-5)


PARALLEL_CASES = [
    ("sum_last", lambda x: x.sum(-1), (64, 33, 40)),
    ("mean_mid_keep", lambda x: x.mean(1, keepdim=True), (16, 40, 70)),
    ("amax_first", lambda x: x.amax(0), (40, 33, 40)),
    ("var_hw", lambda x: x.var((2, 3)), (4, 16, 20, 20)),
    ("argmax_last", lambda x: x.argmax(-1), (64, 33, 40)),
    ("argmin_mid", lambda x: x.argmin(1), (16, 40, 70)),
    ("max_dim", lambda x: tuple(x.max(1)), (16, 40, 70)),
]


def test_two_threads(check_eager):
    check_bundle(check_eager, PARALLEL_CASES, torch.float32, threads=2)


class Classifier(torch.nn.Module):
    """Embedding + mean pooling + linear head; returns logits and the argmax class (no topk)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.emb = torch.nn.Embedding(50, 16)
        self.head = torch.nn.Linear(16, 5)

    def forward(self, tokens):
        pooled = self.emb(tokens).mean(dim=1)
        logits = self.head(pooled)
        return logits, logits.argmax(dim=-1)


@pytest.mark.parametrize("threads", [1, 2])
def test_embedding_mean_pool_argmax_head(check_eager, threads):
    tokens = torch.randint(0, 50, (4, 9), generator=torch.Generator().manual_seed(2))
    check_eager(Classifier(), (tokens,), threads=threads)


def test_vector_norm_other_ord_unsupported():
    with pytest.raises(errors.UnsupportedOpError, match="linalg_vector_norm"):
        pockettorch.export(Fn(lambda x: torch.linalg.vector_norm(x, 3, dim=1)), (make((2, 3)),))


# -- prepare() validates parameters (what a corrupted or hostile file may carry) --

TAMPER_CASES = [
    ("reduce", dict(kind=99)),
    ("reduce", dict(kind=-1)),
    ("reduce", dict(axes=[3])),
    ("reduce", dict(axes=[-1])),
    ("reduce", dict(axes=[1, 1])),
    ("reduce", dict(axes=[0])),  # output shape no longer matches
    ("reduce", dict(axes=[0, 1, 2])),
    ("arg_reduce", dict(kind=5)),
    ("arg_reduce", dict(axis=3)),
    ("arg_reduce", dict(axis=0)),
]


@pytest.fixture(scope="module")
def exported():
    return pockettorch.export(Fn(lambda x: (x.sum(1), x.argmax(1))), (make((2, 3, 4)),))


@pytest.mark.parametrize("op,params", TAMPER_CASES, ids=[f"{op}-{p}" for op, p in TAMPER_CASES])
def test_prepare_rejects_bad_params(exported, op, params):
    data = bytes_with_params(exported, op, params)
    with pytest.raises((errors.BadParamsError, errors.BadOperandsError)):
        pockettorch.load(data)


def test_prepare_rejects_wrong_dtypes(exported):
    node = next(n for n in exported.graph.nodes if n.op == "reduce")
    node.params["kind"] = 1  # MEAN of the float input into ... keep valid; then break the output dtype
    out = node.outputs[0]
    saved = out.dtype
    try:
        out.dtype = "int64"
        exported._bytes = None
        data = exported.to_bytes()
    finally:
        out.dtype = saved
        node.params["kind"] = 0
        exported._bytes = None
    with pytest.raises(errors.BadOperandsError):
        pockettorch.load(data)
