"""Shape / data-movement ops through the whole chain (export -> .ptm -> C runtime) against eager torch:
permute, slice (select, split, narrow), concat, expand/repeat, take (embedding, index_select, index),
gather. Models here use only these ops (plus reshape), so they run on a build with just these kernels."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils import _pytree as pytree

import pockettorch
from pockettorch import errors
from support import bytes_with_params

DTYPES = [torch.float32, torch.int64, torch.int32, torch.bool]


class Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def make(shape, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    if dtype == torch.bool:
        return torch.rand(shape, generator=g) > 0.5
    if dtype.is_floating_point:
        return torch.randn(shape, generator=g).to(dtype)
    return torch.randint(-50, 50, shape, generator=g).to(dtype)


# Cases are bundled per group into one module (one export per group and dtype keeps the file fast);
# a failure names the case. (id, fn, input shapes); every group runs for every dtype in DTYPES.
MOVE_CASES = {
    "permute": [
        ("permute_3d", lambda x: x.permute(2, 0, 1), [(2, 3, 4)]),
        ("permute_neg", lambda x: x.permute(-1, -3, -2), [(2, 3, 5)]),
        ("permute_4d_nchw_nhwc", lambda x: x.permute(0, 2, 3, 1), [(2, 3, 4, 5)]),
        ("permute_size1", lambda x: x.permute(1, 0, 2), [(1, 3, 1)]),
        ("permute_big_transpose", lambda x: x.permute(0, 2, 1), [(2, 33, 40)]),
        ("t", lambda x: x.t(), [(3, 5)]),
        ("transpose", lambda x: x.transpose(0, -1), [(2, 3, 4)]),
    ],
    "slice": [
        ("slice_basic", lambda x: x[:, 1:3], [(2, 5, 3)]),
        ("slice_neg_start", lambda x: x[:, -2:], [(2, 5, 3)]),
        ("slice_neg_end", lambda x: x[:, :-1], [(2, 5, 3)]),
        ("slice_step", lambda x: x[:, ::2], [(2, 7, 3)]),
        ("slice_step3_last", lambda x: x[..., 1::3], [(2, 3, 10)]),
        ("slice_end_past", lambda x: x[1:100], [(4, 3)]),
        ("slice_start_past", lambda x: x[-100:2], [(4, 3)]),
        ("slice_rank1", lambda x: x[2:9:3], [(11,)]),
        ("slice_empty", lambda x: x[:, 3:2], [(2, 5)]),
        ("slice_two_axes", lambda x: x[1:, :, 2:4], [(3, 2, 5)]),
        ("select", lambda x: x[:, 1], [(2, 3, 4)]),
        ("select_neg", lambda x: x[-1], [(3, 4)]),
        ("select_rank1", lambda x: x[2], [(5,)]),
        ("split_sizes", lambda x: x.split([1, 3], dim=2), [(2, 3, 4)]),
        ("split_uneven", lambda x: x.split(2, dim=-1), [(2, 3, 5)]),
        ("chunk", lambda x: x.chunk(3, dim=1), [(2, 6, 2)]),
        ("unbind", lambda x: x.unbind(1), [(2, 3, 2)]),
        ("narrow", lambda x: x.narrow(1, 1, 2), [(2, 4, 3)]),
        ("narrow_neg", lambda x: x.narrow(-1, -3, 2), [(2, 4, 5)]),
    ],
    "concat": [
        ("cat_two", lambda x, y: torch.cat([x, y], dim=1), [(2, 3, 4), (2, 1, 4)]),
        ("cat_axis0", lambda x, y: torch.cat([x, y]), [(2, 3), (4, 3)]),
        ("cat_last_neg", lambda x, y, z: torch.cat([x, y, z], dim=-1), [(2, 3, 1), (2, 3, 4), (2, 3, 2)]),
        ("cat_same_input", lambda x: torch.cat([x, x, x], dim=0), [(2, 3)]),
        ("cat_rank1", lambda x, y: torch.cat([x, y]), [(3,), (5,)]),
        ("cat_with_empty", lambda x, y: torch.cat([x, y[:, :0], x], dim=1), [(2, 3), (2, 2)]),
        ("cat_single", lambda x: torch.cat([x[:, 1:]], dim=1), [(2, 3)]),
        ("stack", lambda x, y: torch.stack([x, y], dim=1), [(2, 3), (2, 3)]),
        ("cat_many", lambda x: torch.cat([x[:, i % 3:i % 3 + 1] for i in range(70)], dim=1), [(2, 3)]),
    ],
    "expand": [
        ("expand_size1", lambda x: x.expand(2, 5, 4), [(2, 1, 4)]),
        ("expand_new_dims", lambda x: x.expand(3, 2, 4), [(4,)]),
        ("expand_minus1", lambda x: x.expand(3, -1, -1), [(1, 2, 3)]),
        ("expand_scalar", lambda x: x.expand(2, 3), [()]),
        ("expand_multi", lambda x: x.expand(2, 3, 4, 5), [(2, 1, 4, 1)]),
        ("repeat", lambda x: x.repeat(2, 3), [(2, 3)]),
        ("repeat_new_dims", lambda x: x.repeat(2, 1, 1, 3), [(2, 3, 4)]),
        ("repeat_ones_mixed", lambda x: x.repeat(1, 2, 1), [(2, 3, 2)]),
        ("repeat_size1", lambda x: x.repeat(3, 2), [(1, 4)]),
    ],
}


class Bundle(torch.nn.Module):
    """Runs several cases side by side; returns {case id: output}."""

    def __init__(self, cases):
        super().__init__()
        self.cases = [(name, fn, len(shapes)) for name, fn, shapes in cases]

    def forward(self, *args):
        out, k = {}, 0
        for name, fn, n in self.cases:
            out[name] = fn(*args[k:k + n])
            k += n
        return out


def check_bundle(check_eager, cases, inputs, threads=1):
    """check_eager on a Bundle; a mismatch names the case each flattened output belongs to."""
    module = Bundle(cases)
    try:
        check_eager(module, tuple(inputs), threads=threads)
    except AssertionError as exc:
        with torch.no_grad():
            eager = module(*inputs)
        leaves = [name for name, value in eager.items() for _ in pytree.tree_leaves(value)]
        raise AssertionError(f"{exc}\noutputs in order: {leaves}") from None


def bundle_inputs(cases, dtype):
    return [make(s, dtype, seed=i) for _, _, shapes in cases for i, s in enumerate(shapes)]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: str(d).removeprefix("torch."))
@pytest.mark.parametrize("group", list(MOVE_CASES))
def test_data_movement(check_eager, group, dtype):
    check_bundle(check_eager, MOVE_CASES[group], bundle_inputs(MOVE_CASES[group], dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64])
def test_permute_slice_reshape(check_eager, dtype):
    # reshape of a non-contiguous view copies through aten.clone
    check_eager(Fn(lambda x: x.permute(0, 2, 1)[:, 1:5:2].reshape(2, -1)), (make((2, 3, 6), dtype),))


def test_zero_size_output(check_eager):
    check_eager(Fn(lambda x: x[:, 2:2].permute(1, 0)), (make((3, 4)),))


# -- take / gather --

def _idx(shape, high, dtype=torch.int64, low=0, seed=3):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(low, high, shape, generator=g).to(dtype)


# (id, fn, [x shape, index shape], index low, index high)
TAKE_CASES = [
    ("index_select_0", lambda x, i: x.index_select(0, i), [(5, 3), (4,)], 0, 5),
    ("index_select_mid", lambda x, i: x.index_select(1, i), [(2, 5, 3), (7,)], 0, 5),
    ("index_select_last_neg_dim", lambda x, i: x.index_select(-1, i), [(2, 3, 6), (2,)], 0, 6),
    ("index_select_scalar_index", lambda x, i: x.index_select(1, i), [(2, 5, 3), ()], 0, 5),
    ("index_first", lambda x, i: x[i], [(6, 3), (4,)], -6, 6),
    ("index_second", lambda x, i: x[:, i], [(2, 6, 3), (2, 2)], -6, 6),
    ("index_third", lambda x, i: x[:, :, i], [(2, 3, 6), (5,)], -6, 6),
    ("gather_0", lambda x, i: x.gather(0, i), [(4, 3), (6, 3)], 0, 4),
    ("gather_1_smaller", lambda x, i: x.gather(1, i), [(3, 5, 4), (2, 7, 3)], 0, 5),
    ("gather_last_neg", lambda x, i: x.gather(-1, i), [(2, 3, 5), (2, 3, 2)], 0, 5),
    ("gather_rank1", lambda x, i: x.gather(0, i), [(7,), (9,)], 0, 7),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: str(d).removeprefix("torch."))
def test_take_gather(check_eager, dtype):
    cases = [(name, fn, shapes) for name, fn, shapes, _, _ in TAKE_CASES]
    inputs = []
    for k, (_, _, (xs, ish), lo, hi) in enumerate(TAKE_CASES):
        inputs += [make(xs, dtype, seed=k), _idx(ish, hi, low=lo, seed=k)]
    check_bundle(check_eager, cases, inputs)


class Embed(torch.nn.Module):
    def __init__(self, n=10, d=4):
        super().__init__()
        torch.manual_seed(0)
        self.emb = torch.nn.Embedding(n, d)

    def forward(self, *tokens):
        return tuple(self.emb(t) for t in tokens)


@pytest.mark.parametrize("idx_dtype", [torch.int64, torch.int32], ids=str)
def test_embedding(check_eager, idx_dtype):
    shapes = [(5,), (2, 3), (1, 1), ()]
    check_eager(Embed(), tuple(_idx(s, 10, idx_dtype, seed=k) for k, s in enumerate(shapes)))


@pytest.mark.parametrize("idx_dtype", [torch.int32, torch.int64], ids=str)
def test_index_indices_dtype(check_eager, idx_dtype):
    check_eager(Fn(lambda x, i, j: (x[:, i], x.index_select(2, j), x.gather(1, j.reshape(1, 4, 1).expand(2, 4, 6)))),
                (make((2, 6, 6)), _idx((4,), 6, idx_dtype, low=-6), _idx((4,), 6, idx_dtype)))


def test_index_with_constant_indices(check_eager):
    check_eager(Fn(lambda x: x[:, [0, 2, -1]]), (make((2, 4, 3)),))


def test_index_two_tensors(check_eager):
    """Several index tensors (tests/runtime/test_ops_indexing.py covers the general forms)."""
    check_eager(Fn(lambda x, i: x[i, i]), (make((4, 4)), _idx((2,), 4, low=-4)))


def test_index_bool_mask_is_unsupported():
    with pytest.raises(errors.PocketTorchError):
        pockettorch.export(Fn(lambda x, m: x[m]), (make((4,)), make((4,), torch.bool)))


def _load(module, inputs, threads=1):
    return pockettorch.load(pockettorch.export(module, inputs).to_bytes(), num_threads=threads)


@pytest.mark.parametrize("threads", [1, 2])
def test_embedding_out_of_range_token_raises(threads):
    model = Embed(n=10, d=4)
    m = _load(model, (_idx((2, 3), 10),), threads)
    for bad in (10, 11, 1000, -1, -11, -(1 << 62)):
        tokens = _idx((2, 3), 10)
        tokens[1, 2] = bad
        with pytest.raises(errors.IndexOutOfRangeError):
            m(tokens)
    good = _idx((2, 3), 10, seed=5)
    assert torch.equal(m(good)[0], model(good)[0].detach())  # the session is still usable


def test_index_out_of_range_raises():
    m = _load(Fn(lambda x, i: x[:, i]), (make((2, 6)), _idx((3,), 6)))
    for bad in ([0, 6, 1], [0, -7, 1]):
        with pytest.raises(errors.IndexOutOfRangeError):
            m(make((2, 6)), torch.tensor(bad))
    assert torch.equal(m(make((2, 6)), torch.tensor([-6, -1, 5])), make((2, 6))[:, [-6, -1, 5]])


def test_gather_out_of_range_raises():
    m = _load(Fn(lambda x, i: x.gather(1, i)), (make((2, 6)), _idx((2, 3), 6)))
    for bad in ([[0, 1, 2], [3, 4, 6]], [[0, 1, 2], [3, -1, 5]]):
        with pytest.raises(errors.IndexOutOfRangeError):
            m(make((2, 6)), torch.tensor(bad))


# -- two threads: shapes past the kernels' parallel threshold --

PARALLEL_CASES = [
    ("permute", lambda x: x.permute(0, 2, 1), [(4, 96, 80)]),
    ("permute_4d", lambda x: x.permute(0, 3, 1, 2), [(2, 20, 24, 33)]),
    ("slice_step", lambda x: x[:, 1::2, 3:], [(4, 97, 80)]),
    ("cat", lambda x, y: torch.cat([x, y], dim=1), [(8, 40, 64), (8, 24, 64)]),
    ("expand", lambda x: x.expand(64, 40, 33), [(1, 40, 1)]),
    ("repeat", lambda x: x.repeat(3, 5, 2), [(8, 40, 33)]),
]


def test_two_threads(check_eager):
    check_bundle(check_eager, PARALLEL_CASES, bundle_inputs(PARALLEL_CASES, torch.float32), threads=2)


def test_two_threads_take_gather(check_eager):
    x = make((16, 300, 16))
    check_eager(Fn(lambda x, i, j: (x[:, i], x.gather(1, j))),
                (x, _idx((250,), 300, low=-300), _idx((16, 200, 16), 300)), threads=2)


# -- models mixing the ops --

class TokenMix(torch.nn.Module):
    """Embedding, a permute/slice/concat/expand dance, then a split into two heads."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.emb = torch.nn.Embedding(20, 6)

    def forward(self, tokens):
        h = self.emb(tokens)                       # [B, T, 6]
        h = h.permute(0, 2, 1)                     # [B, 6, T]
        first, rest = h[:, :, :1], h[:, :, 1::2]
        h = torch.cat([rest, first.expand(-1, -1, 2)], dim=2)
        a, b = h.split([2, 4], dim=1)
        return a[:, 1], b.transpose(1, 2)[:, -1]


