"""LSTM and GRU under dynamic int8 (qlstm_dynamic, qgru_dynamic): int8 per-channel weights for w_ih and w_hh, the
rows of x and of h at each step quantized at run time, fp32 gates and state, as torch.ao.nn.quantized.dynamic.LSTM
runs them.

The reference is the same math in torch (exporter/quant/qrnn_reference.py: weights through torchao's per-channel
observer, activations through the qlinear_dynamic reference's per-row quantization); the runtime must match it on
every int8 GEMM path this CPU has (PKT_MAX_ISA caps: portable C, AVX2 without and with AVX-VNNI, AVX-512 without and
with VNNI; arm64 and armv7 run the same model in tests/runtime/test_cross.py), and be closer to it than to float. Against
fp32 eager the outputs keep a cosine >= 0.999 and an SQNR >= 30 dB. The loader refuses bad scales and shapes.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import pockettorch
from pockettorch import errors, quant
from pockettorch.exporter.quant.report import sqnr
from pockettorch.exporter.zoo import ZOO
from support import QuantRecurrent, QuantRecurrentReference

# PKT_MAX_ISA cap -> the ISA the session must report (the int8 GEMM under it: portable_4x16, avx2_3x8 with no int8
# features, avx2's AVX-VNNI kernel where the CPU has it, avx2_3x8 again for AVX-512 without VNNI, avx512vnni_12x32)
CAPS = {"portable": "portable", "avx2:": "avx2", "avx2": "avx2", "avx512:": "avx512", "avx512": "avx512"}
_RANK = {"portable": 0, "avx2": 2, "avx512": 3}


inputs = QuantRecurrent.inputs


def leaves(out) -> list[np.ndarray]:
    return [t.detach().numpy() for t in torch.utils._pytree.tree_leaves(out)]


@pytest.fixture(scope="module")
def exported():
    model = QuantRecurrent().eval()
    program = pockettorch.export(model, inputs(), quantization=quant.int8_dynamic())
    with torch.no_grad():
        ref, eager = leaves(QuantRecurrentReference(model)(*inputs())), leaves(model(*inputs()))
    return model, program, ref, eager


def test_every_layer_is_quantized(exported):
    _, program, _, _ = exported
    ops = program.graph.op_histogram()
    assert ops.get("qlstm_dynamic") == 5 and ops.get("qgru_dynamic") == 5, ops  # 2x2 + 1 each
    assert "lstm" not in ops and "gru" not in ops, ops
    weights = [n.inputs[k] for n in program.graph.nodes if n.op.startswith("q") for k in range(len(n.inputs))
               if n.inputs[k].is_constant and n.inputs[k].dtype == "int8"]
    assert len(weights) == 20


@pytest.fixture(params=sorted(CAPS))
def cap(request, monkeypatch, exported):
    monkeypatch.delenv("PKT_MAX_ISA", raising=False)
    best = pockettorch.load(exported[1].to_bytes()).isa
    if _RANK.get(best, 0) < _RANK[CAPS[request.param]]:
        pytest.skip(f"this CPU has no {CAPS[request.param]}")
    monkeypatch.setenv("PKT_MAX_ISA", request.param)
    return request.param


@pytest.mark.parametrize("threads", [1, 2])
def test_runtime_matches_the_int8_reference_on_every_path(exported, cap, threads):
    _, program, ref, eager = exported
    with pockettorch.load(program.to_bytes(), num_threads=threads) as module:
        assert module.isa == CAPS[cap]
        got = module.run_numpy([t.numpy() for t in inputs()])
    assert len(got) == len(ref) == 10
    for k, (g, r, e) in enumerate(zip(got, ref, eager)):
        assert g.shape == r.shape, k
        err, from_float = float(np.abs(g - r).max()), float(np.abs(r - e).max())
        # The same int8 products in another order: float rounding only (a row's quantization flipping one step
        # would show as ~1e-3). The quantized layers differ from float by far more than that.
        assert err <= 2e-5, f"output {k}: {err:.3g} from the int8 reference"
        assert from_float >= 50 * max(err, 1e-7), f"output {k}: the reference is float-like ({from_float:.3g})"


def test_outputs_stay_close_to_float(exported):
    _, program, _, eager = exported
    with pockettorch.load(program.to_bytes()) as module:
        got = module.run_numpy([t.numpy() for t in inputs()])
    for k, (g, e) in enumerate(zip(got, eager)):
        g, e = torch.from_numpy(g).flatten(), torch.from_numpy(e).flatten()
        assert torch.nn.functional.cosine_similarity(g, e, 0) >= 0.999, k
        assert sqnr(e, g) >= 30, k


def test_zoo_lstm_exports_quantized_and_is_reported():
    entry = ZOO["lstm"]
    torch.manual_seed(0)
    model = entry.factory().eval()
    x = torch.randn(*entry.input_shapes[0])
    program = pockettorch.export(model, (x,), quantization=quant.int8_dynamic())
    fp32 = pockettorch.export(model, (x,))
    ops = program.graph.op_histogram()
    assert ops.get("qlstm_dynamic") == 2 and "lstm" not in ops, ops
    assert len(program.to_bytes()) < 0.3 * len(fp32.to_bytes())
    report = program.quant_report()
    rows = {r["name"]: r for r in report.layers}
    assert rows["lstm"]["op"] == "lstm" and rows["lstm"]["sqnr_db"] >= 30 and not rows["lstm"]["flagged"], rows
    assert "lstm" in str(report)
    with pockettorch.load(program.to_bytes()) as module:
        got = torch.from_numpy(module.run_numpy([x.numpy()])[0])
    with torch.no_grad():
        eager = model(x)
    assert torch.nn.functional.cosine_similarity(got, eager).min() >= 0.999


def test_skipped_recurrent_layers_stay_float():
    model = QuantRecurrent().eval()
    program = pockettorch.export(model, inputs(), quantization=quant.int8_dynamic(skip=["lstm_b", "gru_1"]))
    ops = program.graph.op_histogram()
    assert ops.get("lstm") == 4 and ops.get("qlstm_dynamic") == 1 and ops.get("gru") == 1, ops
    report = program.quant_report()
    assert {(r["name"], r["reason"]) for r in report.float_ops} == {("lstm_b", "skip"), ("gru_1", "skip")}
    assert {r["name"] for r in report.layers} == {"lstm_1", "gru_b"}


# ---- the loader -------------------------------------------------------------------------------------------------

def _edit(op: str, index: int, fn):
    def edit(node):
        if node.op == op:
            t = node.inputs[index]
            t.data = fn(t.data.copy())
            t.shape = t.data.shape
    return edit


def _dtype(op: str, index: int):
    def edit(node):
        if node.op == op:
            t = node.inputs[index]
            t.data, t.dtype = t.data.astype(np.float32), "float32"
    return edit


BAD = {
    "lstm w_ih scale zero": _edit("qlstm_dynamic", 6, lambda a: np.where(np.arange(a.size) == 3, 0, a).astype(a.dtype)),
    "lstm w_hh scale nan": _edit("qlstm_dynamic", 7, lambda a: np.full_like(a, np.nan)),
    "lstm w_hh scale inf": _edit("qlstm_dynamic", 7, lambda a: np.where(np.arange(a.size) == 0, np.inf, a)
                                 .astype(a.dtype)),
    "gru w_ih scale negative": _edit("qgru_dynamic", 6, lambda a: -a),
    "gru scales count": _edit("qgru_dynamic", 7, lambda a: a[:-1]),
    "lstm w_hh shape": _edit("qlstm_dynamic", 4, lambda a: a[:, :-1]),
    "gru w_ih rows": _edit("qgru_dynamic", 2, lambda a: a[:-3]),
    "lstm float weight": _dtype("qlstm_dynamic", 3),
    "gru float weight": _dtype("qgru_dynamic", 3),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_field_is_refused_at_load(exported, case):
    _, program, _, _ = exported
    saved = [(n, [(t.data, t.shape, t.dtype) for t in n.inputs]) for n in program.graph.nodes]
    program._bytes = None
    try:
        for n in program.graph.nodes:
            BAD[case](n)
        data = program.to_bytes()
    finally:
        for n, datas in saved:
            for t, (d, shape, dtype) in zip(n.inputs, datas):
                t.data, t.shape, t.dtype = d, shape, dtype
        program._bytes = None
    with pytest.raises(errors.PocketTorchError):
        pockettorch.load(data)
    assert pockettorch.load(program.to_bytes()) is not None  # the unedited program still loads
