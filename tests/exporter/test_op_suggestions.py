"""An unsupported op's error names only related supported ops (same op, same family, near-identical name),
or none: `nonzero` used to be answered with `clone`."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import pockettorch
from pockettorch import errors
from pockettorch.exporter.lower import supported_targets
from pockettorch.exporter.op_suggestions import explain, related


class Nonzero(nn.Module):
    def forward(self, x):
        return torch.nonzero(x)


class Log10(nn.Module):
    def forward(self, x):
        return torch.log10(x)


class MaxPool3d(nn.Module):
    def forward(self, x):
        return F.max_pool3d(x, 2)


def export_error(model, *inputs) -> str:
    with pytest.raises(errors.UnsupportedOpError) as info:
        pockettorch.export(model, inputs)
    return str(info.value)


def test_nonzero_suggests_nothing_and_says_why():
    text = export_error(Nonzero(), torch.randn(3, 3))
    assert "aten.nonzero.default" in text and "static shapes" in text
    assert "aten.clone" not in text and "related supported ops" not in text  # the path may say "clone"


def test_log10_suggests_the_other_logarithms():
    text = export_error(Log10(), torch.rand(4))
    suggested = text.split("related supported ops: ")[1].split(" (PKT_")[0].split(", ")
    assert {"aten.log.default", "aten.log2.default", "aten.log1p.default"} <= set(suggested)
    assert all(s.split(".")[1] in ("log", "log2", "log1p", "exp", "expm1", "pow", "sqrt", "rsqrt") for s in suggested)


def test_3d_pooling_suggests_2d_pooling_first():
    text = export_error(MaxPool3d(), torch.randn(1, 1, 4, 4, 4))
    assert "related supported ops: aten.max_pool2d_with_indices.default" in text


@pytest.mark.parametrize("target, first", [
    ("aten.add.out", "aten.add.Scalar"),                 # another overload of the same op
    ("aten.sgn.default", "aten.sign.default"),           # an alias
    ("aten.std.correction", "aten.var.correction"),      # the smallest family first
    ("aten._upsample_bilinear2d_aa.default", "aten.upsample_bilinear2d.default"),
])
def test_related_ops(target, first):
    assert related(target, supported_targets())[0] == first


@pytest.mark.parametrize("target", ["aten.nonzero.default", "aten._linalg_det.default", "aten.bucketize.Tensor",
                                    "aten.erfinv.default", "aten.polar.default", "aten._fft_r2c.default",
                                    "aten._fft_c2r.default"])
def test_unrelated_ops_get_no_suggestion(target):
    rules = supported_targets()
    assert related(target, rules) == []
    assert "related supported ops" not in explain(target, rules)
