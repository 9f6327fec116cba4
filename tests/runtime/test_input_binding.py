"""Session.run reads inputs in place from the caller's arrays (pkt_session_bind_input) instead of copying them
into the arena: the arrays are never written, not even when the first op works in place on the input; an
array that is not aligned for its dtype is copied instead; and every run binds the arrays it is given."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

import pockettorch


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def _load(fn, *example, threads=1):
    return pockettorch.load(pockettorch.export(Fn(fn), example).to_bytes(), num_threads=threads)


def test_input_array_is_left_unchanged_by_in_place_ops():
    x = np.random.default_rng(0).standard_normal((3, 257)).astype(np.float32)
    model = _load(lambda t: torch.relu(t) * 2.0, torch.from_numpy(x))
    assert {"unary", "binary"} <= set(op for op, _ in model.instructions())
    before = x.copy()
    (y,) = model.run_numpy([x])
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(y, np.maximum(before, 0) * 2.0)


def test_unaligned_input_is_copied():
    x = np.random.default_rng(1).standard_normal((4, 33)).astype(np.float32)
    raw = np.zeros(x.nbytes + 1, np.uint8)
    unaligned = np.frombuffer(raw.data, np.float32, x.size, offset=1).reshape(x.shape)
    unaligned[...] = x
    assert not unaligned.flags.aligned and unaligned.flags.c_contiguous
    model = _load(lambda t: t * 3.0 + 1.0, torch.from_numpy(x), threads=2)
    (y,) = model.run_numpy([unaligned])
    np.testing.assert_allclose(y, x * 3.0 + 1.0, rtol=1e-6)


def test_each_run_reads_the_arrays_it_is_given():
    rng = np.random.default_rng(2)
    a, b = (rng.standard_normal((2, 8, 16, 16)).astype(np.float32) for _ in range(2))
    model = _load(lambda x, w: nn.functional.conv2d(x, w.mean(dim=0, keepdim=True).expand(4, 8, 3, 3), padding=1),
                  torch.from_numpy(a), torch.from_numpy(b[:, :, :3, :3].copy()), threads=2)
    w = b[:, :, :3, :3].copy()
    first = model.run_numpy([a, w])[0]
    second = model.run_numpy([b, w])[0]
    del a
    third = model.run_numpy([b.copy(), w])[0]
    np.testing.assert_array_equal(second, third)
    assert not np.array_equal(first, second)
    ref = nn.functional.conv2d(torch.from_numpy(b), torch.from_numpy(w).mean(dim=0, keepdim=True).expand(4, 8, 3, 3),
                               padding=1)
    np.testing.assert_allclose(second, ref.numpy(), rtol=1e-4, atol=1e-5)


def test_same_array_for_two_inputs():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    model = _load(lambda p, q: p * q - q, torch.from_numpy(x), torch.from_numpy(x))
    (y,) = model.run_numpy([x, x])
    np.testing.assert_allclose(y, x * x - x)
    np.testing.assert_array_equal(x, np.arange(12, dtype=np.float32).reshape(3, 4))
