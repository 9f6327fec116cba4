"""Indexing, scatter, sorting, bags and cumulative ops through the whole chain (export -> .ptm -> C runtime)
against eager torch: advanced indexing with several index tensors (None gaps, broadcasting between them),
index_put (both accumulate modes, bool masks), scatter / scatter_add / scatter_reduce, gather in every dim,
as_strided, unfold, roll, sort / argsort / topk, embedding_bag, cumsum / cumprod in every dim. Index values
are data: out-of-range ones raise IndexOutOfRangeError (negative ones wrap where torch wraps them), and
hostile parameters in a file are refused at load."""
from __future__ import annotations

import pytest
import torch

import pockettorch
from pockettorch import errors
from support import bytes_with_params

F32, I64, I32, BOOL = torch.float32, torch.int64, torch.int32, torch.bool


class Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def make(shape, dtype=F32, seed=0):
    g = torch.Generator().manual_seed(seed)
    if dtype == BOOL:
        return torch.rand(shape, generator=g) > 0.5
    if dtype.is_floating_point:
        return torch.randn(shape, generator=g).to(dtype)
    return torch.randint(-50, 50, shape, generator=g).to(dtype)


def idx(shape, high, low=0, dtype=I64, seed=3):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(low, high, shape, generator=g).to(dtype)


def distinct(shape, seed=0):
    """Floats with no ties (sort and topk order ties by position, and topk's tie order is torch's own)."""
    g = torch.Generator().manual_seed(seed)
    n = 1
    for d in shape:
        n *= d
    return (torch.randperm(n, generator=g).float() / 7 - 3).reshape(shape)


def with_specials(x):
    x = x.clone()
    flat = x.view(-1)
    flat[1], flat[4], flat[-2] = float("nan"), float("inf"), float("-inf")
    return x


INDEX_PUT = torch.ops.aten.index_put.default  # takes None for whole dims, as x[:, i] = v makes


def _load(module, inputs):
    return pockettorch.load(pockettorch.export(module, inputs).to_bytes())


# -- advanced indexing --

@pytest.mark.parametrize("dtype", [F32, I64, BOOL], ids=str)
@pytest.mark.parametrize("idx_dtype", [I64, I32], ids=str)
def test_advanced_index(check_eager, dtype, idx_dtype):
    x3, x4 = make((5, 4, 6), dtype), make((3, 5, 4, 6), dtype, seed=1)
    i = idx((2, 3), 5, low=-5, dtype=idx_dtype, seed=1)
    j = idx((3,), 4, low=-4, dtype=idx_dtype, seed=2)       # broadcasts against i
    k = idx((2, 1), 6, low=-6, dtype=idx_dtype, seed=3)     # broadcasts against i and j
    check_eager(Fn(lambda x3, x4, i, j, k: (
        x3[i, j],            # first two dims, broadcast
        x3[i, j, k],         # every dim
        x3[:, j, k],         # None before: B stays in place
        x3[i, :, k],         # a None gap: B goes first
        x4[:, i, :, k],      # a gap after a leading None
        x4[1:, i, j],        # after a slice
        x3[i.reshape(-1), 2],  # a scalar index with a tensor
    )), (x3, x4, i, j, k))


def test_advanced_index_constant_and_parallel(check_eager):
    x = make((64, 40, 48))
    check_eager(Fn(lambda x, i, j: (x[i, j], x[[0, -1, 2], [1, 1, -3]])),
                (x, idx((30, 20), 64, low=-64), idx((20,), 40, low=-40)), threads=2)


def test_advanced_index_out_of_range_raises():
    m = _load(Fn(lambda x, i, j: x[i, :, j]), (make((4, 3, 5)), idx((2,), 4), idx((2,), 5)))
    for bad_i, bad_j in (([0, 4], [0, 1]), ([0, 1], [5, 0]), ([-5, 0], [0, 0]), ([0, 0], [0, -6]),
                         ([1 << 62, 0], [0, 0])):
        with pytest.raises(errors.IndexOutOfRangeError):
            m(make((4, 3, 5)), torch.tensor(bad_i), torch.tensor(bad_j))
    x = make((4, 3, 5))
    i, j = torch.tensor([-4, 3]), torch.tensor([-5, 4])
    assert torch.equal(m(x, i, j), x[i, :, j])  # the session still runs, negative indices wrap


