"""Helpers for the ONNX import tests: build models with onnx.helper, import them, run them in the C runtime and
compare with the oracles (onnx.reference.ReferenceEvaluator and onnxruntime)."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import pockettorch
from pockettorch.exporter.onnx_frontend import export_onnx

F = TensorProto.FLOAT
I64 = TensorProto.INT64


def make_model(nodes, inputs, outputs, initializers=(), opset=17, path=None) -> onnx.ModelProto:
    """inputs/outputs: (name, elem_type, shape); initializers: {name: array}."""
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in dict(initializers).items()]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(*i) for i in inputs],
                              [helper.make_tensor_value_info(*o) for o in outputs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="handwritten")
    model.ir_version = 8
    inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(model).graph.output}
    for k, o in enumerate(outputs):  # outputs given without a shape take the inferred one
        if o[2] is None and o[0] in inferred:
            model.graph.output[k].CopyFrom(inferred[o[0]])
    if path is not None:
        onnx.save(model, str(path))
    return model


def run_imported(path, feeds: list[np.ndarray], **kwargs):
    program = export_onnx(path, **kwargs)
    with pockettorch.load(program.to_bytes()) as module:
        out = module(*feeds)
    return (list(out) if isinstance(out, (list, tuple)) else [out]), program


def close(got, want, tol: float, what: str) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if want.dtype.kind in "fc":
        nan = np.isnan(want)
        np.testing.assert_array_equal(np.isnan(got), nan, err_msg=f"{what}: NaN positions differ")
        inf = np.isinf(want)
        np.testing.assert_array_equal(got[inf], want[inf], err_msg=f"{what}: infinities differ")
        got, want = got[~nan & ~inf], want[~nan & ~inf]
        scale = max(float(np.abs(want).max()), 1e-6) if want.size else 1.0
        err = float(np.abs(got.astype(np.float64) - want).max()) if want.size else 0.0
        assert err <= tol * scale, f"{what}: max error {err:.3g} > {tol} x {scale:.3g}"
    else:
        np.testing.assert_array_equal(got, want.astype(got.dtype), err_msg=what)


def ort_options() -> onnxruntime.SessionOptions:
    """onnxruntime computing what the graph says: its graph optimizer would otherwise turn DequantizeLinear -> MatMul
    into a dynamically quantized int8 MatMul (an approximation of the model, not its value)."""
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    return options


def check_against_oracles(path, feeds: list[np.ndarray], tol: float = 1e-4, oracles=("reference", "onnxruntime"),
                          **kwargs):
    """Import `path`, run it, and compare every output with ReferenceEvaluator and onnxruntime."""
    got, program = run_imported(path, feeds, **kwargs)
    model = onnx.load(str(path))
    names = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    feed = dict(zip(names, feeds))
    results = {}
    if "onnxruntime" in oracles:
        session = onnxruntime.InferenceSession(str(path), ort_options(), providers=["CPUExecutionProvider"])
        results["onnxruntime"] = session.run(None, feed)
    if "reference" in oracles:
        results["reference"] = ReferenceEvaluator(model).run(None, feed)
    for oracle, want in results.items():
        assert len(got) == len(want)
        for k, (g, w) in enumerate(zip(got, want)):
            close(g, w, tol, f"output {k} vs {oracle}")
    return program
