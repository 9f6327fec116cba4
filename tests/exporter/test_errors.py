"""Export errors name what went wrong and where in the user's model."""
import pytest
import torch
from torch import nn

import pockettorch
from pockettorch import errors


class UsesAnUnsupportedOp(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(3, 3)

    def forward(self, x):
        y = self.proj(x)
        return torch.linalg.det(y)  # the offending line


def test_unsupported_op_names_the_op_the_user_line_and_close_matches():
    with pytest.raises(errors.UnsupportedOpError) as info:
        pockettorch.export(UsesAnUnsupportedOp(), (torch.randn(3, 3),))
    text = str(info.value)
    assert "operator aten.linalg_det" in text or "operator aten._linalg_det" in text
    assert "test_errors.py" in text and "the offending line" in text
    assert "closest supported" in text or "ATen ops are supported" in text


def test_model_must_be_a_module_and_inputs_tensors():
    with pytest.raises(errors.BadModelArgsError, match="nn.Module"):
        pockettorch.export(lambda x: x, (torch.randn(2),))
    with pytest.raises(errors.BadModelArgsError, match="tensors only"):
        pockettorch.export(nn.Identity(), ("text",))


def test_float64_models_get_a_clear_message():
    with pytest.raises(errors.UnsupportedOpError, match="float32"):
        pockettorch.export(nn.Linear(3, 2).double(), (torch.randn(1, 3, dtype=torch.float64),))


def test_metadata_must_be_json():
    with pytest.raises(errors.BadModelArgsError, match="JSON"):
        pockettorch.export(nn.Linear(3, 2), (torch.randn(1, 3),), metadata={"bad": object()})


def test_export_failure_is_reported_as_export_failed():
    class DataDependent(nn.Module):
        def forward(self, x):
            if x.sum() > 0:  # data-dependent control flow cannot be captured
                return x
            return -x

    with pytest.raises(errors.ExportFailedError, match="torch.export failed"):
        pockettorch.export(DataDependent(), (torch.randn(3),))
