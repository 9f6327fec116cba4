"""Weight-only quantization end to end: `export(..., quantization=quant.weight_only(bits, group_size))` rewrites
constant-weight linears and embeddings into linear_wo / embedding_wo (exporter/quant/wo_rewrite.py), and the C
runtime's weight-only GEMV / small-M GEMM (runtime/compute/wogemm) runs them on every SIMD path this CPU has
(PKT_MAX_ISA caps the session's choice: portable, AVX2+FMA, AVX-512; NEON runs in tests/runtime/test_cross.py).

The reference is torchao's: dequantize_affine of the stored weight, then F.linear / F.embedding, in float64 where
the point is the kernel's arithmetic (rel. error ~1e-5 of the largest output), with NaN and infinities where eager
float32 has them. Also: what stays float and why, the metadata, file sizes, and the loader's checks on the new
fields (bad scales, group sizes and packed sizes in a hand-edited file give a clear error, not a crash)."""
from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import pockettorch
from pockettorch import errors, quant
from pockettorch.exporter.quant import wo_report, wo_rewrite

ISAS = ["portable", "avx2", "avx512"]
_available: dict[str, bool] = {}


def _isa_available(name: str) -> bool:
    if name not in _available:
        program = pockettorch.export(nn.Linear(2, 2), (torch.randn(1, 2),))
        _available[name] = pockettorch.load(program.to_bytes()).isa == name
    return _available[name]


@pytest.fixture(params=ISAS)
def isa(request, monkeypatch):
    monkeypatch.setenv("PKT_MAX_ISA", request.param)
    if not _isa_available(request.param):
        pytest.skip(f"this CPU has no {request.param}")
    return request.param


def _reference_linear(layer: nn.Linear, x: torch.Tensor, bits: int, group: int) -> torch.Tensor:
    q, s = wo_rewrite.quantize_weight(layer.weight, bits, group)
    w = wo_rewrite.dequantize_weight(q, s, bits, group).double()
    bias = None if layer.bias is None else layer.bias.double()
    return F.linear(x.double(), w, bias)


def _close(got: torch.Tensor, want: torch.Tensor, rel: float = 2e-5) -> None:
    got, want = got.double(), want.double()
    assert torch.equal(torch.isnan(got), torch.isnan(want)), "NaN positions differ"
    inf = torch.isinf(want)
    assert torch.equal(got[inf], want[inf]), "infinities differ"
    ok = torch.isfinite(want)
    if not ok.any():
        return
    scale = want[ok].abs().max().clamp(min=1e-6)
    err = (got[ok] - want[ok]).abs().max()
    assert err <= rel * scale, f"max error {err:.3g} > {rel} x {scale:.3g}"


# (M, K, N, group, threads): one row (the GEMV), a few rows (small-M blocks of 4 and their remainders), odd N,
# K of several groups, groups of 64 and groups the SIMD steps do not fit (6: the portable path on every ISA).
SHAPES = [(1, 64, 37, 32, 1), (1, 256, 70, 64, 2), (3, 96, 5, 32, 1), (5, 128, 33, 32, 2), (9, 64, 17, 32, 1),
          (2, 36, 7, 6, 1), (1, 4096, 48, 32, 2)]


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("M,K,N,group,threads", SHAPES)
def test_linear_matches_dequantized_reference(isa, bits, M, K, N, group, threads):
    data, x, want = _linear_case(bits, M, K, N, group)
    with pockettorch.load(data, num_threads=threads) as rt:
        assert rt.isa == isa
        _close(rt(x), want)


@functools.lru_cache(maxsize=None)
def _linear_case(bits, M, K, N, group):
    """(program bytes, input, reference): exported once, run on every ISA."""
    torch.manual_seed(M * 7 + K + N)
    layer = nn.Linear(K, N).eval()
    x = torch.randn(M, K)
    program = pockettorch.export(layer, (x,), quantization=quant.weight_only(bits=bits, group_size=group))
    assert [n.op for n in program.graph.nodes] == ["linear_wo"]
    return program.to_bytes(), x, _reference_linear(layer, x, bits, group)


@pytest.mark.parametrize("bits", [4, 8])
def test_nan_and_inf_activations_as_eager(isa, bits):
    """A NaN input poisons every output of its row, +-inf gives +-inf or NaN as eager's float32 linear does."""
    torch.manual_seed(1)
    layer = nn.Linear(64, 19, bias=False).eval()
    x = torch.randn(4, 64)  # row 3 stays finite
    x[0, 5] = float("nan")
    x[1, 7] = float("inf")
    x[2, 9], x[2, 40] = float("inf"), float("-inf")
    program = pockettorch.export(layer, (x,), quantization=quant.weight_only(bits=bits, group_size=32))
    q, s = wo_rewrite.quantize_weight(layer.weight, bits, 32)
    want = F.linear(x, wo_rewrite.dequantize_weight(q, s, bits, 32))  # eager float32: its infinities and NaNs
    got = pockettorch.load(program.to_bytes())(x)
    _close(got, want)
    assert torch.isnan(got[0]).all() and torch.isnan(got[2]).any()


def test_fused_activation_and_rank3_input(isa):
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(64, 40), nn.GELU(), nn.Linear(40, 8)).eval()
    x = torch.randn(2, 3, 64)
    program = pockettorch.export(model, (x,), quantization=quant.weight_only(bits=4, group_size=32))
    ops = [n.op for n in program.graph.nodes if n.op != "reshape"]
    assert ops == ["linear_wo", "linear"]  # 40 is not a multiple of 32
    want = model[2](F.gelu(_reference_linear(model[0], x, 4, 32)).float())
    _close(pockettorch.load(program.to_bytes())(x), want, rel=1e-4)


