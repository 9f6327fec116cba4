"""Constant folding: a node whose inputs are all constants is evaluated at import with onnx.reference (numpy)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from pockettorch.exporter.ir import NUMPY_DTYPES
from pockettorch.exporter.onnx_frontend.load import MAX_OPSET, invalid

# Never folded: random values differ per run; subgraph ops need their bodies (handled, or refused, by handlers).
NO_FOLD = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli",
           "If", "Loop", "Scan"}


def fold_node(ctx, node: onnx.NodeProto) -> bool:
    if node.op_type in NO_FOLD or node.domain not in ("", "ai.onnx"):
        return False
    present = [name for name in node.input if name]
    values = [ctx.values[name] for name in present]
    if not all(v.is_constant for v in values):
        return False
    if not present and node.op_type != "Constant":
        return False  # e.g. EyeLike-free generators: let the handler decide
    inits = [numpy_helper.from_array(np.asarray(v.data), name) for v, name in zip(values, present)]
    outputs = [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in node.output if o]
    try:
        results = _evaluate(node, inits, outputs, ctx.opset)
    except RuntimeError as exc:
        if "No implementation" not in str(exc):
            raise invalid(f"{ctx.where()}: evaluating it on its constant inputs failed ({exc})") from None
        # onnx.reference implements some ops only from a later version (DequantizeLinear from 19), whose
        # semantics extend the earlier ones'.
        results = _evaluate(node, inits, outputs, MAX_OPSET)
    except Exception as exc:
        raise invalid(f"{ctx.where()}: evaluating it on its constant inputs failed "
                      f"({type(exc).__name__}: {exc})") from None
    for name, value in zip([o for o in node.output if o], results):
        value = np.asarray(value)
        dtype = "float32" if value.dtype == np.float64 else value.dtype.name
        if dtype not in NUMPY_DTYPES:
            raise ctx.unsupported(f"its constant result has dtype {value.dtype}, which PocketTorch does not hold")
        ctx.values[name] = ctx.constant(value, name, dtype)
    return True


def _evaluate(node, inits, outputs, opset: int) -> list:
    model = helper.make_model(helper.make_graph([node], "fold", [], outputs, inits),
                              opset_imports=[helper.make_opsetid("", opset)])
    return ReferenceEvaluator(model).run(None, {})
