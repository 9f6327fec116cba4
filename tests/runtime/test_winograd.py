"""Winograd F(4x4, 3x3) and F(2x2, 3x3) conv (runtime/compute/winograd/winograd.c) against torch's conv2d.

A small C driver (tests/runtime/winograd_harness.c) is compiled against the runtime sources and runs
the Winograd entry points on a conv2d node built by hand, on every ISA this machine has (PKT_MAX_ISA),
with both tile sizes and 1 and 2 threads, over shapes that stress the tiling (odd sizes, partial
tiles, channel counts that are not multiples of 16, padding 0..2, batch 2), bias and the fused
activations.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pockettorch.runtime import build

HARNESS = pathlib.Path(__file__).with_name("winograd_harness.c")

ACT = {"none": 0, "relu": 1, "relu6": 2, "silu": 3, "clamp": 8}


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> pathlib.Path:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler")
    out = tmp_path_factory.mktemp("wg") / "winograd_harness"
    srcs, flags = build.direct_build(None)
    srcs = [s for s in srcs if "/tools/" not in s]
    cmd = [cc, *flags, "-Werror", str(HARNESS), *srcs, "-o", str(out), "-lm", "-lpthread"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out


def _machine_isas(harness) -> list[str]:
    best = subprocess.run([str(harness), "isa"], capture_output=True, text=True, check=True).stdout.strip()
    order = {"portable": ["portable"], "neon": ["portable", "neon"], "avx2": ["portable", "avx2"],
             "avx512": ["portable", "avx2", "avx512"]}
    return order.get(best, ["portable"])


def _run(harness, tmp_path, isa, x, w, b, pad, act="none", lo=0.0, hi=0.0, threads=1, tile=4, pick_only=False):
    N, C, H, W = x.shape
    O = w.shape[0]
    files = {k: tmp_path / f"{k}.bin" for k in ("x", "w", "b", "y")}
    x.astype(np.float32).tofile(files["x"])
    w.astype(np.float32).tofile(files["w"])
    if b is not None:
        b.astype(np.float32).tofile(files["b"])
    env = dict(os.environ, PKT_MAX_ISA=isa)
    if pick_only:
        env["WG_TILE_ONLY"] = "1"
    cmd = [str(harness), "run", N, C, H, W, O, pad[0], pad[1], ACT[act], lo, hi, threads, tile,
           files["x"], files["w"], files["b"] if b is not None else "-", files["y"]]
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    if pick_only:
        return int(proc.stdout.strip().removeprefix("tile="))
    assert f"isa={isa} tile={tile}" in proc.stdout
    OH, OW = H + 2 * pad[0] - 2, W + 2 * pad[1] - 2
    return np.fromfile(files["y"], dtype=np.float32).reshape(N, O, OH, OW)


def _reference(x, w, b, pad, act, lo, hi):
    y = F.conv2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(),
                 None if b is None else torch.from_numpy(b).double(), padding=pad)
    if act == "relu":
        y = torch.relu(y)
    elif act == "relu6":
        y = torch.clamp(y, 0, 6)
    elif act == "silu":
        y = F.silu(y)
    elif act == "clamp":
        y = torch.clamp(y, lo, hi)
    return y.numpy()


def _data(N, C, H, W, O, bias, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = (rng.standard_normal((O, C, 3, 3)) * np.sqrt(2.0 / (C * 9))).astype(np.float32)  # kaiming
    b = (rng.standard_normal(O) * 0.1).astype(np.float32) if bias else None
    return x, w, b


# (N, C, H, W, O, pad, bias, act)
CASES = [
    (1, 16, 8, 8, 16, (1, 1), True, "none"),
    (1, 16, 9, 11, 24, (1, 1), False, "relu"),        # partial tiles on both edges, O not /32
    (2, 20, 13, 7, 17, (1, 1), True, "relu6"),        # batch 2, C not /16, O tail
    (1, 33, 10, 10, 40, (0, 0), True, "none"),         # pad 0
    (1, 16, 6, 6, 16, (0, 0), False, "silu"),          # single tile
    (2, 24, 5, 9, 48, (2, 1), True, "clamp"),         # pad 2 / 1
    (1, 64, 23, 23, 64, (1, 1), True, "relu"),         # several blocks
    (1, 96, 28, 28, 80, (1, 1), False, "none"),        # several blocks and bands of output chunks
    (3, 40, 7, 7, 72, (1, 1), True, "relu"),           # many tiny images in one block
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[:5])) + f"-p{c[5][0]}{c[5][1]}-{c[7]}")
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("tile", [4, 2])
def test_winograd_matches_torch(harness, tmp_path, case, threads, tile):
    N, C, H, W, O, pad, bias, act = case
    x, w, b = _data(N, C, H, W, O, bias, seed=N * 1000 + C * 10 + H)
    lo, hi = (-0.5, 0.7) if act == "clamp" else (0.0, 0.0)
    ref = _reference(x, w, b, pad, act, lo, hi)
    scale = max(np.abs(ref).max(), 1e-6)
    for isa in _machine_isas(harness):
        y = _run(harness, tmp_path, isa, x, w, b, pad, act, lo, hi, threads, tile)
        err = np.abs(y - ref).max() / scale
        assert np.isfinite(y).all(), isa
        assert err < 1e-4, f"{isa}: max error {err:.2e} of the output's max magnitude"


@pytest.mark.parametrize("shape,expected", [
    ((1, 64, 56, 56, 64), 4),     # resnet layer1
    ((1, 128, 28, 28, 128), 4),   # layer2: 49 4x4 tiles
    ((1, 256, 14, 14, 256), 2),   # layer3: 16 4x4 tiles would stream 4x the weights for 16 rows; 49 2x2 tiles
    ((1, 512, 7, 7, 512), 0),     # layer4: 16 2x2 tiles, too few for either
    ((2, 256, 14, 14, 256), 4),   # ... a batch of 2 has 32 4x4 tiles
    ((1, 3, 32, 32, 16), 0),      # too few input channels
    ((1, 16, 32, 32, 8), 0),      # too few output channels
    ((1, 16, 5, 64, 16), 4),      # 3 x 16 tiles
    ((1, 32, 3, 60, 32), 2),      # one row of 4x4 tiles is 15; 2x2 tiles: 2 x 30
])
def test_winograd_tile_choice(harness, tmp_path, shape, expected):
    N, C, H, W, O = shape
    x, w, b = _data(N, C, H, W, O, False, seed=1)
    assert _run(harness, tmp_path, "portable", x, w, b, (1, 1), pick_only=True) == expected
