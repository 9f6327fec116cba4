"""Inputs whose memory is not the runtime's layout: big-endian (non-native) byte order, non-contiguous,
misaligned, read-only numpy arrays, and torch tensors with strides of their own. Each is converted (to
native byte order, C-contiguous) and gives the output of the plain array; a wrong dtype, or a torch dtype numpy
cannot hold, is refused with a catalogue error. The private binding refuses a non-native buffer outright."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

import pockettorch
from pockettorch import errors
from pockettorch.runtime import _native


class TwoInputs(nn.Module):
    def forward(self, x, k):
        return x * 2.0 + 1.0, k * 3


X = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
K = np.arange(12, dtype=np.int64).reshape(3, 4) - 5


@pytest.fixture(scope="module")
def module():
    program = pockettorch.export(TwoInputs(), (torch.from_numpy(X), torch.from_numpy(K)))
    return pockettorch.load(program.to_bytes(), num_threads=1)


def _check(module, x, k):
    y, z = module.run_numpy([x, k])
    np.testing.assert_array_equal(y, X * 2.0 + 1.0)
    np.testing.assert_array_equal(z, K * 3)


def _misaligned(a: np.ndarray) -> np.ndarray:
    raw = np.zeros(a.nbytes + 1, np.uint8)
    out = np.frombuffer(raw.data, a.dtype, a.size, offset=1).reshape(a.shape)
    out[...] = a
    assert not out.flags.aligned
    return out


def _read_only(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flags.writeable = False
    return a


def _strided(a: np.ndarray) -> np.ndarray:
    wide = np.zeros(a.shape[:-1] + (a.shape[-1] * 2,), a.dtype)
    wide[..., ::2] = a
    return wide[..., ::2]


NUMPY_LAYOUTS = {
    "big_endian": lambda a: a.astype(a.dtype.newbyteorder(">")),
    "little_endian_explicit": lambda a: a.astype(a.dtype.newbyteorder("<")),
    "fortran_order": np.asfortranarray,
    "strided": _strided,
    "reversed": lambda a: a[::-1].copy()[::-1],
    "misaligned": _misaligned,
    "misaligned_big_endian": lambda a: _misaligned(a.astype(a.dtype.newbyteorder(">"))),
    "read_only": _read_only,
    "read_only_from_bytes": lambda a: np.frombuffer(a.tobytes(), a.dtype).reshape(a.shape),
    "big_endian_fortran": lambda a: np.asfortranarray(a.astype(a.dtype.newbyteorder(">"))),
}


@pytest.mark.parametrize("layout", sorted(NUMPY_LAYOUTS))
def test_numpy_layouts_are_converted(module, layout):
    make = NUMPY_LAYOUTS[layout]
    x, k = make(X), make(K)
    assert np.array_equal(x, X) and np.array_equal(k, K)  # the same values, other memory
    _check(module, x, k)
    outputs = module(x, k)
    np.testing.assert_array_equal(outputs[0], X * 2.0 + 1.0)


TORCH_LAYOUTS = {
    "transposed": lambda t: t.transpose(0, -1).contiguous().transpose(0, -1),
    "sliced": lambda t: torch.stack([t, torch.zeros_like(t)], dim=-1)[..., 0],
    "requires_grad": lambda t: t.clone().requires_grad_(True) if t.is_floating_point() else t,
    "channels_last_like": lambda t: t.permute(2, 0, 1).contiguous().permute(1, 2, 0) if t.dim() == 3 else t.t().contiguous().t(),
    "negative_view": lambda t: torch._neg_view(-t) if t.is_floating_point() else t,
}


@pytest.mark.parametrize("layout", sorted(TORCH_LAYOUTS))
def test_torch_layouts_are_converted(module, layout):
    make = TORCH_LAYOUTS[layout]
    x, k = make(torch.from_numpy(X.copy())), make(torch.from_numpy(K.copy()))
    y, z = module(x, k)
    torch.testing.assert_close(y, torch.from_numpy(X * 2.0 + 1.0), rtol=0, atol=0)
    torch.testing.assert_close(z, torch.from_numpy(K * 3), rtol=0, atol=0)


def test_expanded_tensor_with_zero_strides(module):
    row = torch.from_numpy(X[:1].copy())
    expanded = row.expand(3, 4, 5)
    assert expanded.stride()[0] == 0
    y, _ = module(expanded, torch.from_numpy(K))
    torch.testing.assert_close(y, row.expand(3, 4, 5) * 2.0 + 1.0, rtol=0, atol=0)


@pytest.mark.parametrize("value", [
    X.astype(np.float64), X.astype(">f8"), X.astype(np.float16), X.astype(np.int32), X.astype(object),
    np.zeros((3, 4, 5), dtype=[("a", "<f4")]),
], ids=["float64", "float64_big_endian", "float16", "int32", "object", "structured"])
def test_wrong_numpy_dtype_is_refused(module, value):
    with pytest.raises(errors.InputDtypeError, match="input 'x'"):
        module.run_numpy([value, K])


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float64, torch.complex64])
def test_wrong_torch_dtype_is_refused(module, dtype):
    with pytest.raises(errors.InputDtypeError, match="input 'x'"):
        module(torch.from_numpy(X).to(dtype), torch.from_numpy(K))


def test_sparse_and_meta_tensors_are_refused(module):
    with pytest.raises(errors.InputDtypeError, match="sparse"):
        module(torch.from_numpy(X).to_sparse(), torch.from_numpy(K))
    with pytest.raises(errors.InputDtypeError, match="meta"):
        module(torch.empty(3, 4, 5, device="meta"), torch.from_numpy(K))


def test_native_binding_refuses_non_native_byte_order(module):
    """The binding reads raw bytes: a buffer that declares another byte order is refused, not misread."""
    swapped = X.astype(X.dtype.newbyteorder(">" if np.little_endian else "<"))
    outputs = [np.empty((3, 4, 5), np.float32), np.empty((3, 4), np.int64)]
    with pytest.raises(_native.NativeError, match="byte order"):
        module._session.run([swapped, K], outputs)
    module._session.run([X, K], outputs)
    np.testing.assert_array_equal(outputs[0], X * 2.0 + 1.0)