# -- index_put --

@pytest.mark.parametrize("accumulate", [False, True], ids=["put", "accumulate"])
@pytest.mark.parametrize("dtype", [F32, I64, I32], ids=str)
def test_index_put(check_eager, accumulate, dtype):
    x, v = make((5, 4, 6), dtype), make((2, 6), dtype, seed=1)
    i, j = torch.tensor([1, -1]), torch.tensor([[0], [3]])  # broadcast to [2, 2]
    dup = torch.tensor([2, 0, 2, -3])                           # duplicates: the last wins / all add up
    v2, v4, v5, v0 = (make(s, dtype, seed=k) for k, s in enumerate([(2, 4, 6), (4, 4, 6), (2, 4), ()]))
    check_eager(Fn(lambda x, v, i, j, dup: (
        torch.index_put(x, (i,), v2, accumulate),
        torch.index_put(x, (i, j), v[:1], accumulate),                       # values broadcast
        torch.index_put(x, (dup,), v4, accumulate),
        INDEX_PUT(x, [None, i], v.unsqueeze(0), accumulate),                # None before
        INDEX_PUT(x, [i, None, torch.tensor([5, 0])], v5, accumulate),      # a gap
        torch.index_put(x, (i, j, dup[:1]), v0, accumulate),                # a scalar value
    )), (x, v, i, j, dup))


def test_setitem_and_bool_mask_put(check_eager):
    def fn(x, m, m2, i):
        y = x.clone()
        y[i, 1] = 7.0            # index_put through __setitem__
        z = x.clone()
        z[m] = -1.0              # a bool mask over the leading dims: a where, no nonzero
        w = x.clone()
        w[:, m2] = float("nan")  # a mask after a None
        acc = torch.index_put(x, (m,), torch.tensor(2.0), accumulate=True)
        return y, z, w, acc

    check_eager(Fn(fn), (with_specials(make((3, 4, 5))), make((3, 4), BOOL), make((4,), BOOL, seed=1),
                         torch.tensor([0, -1])))


def test_slice_assignment(check_eager):
    """x[:, i] = v and x[a:b:s] = v: functionalization makes copy + select_scatter / slice_scatter of them."""
    def fn(x, v):
        y = x.clone()
        y[:, 1] = v
        z = x.clone()
        z[:, 1:4:2] = 3.0
        w = x.clone()
        w[-1] = float("inf")
        u = x.clone()
        u[..., -2:] = v[:, :2].unsqueeze(1)
        t = x.clone()
        t[:, 7:] = 1.0  # an empty slice changes nothing
        return y, z, w, u, t

    check_eager(Fn(fn), (with_specials(make((3, 5, 4))), make((3, 4), seed=1)))


def test_index_put_out_of_range_raises():
    m = _load(Fn(lambda x, i, v: torch.index_put(x, (i,), v, True)), (make((4, 3)), idx((2,), 4), make((2, 3))))
    for bad in ([0, 4], [-5, 0]):
        with pytest.raises(errors.IndexOutOfRangeError):
            m(make((4, 3)), torch.tensor(bad), make((2, 3)))


# -- scatter --

@pytest.mark.parametrize("dim", [0, 1, 2, -1])
@pytest.mark.parametrize("dtype", [F32, I64, I32], ids=str)
def test_scatter_every_dim(check_eager, dim, dtype):
    x, src = make((4, 5, 6), dtype), make((4, 5, 6), dtype, seed=1)
    size = x.shape[dim]
    i = idx((3, 4, 5), size, seed=4)  # smaller than x and src in every dim, duplicates included
    check_eager(Fn(lambda x, i, src: (
        x.scatter(dim, i, src), x.scatter(dim, i, 3), x.scatter_add(dim, i, src),
        x.scatter_reduce(dim, i, src, "sum", include_self=False),
        x.scatter_reduce(dim, i, src, "prod"),
        x.scatter_reduce(dim, i, src, "amax"), x.scatter_reduce(dim, i, src, "amin", include_self=False),
    )), (x, i, src))


def test_scatter_mean_and_nan(check_eager):
    x, src = with_specials(make((4, 6))), with_specials(make((4, 6), seed=1))
    i = idx((4, 6), 6, seed=5)
    check_eager(Fn(lambda x, i, src: (
        x.scatter_reduce(1, i, src, "mean"), x.scatter_reduce(1, i, src, "mean", include_self=False),
        x.scatter_reduce(1, i, src, "amax"), x.scatter_reduce(1, i, src, "amin"), x.scatter_add(1, i, src),
    )), (x, i, src))