@pytest.mark.parametrize("threads", [1, 2])
def test_mixed_model(check_eager, threads):
    check_eager(TokenMix(), (_idx((3, 7), 20),), threads=threads)


# -- prepare() validates parameters (what a corrupted or hostile file may carry) --

TAMPER_MODELS = {
    "permute": (Fn(lambda x: x.permute(1, 0)), lambda: (make((3, 4)),)),
    "slice": (Fn(lambda x: x[:, 1:3]), lambda: (make((3, 4)),)),
    "concat": (Fn(lambda x: torch.cat([x, x], 1)), lambda: (make((3, 4)),)),
    "expand": (Fn(lambda x: x.expand(3, 4)), lambda: (make((1, 4)),)),
    "take": (Fn(lambda x, i: x[:, i]), lambda: (make((3, 4)), _idx((2,), 4))),
    "gather": (Fn(lambda x, i: x.gather(1, i)), lambda: (make((3, 4)), _idx((3, 2), 4))),
}

TAMPER_CASES = [
    ("permute", dict(perm=[0, 0])),
    ("permute", dict(perm=[1, 2])),
    ("permute", dict(perm=[1])),
    ("permute", dict(perm=[1, 0, 2])),
    ("slice", dict(start=3)),
    ("slice", dict(start=5)),
    ("slice", dict(start=-1)),
    ("slice", dict(step=1 << 62)),
    ("slice", dict(step=0)),
    ("slice", dict(step=-1)),
    ("slice", dict(axis=5)),
    ("slice", dict(axis=-1)),
    ("concat", dict(axis=0)),
    ("concat", dict(axis=-1)),
    ("concat", dict(axis=1 << 40)),
    ("expand", dict(tile=2)),
    ("take", dict(axis=2)),
    ("take", dict(axis=-1)),
    ("take", dict(wrap=7)),
    ("gather", dict(axis=3)),
    ("gather", dict(axis=-1)),
]


