"""`verify` compares a device's outputs with the stored reference as the tests compare with eager."""
import numpy as np
import pytest
import torch
from torch import nn

import pockettorch
from pockettorch import errors
from pockettorch.device.bench import compare_output, deploy, verify
from pockettorch.device.host import HostDevice

NAN, INF = np.float32("nan"), np.float32("inf")


@pytest.mark.parametrize("got, want, ok", [
    ([1.0, NAN, INF], [1.0, NAN, INF], True),            # NaN and inf where the reference has them
    ([1.0, 2.0, INF], [1.0, NAN, INF], False),           # a NaN turned into a number (a fused ReLU's bug)
    ([1.0, NAN, 3.0], [1.0, 2.0, 3.0], False),           # a NaN the reference does not have
    ([1.0, 2.0, -INF], [1.0, 2.0, INF], False),          # the wrong infinity
    ([NAN, NAN], [NAN, NAN], True),                      # nothing finite to measure
    ([1.0, 2.1], [1.0, 2.0], False),                     # plain numeric error
])
def test_nan_and_inf_are_compared_by_position(got, want, ok):
    passed, worst, _ = compare_output(np.array(got, np.float32), np.array(want, np.float32), 1e-4)
    assert passed is ok
    if ok:
        assert worst < 1e-6


def test_shape_and_dtype_mismatches_fail():
    assert not compare_output(np.zeros((2, 3), np.float32), np.zeros((3, 2), np.float32), 1e-4)[0]
    assert not compare_output(np.zeros(3, np.int64), np.zeros(3, np.float32), 1e-4)[0]
    assert compare_output(np.arange(3), np.arange(3), 1e-4)[0]
    assert not compare_output(np.arange(3), np.arange(3) + 1, 1e-4)[0]


def test_verify_passes_a_model_whose_reference_holds_nan(tmp_path):
    """log of a negative input is NaN in eager; the runner on the host gives NaN there too, so verify passes."""
    x = torch.tensor([[1.0, -1.0, 0.0, 4.0]])
    log = tmp_path / "log.ptm"

    class Log(nn.Module):
        def forward(self, t):
            return torch.log(t) * 2

    pockettorch.export(Log(), (x,), name="log", reference=True).save(log)
    report = verify(HostDevice(workdir=str(tmp_path / "device")), log)
    assert report["pass"], report


def test_deploy_refuses_a_bad_model_before_building_or_pushing(tmp_path):
    bad = tmp_path / "empty.ptm"
    bad.write_bytes(b"")
    host = HostDevice(workdir=str(tmp_path / "device"))
    with pytest.raises(errors.PocketTorchError):
        deploy(host, bad, runner=tmp_path / "never-built")
    assert not (tmp_path / "device").exists()
