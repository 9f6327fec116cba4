"""Calibrated weight-only quantization: `quant.weight_only(bits, group_size, calibration=batches)` quantizes the
linears by GPTQ (exporter/quant/gptq.py) into the same stored format as round-to-nearest, and `min_sqnr_db` moves
the most damaging layers to int8 (exporter/quant/wo_calibrated.py).

GPTQ must beat round-to-nearest on a layer's output where the inputs are correlated (its whole point; a no-op GPTQ
fails), the stored weights must pass the loader's checks, and the C runtime must match the dequantized weights the
file holds."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import pockettorch
from pockettorch import errors, quant
from pockettorch.exporter.quant import wo_report, wo_rewrite
from pockettorch.exporter.quant.gptq import gptq_quantize


def _correlated(rows: int, k: int, seed: int) -> torch.Tensor:
    """Inputs on a few directions plus noise, with a handful of large features (as after a LayerNorm)."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(k // 8, k, generator=torch.Generator().manual_seed(99))  # the same directions for every seed
    x = torch.randn(rows, k // 8, generator=g) @ mix + 0.1 * torch.randn(rows, k, generator=g)
    x[:, :4] *= 8.0
    return x


def _output_error(x: torch.Tensor, w: torch.Tensor, wq: torch.Tensor) -> float:
    return float((x @ (wq - w).T).norm() / (x @ w.T).norm())


@pytest.mark.parametrize("bits", [4, 8])
def test_gptq_lowers_the_layer_output_error_against_round_to_nearest(bits):
    torch.manual_seed(0)
    k, n, group = 256, 96, 32
    w = torch.randn(n, k) * 0.05
    calib, held_out = _correlated(2048, k, seed=1), _correlated(512, k, seed=2)
    h = calib.double().T @ calib.double()
    q, scales = gptq_quantize(w, h, bits, group)
    lo, hi = wo_rewrite.QRANGE[bits]
    assert q.dtype == torch.int8 and q.shape == (n, k) and int(q.min()) >= lo and int(q.max()) <= hi
    assert torch.equal(scales, wo_rewrite.group_scales(w, bits, group))  # round-to-nearest's scales: same format
    gptq = wo_rewrite.dequantize_weight(q, scales, bits, group)
    rtn = wo_rewrite.dequantize_weight(*wo_rewrite.quantize_weight(w, bits, group), bits, group)
    got, base = _output_error(held_out, w, gptq), _output_error(held_out, w, rtn)
    print(f"w{bits}: output error GPTQ {got:.4f} vs round-to-nearest {base:.4f} (held-out inputs)")
    assert got < 0.7 * base


def test_features_never_seen_do_not_break_gptq():
    """A zero Hessian row (an input feature always 0 in calibration) is handled as the paper does."""
    w = torch.randn(8, 64)
    x = _correlated(256, 64, seed=3)
    x[:, 10] = 0.0
    q, scales = gptq_quantize(w, x.double().T @ x.double(), 4, 32)
    assert torch.isfinite(scales).all() and (scales > 0).all() and int(q.abs().max()) <= 8


class Mlp(nn.Module):
    def __init__(self, width=64):
        super().__init__()
        self.a, self.b, self.c = nn.Linear(width, width), nn.Linear(width, width), nn.Linear(width, width)

    def forward(self, x):
        return self.c(F.gelu(self.b(F.gelu(self.a(x)))))


def _stored_weights(program) -> list[tuple[int, torch.Tensor, torch.Tensor | None]]:
    """(bits, dequantized weight, bias) of every linear_wo, unpacked from the program's constants."""
    out = []
    for node in program.graph.nodes:
        if node.op != "linear_wo":
            continue
        bits, group = node.params["bits"], node.params["group_size"]
        packed, scales = node.inputs[1].data, node.inputs[2].data
        if bits == 4:
            q = np.empty((packed.shape[0], packed.shape[1] * 2), np.int8)
            q[:, 0::2] = (packed & 15).astype(np.int8) - 8
            q[:, 1::2] = (packed >> 4).astype(np.int8) - 8
        else:
            q = packed
        w = wo_rewrite.dequantize_weight(torch.from_numpy(q), torch.from_numpy(scales), bits, group)
        bias = torch.from_numpy(node.inputs[3].data) if len(node.inputs) > 3 else None
        out.append((bits, w, bias))
    return out


def _reference(program, x: torch.Tensor) -> torch.Tensor:
    h = x.double()
    layers = _stored_weights(program)
    for i, (_, w, b) in enumerate(layers):
        h = F.linear(h, w.double(), None if b is None else b.double())
        if i < len(layers) - 1:
            h = F.gelu(h)
    return h


def _batches(n, seed, rows=16, width=64):
    return [(_correlated(rows, width, seed + i),) for i in range(n)]


def test_calibrated_export_stores_gptq_weights_the_runtime_runs_exactly():
    torch.manual_seed(5)
    model = Mlp().eval()
    x = _correlated(16, 64, seed=50)
    gptq = pockettorch.export(model, (x,), quantization=quant.weight_only(4, 32, calibration=_batches(12, 100)))
    rtn = pockettorch.export(model, (x,), quantization=quant.weight_only(4, 32))
    meta = gptq.metadata["quantization"]
    assert meta["method"] == "gptq" and [l["method"] for l in meta["layers"]] == ["gptq"] * 3
    assert all(l["bits"] == 4 for l in meta["layers"])
    stored, rounded = _stored_weights(gptq), _stored_weights(rtn)
    assert all(not torch.equal(g[1], r[1]) for g, r in zip(stored, rounded))  # GPTQ changed every layer
    with pockettorch.load(gptq.to_bytes()) as runtime, pockettorch.load(rtn.to_bytes()) as rtn_runtime:
        held_out = _correlated(16, 64, seed=60)
        got = runtime(held_out)
        want = _reference(gptq, held_out)
        scale = want.abs().max()
        assert float((got.double() - want).abs().max()) <= 2e-5 * float(scale)  # the file's weights, exactly run
        with torch.no_grad():
            fp32 = model(held_out)
        err = float((got - fp32).norm() / fp32.norm())
        base = float((rtn_runtime(held_out) - fp32).norm() / fp32.norm())
    print(f"MLP output error: GPTQ {err:.4f}, round-to-nearest {base:.4f}")
    assert err < 0.8 * base


def test_int8_fallback_mixes_bits_and_reports_it():
    torch.manual_seed(6)
    model = Mlp().eval()
    x = _correlated(16, 64, seed=70)
    scheme = quant.weight_only(4, 32, calibration=_batches(8, 200), min_sqnr_db=30.0)
    program = pockettorch.export(model, (x,), reference=True, quantization=scheme)
    meta = pockettorch.load(program.to_bytes()).metadata["quantization"]
    bits = {l["name"]: l["bits"] for l in meta["layers"]}
    alone = {l["name"]: l["alone_sqnr_db"] for l in meta["layers"]}
    moved = list(bits.values()).count(8)
    assert 0 < moved < 3 and meta["int8_fallback"] == moved, meta  # some, not all: the target is reachable
    assert meta["min_sqnr_db"] == 30.0 and meta["estimated_output_sqnr_db"] >= 30.0
    assert max(alone[n] for n, b in bits.items() if b == 8) <= min(alone[n] for n, b in bits.items() if b == 4)
    rows = {r["name"]: r for r in wo_report.quant_report(program)}
    assert {n: r["dtype"] for n, r in rows.items()} == {n: f"w{b}" for n, b in bits.items()}
    assert all(r["method"] == ("gptq" if r["dtype"] == "w4" else "rtn") and r["sqnr_db"] > 20 for r in rows.values())
    with pockettorch.load(program.to_bytes()) as runtime:
        held_out = _correlated(16, 64, seed=80)
        got, want = runtime(held_out), _reference(program, held_out)
    assert float((got.double() - want).abs().max()) <= 2e-5 * float(want.abs().max())


def test_calibration_errors_are_clear():
    with pytest.raises(ValueError, match="calibration"):
        quant.weight_only(4, 32, min_sqnr_db=20.0)
    with pytest.raises(ValueError, match="bits=4"):
        quant.weight_only(8, 32, calibration=[(torch.randn(2, 64),)], min_sqnr_db=20.0)
    model, x = Mlp().eval(), torch.randn(2, 64)
    with pytest.raises(errors.BadModelArgsError, match="empty"):
        pockettorch.export(model, (x,), quantization=quant.weight_only(4, 32, calibration=[]))
    with pytest.raises(errors.BadModelArgsError, match=r"shaped \[\(2, 48\)\]"):
        pockettorch.export(model, (x,), quantization=quant.weight_only(4, 32, calibration=[(torch.randn(2, 48),)]))


def test_hessian_accumulator_refuses_values_that_are_not_the_layers_input():
    from pockettorch.exporter.quant.gptq import HessianAccumulator

    acc = HessianAccumulator(4)
    acc.add(torch.ones(3, 4))
    assert acc.rows == 3 and torch.equal(acc.h, torch.full((4, 4), 3.0, dtype=torch.float64))
    acc.add(torch.ones(2, 5))  # another width: the layer is then rounded to nearest
    assert acc.rows == -1


def test_a_dynamic_export_calibrates_on_batches_of_any_size_in_its_range():
    model = Mlp().eval()
    rows = torch.export.Dim("rows", min=1, max=64)
    calibration = [(_correlated(r, 64, seed=300 + r),) for r in (5, 40, 64, 9)]
    program = pockettorch.export(model, (_correlated(16, 64, seed=90),), dynamic_shapes=({0: rows},),
                                 quantization=quant.weight_only(4, 32, calibration=calibration))
    assert [l["method"] for l in program.metadata["quantization"]["layers"]] == ["gptq"] * 3
    with pockettorch.load(program.to_bytes()) as runtime:
        x = _correlated(7, 64, seed=91)
        got, want = runtime(x), _reference(program, x)
    assert float((got.double() - want).abs().max()) <= 2e-5 * float(want.abs().max())
