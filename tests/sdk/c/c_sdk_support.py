"""Models for the C SDK tests and helpers that build and run a generated SDK (fixtures: conftest.py).

The models together cover what the generated API has to type: several float inputs, an int64 input (an
embedding), a dict output with a bool tensor, and a small conv net (the conv/GEMM helper groups). Outputs
are compared with the Python runtime's.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
import subprocess

import numpy as np
import torch
from torch import nn

from pockettorch.sdk_templates.c_sdk import generate

TOL = 1e-5
BUILD_TIMEOUT = 600
RUN_TIMEOUT = 120


class TwoInputs(nn.Module):
    """Two float inputs named like what the generated run() already uses (its `model` parameter, its `st`
    local), a tuple of two outputs."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(5, 7)
        self.b = nn.Linear(5, 7)

    def forward(self, model, st):
        h = torch.tanh(self.a(model)) + self.b(st)
        return h, h.sum(-1)


class Embedder(nn.Module):
    """int64 token ids in, a dict out (float scores and a bool mask)."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, ids, scale):
        h = self.emb(ids).mean(1)
        return {"scores": torch.softmax(self.head(h) * scale, -1), "active": h > 0}


class SmallConvNet(nn.Module):
    """conv + batch norm + relu + pool + linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, groups=8)
        self.fc = nn.Linear(8 * 5 * 5, 4)

    def forward(self, image):
        h = torch.relu(self.bn(self.conv(image)))
        h = torch.relu(self.conv2(nn.functional.max_pool2d(h, 1)))
        return self.fc(h.flatten(1))


@dataclasses.dataclass(frozen=True)
class Model:
    name: str
    path: pathlib.Path
    inputs: tuple[pathlib.Path, ...]  # .npy files, in input order
    expected: tuple[np.ndarray, ...]  # the Python runtime's outputs, in output order


def specs() -> dict[str, tuple[nn.Module, tuple]]:
    g = torch.Generator().manual_seed(0)
    return {
        "two_inputs": (TwoInputs(), (torch.randn(2, 5, generator=g), torch.randn(2, 5, generator=g))),
        "embedder": (Embedder(), (torch.randint(0, 20, (2, 6), generator=g), torch.tensor([1.5]))),
        "conv_net": (SmallConvNet(), (torch.randn(1, 3, 11, 11, generator=g),)),
        "int8_net": (SmallConvNet(), (torch.randn(1, 3, 11, 11, generator=g),)),
    }


def quantization(name: str):
    """The scheme a spec is exported with: int8_net is the conv net as a static int8 program."""
    if name != "int8_net":
        return None
    from pockettorch import quant

    g = torch.Generator().manual_seed(1)
    return quant.int8([(torch.randn(1, 3, 11, 11, generator=g),) for _ in range(2)])


def generate_sdk(model: Model, out: pathlib.Path, embed: bool) -> generate.CSdk:
    return generate.generate(model.path, out, prefix=f"{model.name}_sdk", embed=embed)


def run(cmd, cwd=None, timeout=BUILD_TIMEOUT, env=None) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def example_args(sdk: generate.CSdk, model: Model, out_dir: pathlib.Path) -> list[str]:
    return ([] if sdk.embed else [str(model.path)]) + [str(out_dir)] + [str(p) for p in model.inputs]


def check_outputs(out_dir: pathlib.Path, model: Model, what: str) -> None:
    """The example's .npy outputs equal the Python runtime's (same dtype and shape, max abs diff <= TOL)."""
    for i, expected in enumerate(model.expected):
        found = sorted(out_dir.glob(f"output_{i}_*.npy"))
        assert len(found) == 1, f"{what}: output {i} missing in {sorted(os.listdir(out_dir))}"
        got = np.load(found[0])
        assert got.dtype == expected.dtype and got.shape == expected.shape, (what, i, got.dtype, got.shape)
        if expected.dtype.kind == "f":
            diff = float(np.max(np.abs(got.astype(np.float64) - expected.astype(np.float64)))) if got.size else 0.0
            assert diff <= TOL, f"{what}: output {i} differs by {diff}"
        else:
            np.testing.assert_array_equal(got, expected, err_msg=f"{what}: output {i}")