@pytest.fixture(scope="module")
def exported():
    return {op: pockettorch.export(m, make_inputs()) for op, (m, make_inputs) in TAMPER_MODELS.items()}


@pytest.mark.parametrize("op,params", TAMPER_CASES, ids=[f"{op}-{p}" for op, p in TAMPER_CASES])
def test_prepare_rejects_bad_params(exported, op, params):
    data = bytes_with_params(exported[op], op, params)
    with pytest.raises((errors.BadParamsError, errors.BadOperandsError)):
        pockettorch.load(data)


# -- hostile parameters: whatever a file carries, load either fails cleanly or runs in bounds --

FUZZ_VALUES = [0, 1, 2, 3, -1, -2, 4, 5, 7, 1 << 31, (1 << 31) - 1, 1 << 62, -(1 << 63), (1 << 63) - 1]


def _fuzz_model():
    class M(torch.nn.Module):
        def forward(self, x, i, j):
            a = x.permute(2, 0, 1)[:, ::2]
            b = torch.cat([a, a[:, :1]], dim=1).expand(2, 5, 3, 4)
            c = x.repeat(1, 2, 1)[:, i]
            return b, c, x.gather(2, j), x.sum(1), x.argmax(-1)

    return M(), (make((3, 4, 5)), _idx((2,), 8), _idx((3, 4, 2), 5))