def test_scatter_out_of_range_raises():
    m = _load(Fn(lambda x, i, s: x.scatter_add(1, i, s)), (make((2, 4)), idx((2, 2), 4), make((2, 2))))
    for bad in ([[0, 4], [1, 1]], [[0, -1], [1, 1]]):  # torch.scatter does not wrap negative indices either
        with pytest.raises(errors.IndexOutOfRangeError):
            m(make((2, 4)), torch.tensor(bad), make((2, 2)))


# -- gather, roll, unfold, as_strided --

@pytest.mark.parametrize("dtype", [F32, I64, BOOL], ids=str)
def test_gather_every_dim(check_eager, dtype):
    x = make((4, 5, 6, 3), dtype)
    outs = [(d, idx(tuple(s - 1 if k != d else 7 for k, s in enumerate(x.shape)), x.shape[d], seed=d))
            for d in range(4)]
    check_eager(Fn(lambda x, *ii: tuple(x.gather(d, i) for (d, _), i in zip(outs, ii)) + (x.gather(-1, ii[3]),)),
                (x, *[i for _, i in outs]))


def test_roll_unfold_as_strided(check_eager):
    x = with_specials(make((3, 8, 5)))
    check_eager(Fn(lambda x: (
        torch.roll(x, 2, 1), torch.roll(x, (-1, 7), (0, 2)), torch.roll(x, 5),
        x.unfold(1, 3, 2), x.unfold(0, 2, 1), x.unfold(-1, 5, 5), x.unfold(2, 2, 3),
        x.as_strided((3, 4), (40, 2)), x.as_strided((2, 2, 3), (5, 1, 40), 1),
        x.transpose(1, 2).as_strided((2, 5), (1, 8)),  # strides of a transposed view: x's own storage
    )), (x,))


def test_adaptive_avg_pool1d(check_eager):
    """torch.export leaves AdaptiveAvgPool1d(1) of a transposed tensor as mean + as_strided (Swin's head)."""
    pool = torch.nn.AdaptiveAvgPool1d(1)
    check_eager(Fn(lambda x: pool(x.transpose(1, 2)).flatten(1)), (make((2, 9, 16)),))


def test_as_strided_outside_the_input_is_unsupported():
    with pytest.raises(errors.UnsupportedOpError, match="as_strided"):
        pockettorch.export(Fn(lambda x: x[:, :2].as_strided((3, 3), (4, 1))), (make((3, 4)),))


# -- sort / argsort / topk --

def plain(*results):
    """torch.return_types (sort, topk) as plain tuples, as the runtime returns them."""
    return tuple(tuple(r) if isinstance(r, tuple) else r for r in results)


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_sort_topk_every_dim(check_eager, dim):
    x = distinct((4, 5, 6))
    k = 3
    check_eager(Fn(lambda x, xi: plain(
        torch.sort(x, dim), torch.sort(x, dim, descending=True), torch.argsort(x, dim),
        torch.topk(x, k, dim), torch.topk(x, k, dim, largest=False), torch.sort(xi, dim),
        torch.topk((x * 7).int(), 2, dim), torch.sort(xi, stable=True, dim=dim, descending=True),
    )), (x, idx((4, 5, 6), 4, seed=9)))  # int ties: a stable sort keeps their order


def test_sort_nan_inf(check_eager):
    x = with_specials(distinct((3, 7)))
    check_eager(Fn(lambda x: plain(torch.sort(x), torch.sort(x, descending=True), torch.topk(x, 2),
                              torch.topk(x, 3, largest=False))), (x,))


# -- embedding_bag --

class Bag(torch.nn.Module):
    def __init__(self, mode, padding_idx=None, include_last_offset=False):
        super().__init__()
        torch.manual_seed(0)
        self.bag = torch.nn.EmbeddingBag(12, 5, mode=mode, padding_idx=padding_idx,
                                         include_last_offset=include_last_offset)

    def forward(self, *args):
        return self.bag(*args)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag(check_eager, mode):
    tokens, offsets = torch.tensor([1, 4, 4, 0, 11, 3, 7]), torch.tensor([0, 2, 2, 5])  # an empty bag
    check_eager(Bag(mode), (idx((3, 4), 12),))
    check_eager(Bag(mode), (tokens, offsets))
    check_eager(Bag(mode, padding_idx=4), (tokens, offsets))
    check_eager(Bag(mode, include_last_offset=True), (tokens, torch.tensor([0, 2, 2, 5, 7])))


