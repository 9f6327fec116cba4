"""The quantized rows of bench/compare.py (`<model>@int8`, `<model>@w4`, bench/quant_variants.py): names, calibration,
PocketTorch's adapter really writing a quantized program, the SQNR figure, and the quantized-over-float table.
The peers' quantizers (ONNX Runtime, ExecuTorch, LiteRT) are the bench extra's and are not installed for the tests."""
from __future__ import annotations

import importlib
import math
import pathlib
import sys
from types import SimpleNamespace

import numpy as np
import pytest

import pockettorch

BENCH = str(pathlib.Path(__file__).resolve().parents[2] / "bench")
# bench/'s top-level module names (models, common, ...) are also the names of other test folders' helpers
# (tests/delegation/models.py): they are imported only while a test runs, and taken out of sys.modules after it.
BENCH_MODULES = ("common", "compare", "models", "quant_variants", "results_md", "peers", "peers.pockettorch")


@pytest.fixture
def bench():
    saved_path, saved = list(sys.path), {n: sys.modules.pop(n, None) for n in BENCH_MODULES}
    sys.path.insert(0, BENCH)
    try:
        yield SimpleNamespace(**{n.replace(".", "_"): importlib.import_module(n) for n in BENCH_MODULES})
    finally:
        sys.path[:] = saved_path
        for name, module in saved.items():
            sys.modules.pop(name, None)
            if module is not None:
                sys.modules[name] = module


def test_names_split_and_are_known(bench):
    quant_variants, models = bench.quant_variants, bench.models
    assert quant_variants.split("mobilenet_v2@int8") == ("mobilenet_v2", "int8")
    assert quant_variants.split("ffn_stack") == ("ffn_stack", None)
    with pytest.raises(ValueError, match="unknown quantization scheme 'int3'"):
        quant_variants.split("mlp@int3")
    assert models.known("resnet18@int8") and models.known("ffn_stack@w4") and models.known("mlp")
    assert not models.known("mlp@int3") and not models.known("nosuchmodel@int8")
    assert models.dynamic_shapes("bert_base@int8") is None and models.dynamic_shapes("bert_base") is not None


def test_calibration_is_seeded_and_shaped_like_the_inputs(bench):
    quant_variants, models = bench.quant_variants, bench.models
    _, inputs, _ = models.build("mlp@int8")
    a, b = quant_variants.calibration("mlp@int8", inputs), quant_variants.calibration("mlp@int8", inputs)
    assert len(a) == quant_variants.CALIBRATION_BATCHES
    assert all(x.shape == y.shape == inputs[0].shape and bool((x == y).all()) for (x,), (y,) in zip(a, b))
    assert not bool((a[0][0] == a[1][0]).all())  # different batches


@pytest.mark.parametrize("model, scheme, size_ratio", [("mlp@int8", "int8", 0.3), ("mlp@w4", "weight_only", 0.7)])
def test_pockettorch_adapter_writes_a_quantized_program(bench, tmp_path, model, scheme, size_ratio):
    models, pkt_adapter, common = bench.models, bench.peers_pockettorch, bench.common
    module, inputs, _ = models.build(model)
    float_path, quant_path = tmp_path / "float.ptm", tmp_path / "quant.ptm"
    pkt_adapter.export("mlp", module, inputs, str(float_path))
    pkt_adapter.export(model, module, inputs, str(quant_path))
    assert quant_path.stat().st_size < size_ratio * float_path.stat().st_size  # the zoo mlp's 784-wide layer stays
    with pockettorch.load(str(quant_path)) as m:                                # float under w4 (784 % 32 != 0)
        recorded = m.metadata["quantization"]
        out = m.run_numpy([x.numpy() for x in inputs])
    assert (recorded if isinstance(recorded, str) else recorded["scheme"]) == scheme
    reference = [module(*inputs).detach().numpy()]
    assert 15 < common.sqnr_db(out, reference) < 80  # quantized: close to float, not equal to it


def test_sqnr_db(bench):
    common = bench.common
    ref = [np.array([3.0, 4.0])]
    assert common.sqnr_db([np.array([3.0, 4.0])], ref) == math.inf
    assert common.sqnr_db([np.array([3.0, 4.5])], ref) == pytest.approx(10 * math.log10(25 / 0.25))
    assert common.sqnr_db([np.zeros(3)], ref) is None


def _cell(model, threads, pkt_ms, ort_ms, pkt_bytes, ort_bytes):
    ok = lambda ms, size: {"status": "ok", "latency_ms": {"median": ms, "p90": ms}, "file_bytes": size,  # noqa: E731
                           "sqnr_db": 30.0}
    return {"model": model, "threads": threads,
            "results": {"pockettorch": ok(pkt_ms, pkt_bytes), "ort": ok(ort_ms, ort_bytes)}}


def test_quantized_over_float_table(bench):
    run = {"columns": ["pockettorch", "ort"],
           "cells": [_cell("resnet18", 1, 20.0, 30.0, 400, 400), _cell("resnet18@int8", 1, 10.0, 15.0, 100, 120),
                     _cell("mlp@int8", 1, 1.0, 1.0, 1, 1)]}  # no float mlp row: not in the table
    text = "\n".join(bench.compare.quantized_vs_float(run))
    assert "| resnet18 | int8 | 1 | PocketTorch | 2.00x | 0.250x | 30.0 |" in text
    assert "| resnet18 | int8 | 1 | ONNX Runtime | 2.00x | 0.300x | 30.0 |" in text
    assert "mlp" not in text