def test_fuzzed_params_fail_cleanly():
    import random

    rng = random.Random(0)
    module, inputs = _fuzz_model()
    program = pockettorch.export(module, inputs)
    nodes = program.graph.nodes
    originals = [dict(n.params) for n in nodes]
    outcomes = {"ran": 0, "rejected": 0}
    io = {id(t) for t in program.graph.inputs + program.graph.outputs}
    inner = [t for n in nodes for t in n.outputs if id(t) not in io]
    shapes = {id(t): t.shape for t in inner}
    for it in range(400):
        node = rng.choice(nodes)
        if it % 2:  # reshape an intermediate tensor to another shape of at most its size
            t = rng.choice(inner)
            dims = [rng.choice([0, 1, 2, 3, 4, 5]) for _ in range(rng.choice([0, 1, 2, 3, 4]))]
            if int(np.prod(dims, dtype=np.int64)) <= t.numel:
                t.shape = tuple(dims)
        for name, value in list(node.params.items()):
            if rng.random() < 0.6:
                continue
            if isinstance(value, list):
                node.params[name] = [rng.choice(FUZZ_VALUES + value) for _ in range(rng.choice([0, 1, len(value), 3, 8]))]
            else:
                node.params[name] = rng.choice(FUZZ_VALUES)
        program._bytes = None
        try:
            m = pockettorch.load(program.to_bytes())
            m(*inputs)
            outcomes["ran"] += 1
        except (errors.BadParamsError, errors.BadOperandsError, errors.IndexOutOfRangeError):
            outcomes["rejected"] += 1
        except (OverflowError, ValueError, struct_error()):
            pass  # the serializer refused a value that does not fit in int64
        finally:
            for n, p in zip(nodes, originals):
                n.params.clear()
                n.params.update(p)
            for t in inner:
                t.shape = shapes[id(t)]
    assert outcomes["rejected"] > 100 and outcomes["ran"] > 10, outcomes


def struct_error():
    import struct

    return struct.error