def test_embedding_bag_per_sample_weights(check_eager):
    check_eager(Bag("sum"), (torch.tensor([1, 4, 4, 0, 11]), torch.tensor([0, 2]), make((5,))))


def test_embedding_bag_bad_indices_and_offsets_raise():
    m = _load(Bag("mean"), (torch.tensor([1, 4, 4, 0]), torch.tensor([0, 2])))
    for tokens, offsets in (([1, 12, 4, 0], [0, 2]), ([1, -1, 4, 0], [0, 2]), ([1, 2, 4, 0], [1, 2]),
                            ([1, 2, 4, 0], [0, 5]), ([1, 2, 4, 0], [0, -1])):
        with pytest.raises(errors.IndexOutOfRangeError):
            m(torch.tensor(tokens), torch.tensor(offsets))


# -- cumulative ops --

@pytest.mark.parametrize("dtype", [F32, I64, I32], ids=str)
def test_cumsum_cumprod_every_dim(check_eager, dtype):
    x = make((3, 4, 5), dtype) if dtype != F32 else with_specials(make((3, 4, 5)))
    small = (x % 3 + 1) if dtype != F32 else x  # integer products that stay exact
    check_eager(Fn(lambda x, s: tuple(torch.cumsum(x, d) for d in (0, 1, 2, -1)) +
                   tuple(torch.cumprod(s, d) for d in (0, 1, 2, -1))), (x, small))


def test_cumprod_promotes_bool(check_eager):
    check_eager(Fn(lambda m: (torch.cumprod(m, 1), torch.cumsum(m, 0))), (make((3, 4), BOOL),))


# -- the loader refuses hostile parameters --

TAMPER_MODELS = {
    "advanced_index": (Fn(lambda x, i, j: x[i, j]), lambda: (make((3, 4)), idx((2,), 3), idx((2,), 4))),
    "index_put": (Fn(lambda x, i, v: torch.index_put(x, (i,), v)), lambda: (make((3, 4)), idx((2,), 3), make((2, 4)))),
    "scatter": (Fn(lambda x, i, s: x.scatter_add(1, i, s)), lambda: (make((3, 4)), idx((3, 2), 4), make((3, 2)))),
    "sort": (Fn(lambda x: torch.topk(x, 2)), lambda: (make((3, 4)),)),
    "embedding_bag": (Bag("sum"), lambda: (torch.tensor([1, 2, 3]), torch.tensor([0, 1]))),
    "cumprod": (Fn(lambda x: torch.cumprod(x, 1)), lambda: (make((3, 4)),)),
}

TAMPER_CASES = [
    ("advanced_index", dict(axis=1)), ("advanced_index", dict(axis=-1)), ("advanced_index", dict(axis=1 << 40)),
    ("index_put", dict(axis=1)), ("index_put", dict(axis=-3)), ("index_put", dict(accumulate=2)),
    ("scatter", dict(axis=2)), ("scatter", dict(axis=-1)), ("scatter", dict(reduce=6)), ("scatter", dict(reduce=-1)),
    ("scatter", dict(include_self=2)),
    ("sort", dict(axis=2)), ("sort", dict(axis=-1)), ("sort", dict(descending=-1)),
    ("embedding_bag", dict(mode=3)), ("embedding_bag", dict(mode=-1)), ("embedding_bag", dict(padding_idx=12)),
    ("embedding_bag", dict(padding_idx=-2)), ("embedding_bag", dict(include_last_offset=1)),
    ("embedding_bag", dict(include_last_offset=5)),
    ("cumprod", dict(axis=2)), ("cumprod", dict(axis=-1)),
]


@pytest.fixture(scope="module")
def exported():
    return {op: pockettorch.export(m, make_inputs()) for op, (m, make_inputs) in TAMPER_MODELS.items()}


@pytest.mark.parametrize("op,params", TAMPER_CASES, ids=[f"{op}-{p}" for op, p in TAMPER_CASES])
def test_prepare_rejects_bad_params(exported, op, params):
    with pytest.raises((errors.BadParamsError, errors.BadOperandsError)):
        pockettorch.load(bytes_with_params(exported[op], op, params))