@pytest.mark.parametrize("bits", [4, 8])
def test_embedding_is_dequantized_exactly(bits):
    torch.manual_seed(3)
    emb = nn.Embedding(50, 64).eval()
    ids = torch.tensor([[0, 49, 7], [7, 3, 12]])
    program = pockettorch.export(emb, (ids,), quantization=quant.weight_only(bits=bits, group_size=32))
    assert [n.op for n in program.graph.nodes] == ["embedding_wo"]
    q, s = wo_rewrite.quantize_weight(emb.weight, bits, 32)
    want = F.embedding(ids, wo_rewrite.dequantize_weight(q, s, bits, 32))
    rt = pockettorch.load(program.to_bytes())
    assert torch.equal(rt(ids), want)  # the same float32 products dequantize_affine makes
    with pytest.raises(errors.PocketTorchError):
        rt(torch.tensor([[0, 50, 1], [1, 2, 3]]))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(30, 64)
        self.body = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64))
        self.head = nn.Linear(64, 10)

    def forward(self, ids):
        return self.head(self.body(self.emb(ids)))


def test_skip_and_metadata_and_report():
    torch.manual_seed(4)
    model = Net().eval()
    ids = torch.tensor([[1, 2, 3, 29]])
    program = pockettorch.export(model, (ids,), reference=True,
                                 quantization=quant.weight_only(bits=4, group_size=32, skip=["head"]))
    meta = pockettorch.load(program.to_bytes()).metadata["quantization"]
    assert (meta["scheme"], meta["bits"], meta["group_size"]) == ("weight_only", 4, 32)
    assert [(l["name"], l["op"]) for l in meta["layers"]] == [("emb", "embedding"), ("body.0", "linear"),
                                                              ("body.2", "linear")]
    assert meta["float"] == [{"name": "head", "op": "linear", "reason": "skipped by the user"}]
    rows = wo_report.quant_report(program)
    by_name = {r["name"]: r for r in rows}
    assert by_name["head"]["dtype"] == "float"
    assert all(by_name[n]["sqnr_db"] > 10 for n in ("emb", "body.0", "body.2"))
    assert by_name["emb"]["sqnr_db"] > 19  # int4 rows with a scale a group of 32: ~20 dB for a Gaussian table
    assert not by_name["body.0"]["flag"] or by_name["body.0"]["sqnr_db"] < 20
    lo, hi = by_name["body.0"]["scale_range"]
    assert 0 < lo <= hi


def test_weights_with_nan_stay_float():
    layer = nn.Linear(32, 4).eval()
    with torch.no_grad():
        layer.weight[1, 3] = float("nan")
    program = pockettorch.export(layer, (torch.randn(1, 32),), quantization=quant.weight_only(bits=8, group_size=32))
    assert [n.op for n in program.graph.nodes] == ["linear"]
    assert "NaN" in program.metadata["quantization"]["float"][0]["reason"]


def test_file_size_of_a_linear_heavy_model():
    """w8 about a quarter of fp32 and w4 about an eighth (plus one float scale per 32 weights)."""
    model = nn.Sequential(*[nn.Linear(256, 256) for _ in range(4)]).eval()
    x = torch.randn(1, 256)
    size = {b: len(pockettorch.export(model, (x,), quantization=quant.weight_only(bits=b, group_size=32)).to_bytes())
            for b in (4, 8)}
    fp32 = len(pockettorch.export(model, (x,)).to_bytes())
    assert size[8] / fp32 < 0.30 and size[4] / fp32 < 0.17  # 0.281 and 0.156 of the weights, plus metadata


def _corrupt(program, node_op: str, which: int, fn) -> bytes:
    """The program's bytes with one input constant of the first `node_op` instruction changed in place."""
    node = next(n for n in program.graph.nodes if n.op == node_op)
    t = node.inputs[which]
    old = t.data.copy()
    try:
        t.data = fn(t.data.copy())
        program._bytes = None
        return program.to_bytes()
    finally:
        t.data = old
        program._bytes = None


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_loader_rejects_bad_scales(bad):
    layer = nn.Linear(64, 8).eval()
    program = pockettorch.export(layer, (torch.randn(1, 64),), quantization=quant.weight_only(bits=4, group_size=32))

    def poison(s):
        s[3, 1] = bad
        return s
    with pytest.raises(errors.PocketTorchError, match="scale"):
        pockettorch.load(_corrupt(program, "linear_wo", 2, poison))


def test_loader_rejects_bad_group_sizes_and_packed_sizes():
    layer = nn.Linear(64, 8).eval()
    program = pockettorch.export(layer, (torch.randn(1, 64),), quantization=quant.weight_only(bits=4, group_size=32))
    params = program.graph.nodes[0].params
    for group in (0, 3, 48, -32):  # zero, odd, not dividing K, negative
        params["group_size"], program._bytes = group, None
        with pytest.raises(errors.PocketTorchError, match="group size"):
            pockettorch.load(program.to_bytes())
    params["group_size"], params["bits"], program._bytes = 32, 8, None  # the uint8 [8, 32] int4 pack read as int8
    with pytest.raises(errors.PocketTorchError):
        pockettorch.load(program.to_bytes())
