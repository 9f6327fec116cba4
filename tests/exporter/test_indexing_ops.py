"""How the exporter lowers the indexing ops (tests/runtime/test_ops_indexing.py runs them against eager) and
how the forms it cannot lower fail: at export, naming the op, the module, the user's line and a hint."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import pockettorch
from pockettorch import errors


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def ops_of(module, *inputs) -> list[str]:
    return [n.op for n in pockettorch.export(module, inputs).graph.nodes]


def test_adjacent_index_tensors_are_one_advanced_index():
    assert ops_of(Fn(lambda x, i, j: x[:, i, j]), torch.randn(2, 3, 4), torch.tensor([0]), torch.tensor([1])) == [
        "advanced_index"]


def test_a_none_gap_moves_the_indexed_dims_first():
    assert ops_of(Fn(lambda x, i, j: x[i, :, j]), torch.randn(2, 3, 4), torch.tensor([0]), torch.tensor([1])) == [
        "permute", "advanced_index"]


def test_one_index_tensor_stays_a_take():
    assert ops_of(Fn(lambda x, i: x[:, i]), torch.randn(2, 3), torch.tensor([0, -1])) == ["take"]


def test_slice_assignment_is_an_index_put():
    def fn(x, v):
        y = x.clone()
        y[:, 1:3] = v
        return y

    assert ops_of(Fn(fn), torch.randn(2, 4), torch.randn(2, 2)) == ["index_put"]


def test_a_restriding_as_strided_is_free():
    """AdaptiveAvgPool1d(1) leaves an as_strided that only restrides the mean: no copy is made for it."""
    pool = nn.AdaptiveAvgPool1d(1)
    assert "take" not in ops_of(Fn(lambda x: pool(x.transpose(1, 2))), torch.randn(2, 5, 3))


class Masked(nn.Module):
    def forward(self, x, m):
        return x[m]  # a shape that depends on the mask's values


class TwoMaskPut(nn.Module):
    def forward(self, x, m, v):
        return torch.index_put(x, (m,), v)  # one value per True: needs the mask's count


class Spectrum(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(3, 3)

    def forward(self, x):
        return torch.fft.rfft(self.proj(x)).abs()


def export_error(module, *inputs) -> errors.UnsupportedOpError:
    with pytest.raises(errors.PocketTorchError) as info:
        pockettorch.export(module, inputs)
    return info.value


def test_bool_mask_indexing_fails_at_export_with_a_hint():
    err = export_error(Masked(), torch.randn(4, 3), torch.tensor([True, False, True, True]))
    assert isinstance(err, errors.UnsupportedOpError)
    assert "boolean mask" in str(err) and "torch.where" in err.hint


def test_index_put_with_a_mask_and_many_values_fails_at_export():
    err = export_error(TwoMaskPut(), torch.randn(4, 3), torch.tensor([True, False, True, True]), torch.randn(3, 3))
    assert isinstance(err, errors.UnsupportedOpError)
    text = str(err)
    assert "aten.index_put" in text or "index_put" in text
    assert "boolean mask" in text and "torch.where" in err.hint


def test_fft_fails_naming_op_module_line_and_suggests_nothing_unrelated():
    err = export_error(Spectrum(), torch.randn(2, 3))
    text = str(err)
    assert "aten._fft_r2c" in text
    assert "torch.fft.rfft(self.proj(x))" in text  # the user's line
    assert "related supported ops" not in text and "no related op is supported" in text
    assert err.hint


def test_an_op_inside_a_torch_module_names_the_module_not_the_export_call():
    """No user frame (a torch module called by nn.Sequential): the module path is the place, never
    PocketTorch's own export call."""
    err = export_error(nn.Sequential(nn.Linear(4, 4), nn.RReLU()).eval(), torch.randn(2, 4))
    text = str(err)
    assert "1 (RReLU)" in text
    assert "_export(" not in text and "in export:" not in text