# -- hostile parameters and shapes: load fails cleanly or the program runs in bounds --

FUZZ_VALUES = [0, 1, 2, 3, -1, -2, 4, 5, 7, 1 << 31, (1 << 31) - 1, 1 << 62, -(1 << 63), (1 << 63) - 1]


def test_fuzzed_params_and_shapes_fail_cleanly():
    import random
    import struct

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bag = torch.nn.EmbeddingBag(6, 3, mode="max")

        def forward(self, x, i, j, t, o):
            return (x[i, :, j], torch.index_put(x, (i,), x[:2], True), x.scatter_reduce(1, j.view(1, 2, 1).expand(3, 2, 5), x[:, :2], "amax"),
                    torch.topk(x, 2, 1), self.bag(t, o), torch.cumprod(x, 2))

    rng = random.Random(0)
    inputs = (make((3, 4, 5)), idx((2,), 3), idx((2,), 4), idx((5,), 6), torch.tensor([0, 2]))
    program = pockettorch.export(M(), inputs)
    nodes = program.graph.nodes
    originals = [dict(n.params) for n in nodes]
    io = {id(t) for t in program.graph.inputs + program.graph.outputs}
    inner = [t for n in nodes for t in n.outputs if id(t) not in io]
    shapes = {id(t): t.shape for t in inner}
    outcomes = {"ran": 0, "rejected": 0}
    for it in range(300):
        node = rng.choice(nodes)
        if it % 2 and inner:
            t = rng.choice(inner)
            dims = [rng.choice([0, 1, 2, 3, 4, 5]) for _ in range(rng.choice([0, 1, 2, 3, 4]))]
            if int(torch.tensor(dims, dtype=torch.int64).prod()) <= t.numel:
                t.shape = tuple(dims)
        for name, value in list(node.params.items()):
            if rng.random() < 0.5:
                continue
            if isinstance(value, list):
                node.params[name] = [rng.choice(FUZZ_VALUES + value) for _ in range(rng.choice([0, 1, len(value), 3]))]
            else:
                node.params[name] = rng.choice(FUZZ_VALUES)
        program._bytes = None
        try:
            pockettorch.load(program.to_bytes())(*inputs)
            outcomes["ran"] += 1
        except (errors.BadParamsError, errors.BadOperandsError, errors.IndexOutOfRangeError):
            outcomes["rejected"] += 1
        except (OverflowError, ValueError, struct.error):
            pass  # the serializer refused a value that does not fit in int64
        finally:
            for n, p in zip(nodes, originals):
                n.params.clear()
                n.params.update(p)
            for t in inner:
                t.shape = shapes[id(t)]
    assert outcomes["rejected"] > 50 and outcomes["ran"] > 10, outcomes


def test_masking_patterns(check_eager):
    """nonzero-free masking: masked_fill with bool masks and where with masks that broadcast both ways."""
    x = with_specials(make((2, 3, 4)))
    m_row, m_col, m_full = make((3, 1), BOOL), make((4,), BOOL, seed=1), make((2, 3, 4), BOOL, seed=2)
    check_eager(Fn(lambda x, a, b, c: (
        x.masked_fill(a, float("-inf")), x.masked_fill(b, 0.0), x.masked_fill(c, float("nan")),
        torch.where(a, x, x.new_zeros(())), torch.where(a & b, x, -x), torch.where(b, 1.0, x),
        torch.where(c, (x * 2).long(), 7), (x > 0) & b, a.long().cumsum(0),
    )), (x, m_row, m_col, m_full))


def test_values_that_alias_the_target(check_eager):
    """index_put and scatter may write over x's buffer: values that are x itself (or a view of it) must be
    read as they were, not as the writes leave them."""
    p = torch.tensor([3, 0, 1, 2])
    check_eager(Fn(lambda x, p: (
        (lambda y: torch.index_put(y, (p,), y.reshape(2, 6).reshape(4, 3)))(x + 1),
        (lambda y: y.scatter(0, p.view(4, 1).expand(4, 3), y.view(12).view(4, 3)))(x + 1),
        (lambda y: torch.index_put(y, (p,), y, True))(x * 2),
    )), (make((4, 3)), p))
