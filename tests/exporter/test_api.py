"""The public Python contract: export / save / load / call, structure of outputs, specs, input checks."""
import numpy as np
import pytest
import torch
from torch import nn

import pockettorch
from pockettorch import errors


class TwoHeads(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.a = nn.Linear(6, 3)
        self.b = nn.Linear(6, 2)

    def forward(self, x, y):
        p, q = self.a(x), self.b(y)
        if self.kind == "dict":
            return {"scores": p, "box": q}
        if self.kind == "list":
            return [p, q]
        return p, q


@pytest.mark.parametrize("kind", ["tuple", "list", "dict"])
def test_outputs_keep_the_module_structure(kind, check_eager, tmp_path):
    torch.manual_seed(0)
    model = TwoHeads(kind)
    inputs = (torch.randn(2, 6), torch.randn(2, 6))
    program = check_eager(model, inputs)
    path = program.save(tmp_path / "m.ptm")
    m = pockettorch.load(path)
    out = m(*inputs)
    assert type(out) is {"tuple": tuple, "list": list, "dict": dict}[kind]
    if kind == "dict":
        assert list(out) == ["scores", "box"]
        assert [s.name for s in m.output_specs] == ["scores", "box"]
    assert [s.name for s in m.input_specs] == ["x", "y"]
    assert m.input_specs[0].shape == (2, 6) and m.input_specs[0].dtype == "float32"


def test_numpy_inputs_give_numpy_outputs():
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    x = torch.randn(1, 4)
    m = pockettorch.load(pockettorch.export(model, (x,)).to_bytes())
    out = m(x.numpy())
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, model(x).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_wrong_inputs_name_the_input_and_what_was_expected():
    m = pockettorch.load(pockettorch.export(nn.Linear(4, 2), (torch.randn(1, 4),)).to_bytes())
    with pytest.raises(errors.InputCountError, match="takes 1 input"):
        m()
    with pytest.raises(errors.InputShapeError, match=r"'input' has shape \(1, 5\), expected \(1, 4\)"):
        m(torch.randn(1, 5))
    with pytest.raises(errors.InputDtypeError, match="dtype float64, expected float32"):
        m(torch.randn(1, 4, dtype=torch.float64))
    with pytest.raises(errors.InputDtypeError, match="list"):
        m([1.0, 2.0, 3.0, 4.0])


def test_noncontiguous_inputs_are_accepted():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    x = torch.randn(4, 2).t()  # (2, 4), not contiguous
    m = pockettorch.load(pockettorch.export(model, (x.contiguous(),)).to_bytes())
    torch.testing.assert_close(m(x), model(x).detach(), rtol=1e-5, atol=1e-6)
    # numpy views too (transposed, and a subclass of ndarray), beside the contiguous arrays passed as they are
    xn = x.numpy()
    expected = model(x).detach().numpy()
    for value in (xn, np.ascontiguousarray(xn), np.ascontiguousarray(xn).view(np.matrix)):
        np.testing.assert_allclose(m.run_numpy([value])[0], expected, rtol=1e-5, atol=1e-6)


def test_repeated_calls_and_threads_agree():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 8))
    x = torch.randn(5, 32)
    data = pockettorch.export(model, (x,)).to_bytes()
    one, two = pockettorch.load(data, num_threads=1), pockettorch.load(data, num_threads=2)
    first = one(x)
    for _ in range(3):
        torch.testing.assert_close(one(x), first, rtol=0, atol=0)
        torch.testing.assert_close(two(x), first, rtol=1e-6, atol=1e-6)


def test_bad_num_threads_and_missing_file():
    data = pockettorch.export(nn.Linear(2, 2), (torch.randn(1, 2),)).to_bytes()
    with pytest.raises(errors.InvalidArgumentError, match="num_threads"):
        pockettorch.load(data, num_threads=-1)
    with pytest.raises(errors.IoError, match="no program file"):
        pockettorch.load("/nonexistent/model.ptm")


def test_user_metadata_roundtrips(tmp_path):
    meta = {"labels": ["cat", "dog"], "image": {"mean": [0.5], "std": [0.25], "layout": "NCHW"}}
    program = pockettorch.export(nn.Linear(2, 2), (torch.randn(1, 2),), name="pets", metadata=meta)
    m = pockettorch.load(program.save(tmp_path / "pets.ptm"))
    assert m.name == "pets" and m.metadata["user"] == meta


def test_save_reports_unwritable_destination(tmp_path):
    program = pockettorch.export(nn.Linear(2, 2), (torch.randn(1, 2),))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(errors.IoError, match="could not write"):
        program.save(blocker / "m.ptm")
