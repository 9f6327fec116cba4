"""What ONNX handlers use: the IR tensor of each ONNX value, constants, attributes, fresh outputs, emission."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from pockettorch.exporter.capture import sanitize
from pockettorch.exporter.ir import Graph, Tensor
from pockettorch.runtime import error_catalogue as errors

# ONNX element types PocketTorch holds (float64 runs as float32: models from numpy-based exporters use it).
ONNX_DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.DOUBLE: "float32", onnx.TensorProto.INT64: "int64",
               onnx.TensorProto.INT32: "int32", onnx.TensorProto.BOOL: "bool", onnx.TensorProto.UINT8: "uint8",
               onnx.TensorProto.INT8: "int8", onnx.TensorProto.FLOAT16: "float16"}


def ir_dtype(elem_type: int, where: str) -> str:
    if elem_type not in ONNX_DTYPES:
        known = elem_type in onnx.TensorProto.DataType.values()
        name = onnx.TensorProto.DataType.Name(elem_type) if known else elem_type
        raise errors.UnsupportedOpError(f"{where} has element type {name}; PocketTorch holds float32/float16, "
                                        f"int64/int32/int8/uint8 and bool tensors")
    return ONNX_DTYPES[elem_type]


UNKNOWN = object()  # a dim shape inference could not name (value_sym)


class OnnxContext:
    def __init__(self, graph: Graph, opset: int, value_sym: dict[str, dict]):
        self.graph = graph
        self.opset = opset
        self.values: dict[str, Tensor] = {}
        self.value_sym = value_sym  # ONNX value -> {dim: symbol or UNKNOWN} from shape inference (dynamic programs)
        self.node: onnx.NodeProto | None = None
        self.quantized: dict[str, np.dtype] = {}  # QuantizeLinear outputs -> their ONNX type (ops_quant.py)
        self.sym_values: dict[str, np.ndarray] = {}  # shape values of dynamic dims, as expressions (symbolic.py)

    # -- errors --
    def where(self) -> str:
        n = self.node
        return f"node {n.name or n.output[0]!r} ({n.op_type}, opset {self.opset})"

    def unsupported(self, why: str, hint: str = "") -> errors.UnsupportedOpError:
        return errors.UnsupportedOpError(f"{self.where()}: {why}", hint=hint or
                                         "Re-export the model without this form, or add it to exporter/onnx_frontend/.")

    # -- inputs, attributes --
    def has(self, i: int) -> bool:
        return i < len(self.node.input) and self.node.input[i] != ""

    def input(self, i: int, dtype: str | None = None) -> Tensor | None:
        if not self.has(i):
            return None
        t = self.values[self.node.input[i]]
        return self.cast(t, dtype) if dtype else t

    def const(self, i: int) -> np.ndarray | None:
        t = self.input(i)
        return None if t is None or not t.is_constant else t.data

    def need_const(self, i: int, what: str) -> np.ndarray:
        value = self.const(i)
        if value is None:
            raise self.unsupported(f"its {what} (input {i}) is computed at run time; PocketTorch needs it constant",
                                   hint="Export with static shapes so the value folds to a constant.")
        return value

    def attr(self, name: str, default=None):
        for a in self.node.attribute:
            if a.name == name:
                value = helper.get_attribute_value(a)
                if isinstance(value, bytes):
                    return value.decode("utf-8", "replace")
                if isinstance(value, onnx.TensorProto):
                    return onnx.numpy_helper.to_array(value)
                return value
        return default

    # -- outputs, emission --
    def new(self, dtype: str, shape, index: int = 0, suffix: str = "", sym: dict | None = None) -> Tensor:
        """A new tensor named after the node's output `index`; a suffix marks a temporary of the lowering.
        `sym` gives the dynamic dims when the handler computed them (every other dim is then static); without it a
        node output's dynamic dims come from shape inference."""
        base = self.node.output[index] if index < len(self.node.output) and self.node.output[index] else "t"
        t = self.graph.tensor(sanitize(base) + suffix, dtype, tuple(int(d) for d in shape), sym)
        if not suffix and sym is None and getattr(self.graph, "symbols", None):
            t.sym = self._output_sym(base, t.shape, {})
        return t

    def _output_sym(self, name: str, shape: tuple, sym: dict) -> dict:
        """The dynamic dims of node output `name`: the handler's, else shape inference's symbol, else (a dim
        inference lost, e.g. after a reshape) the symbol of the input dim right-aligned with it and of the same
        size; a dim inference lost that no input explains is an error."""
        inferred = self.value_sym.get(name)
        for d in range(len(shape)):
            if d in sym:
                continue
            found = UNKNOWN if inferred is None else inferred.get(d)
            if found is not None and found is not UNKNOWN:
                sym[d] = found
            elif found is UNKNOWN:
                aligned = self._aligned_sym(d, shape)
                if aligned is None and inferred is not None:
                    raise errors.DynamicShapeError(
                        f"{self.where()}: dim {d} of its output {name!r} depends on the dynamic dims in a way "
                        f"PocketTorch cannot follow", hint="Export with static shapes (no dynamic_shapes), or make "
                        "only the dims that pass through the model unchanged (batch, sequence) dynamic.")
                if aligned is not None:
                    sym[d] = aligned
        return sym

    def _aligned_sym(self, d: int, shape: tuple):
        for name in self.node.input:
            t = self.values.get(name) if name else None
            if t is None:
                continue
            k = d - (len(shape) - len(t.shape))
            if 0 <= k < len(t.shape) and k in t.sym and t.shape[k] == shape[d]:
                return t.sym[k]
        return None

    def emit(self, op: str, inputs: list[Tensor], outputs: list[Tensor], **params):
        n = self.node
        return self.graph.add(op, inputs, outputs, source=f"onnx {n.op_type} node {n.name or n.output[0]}",
                              covers=[n.name or n.output[0]], **params)

    def op(self, op: str, inputs: list[Tensor], dtype: str, shape, index: int = 0, suffix: str = "", sym=None,
           **params) -> Tensor:
        if sym is None and suffix:
            sym = _keep_sym(inputs, shape)
        out = self.new(dtype, shape, index, suffix, sym=sym)
        self.emit(op, inputs, [out], **params)
        return out

    def constant(self, array, name: str = "const", dtype: str | None = None) -> Tensor:
        return self.graph.constant(array, sanitize(name), dtype)

    def cast(self, t: Tensor, dtype: str) -> Tensor:
        if t.dtype == dtype:
            return t
        if t.is_constant:
            return self.graph.constant(t.data, t.name + "_" + dtype, dtype)
        return self.op("cast", [t], dtype, t.shape, suffix="_" + dtype)

    def reshape(self, t: Tensor, shape, suffix: str = "_view", index: int = 0, sym: dict | None = None) -> Tensor:
        shape = tuple(int(d) for d in shape)
        if t.shape == shape:
            return t
        if t.is_constant:
            return self.graph.constant(t.data.reshape(shape), t.name, t.dtype)
        return self.op("reshape", [t], t.dtype, shape, index, suffix, sym=sym)


def _keep_sym(inputs: list[Tensor], shape) -> dict:
    """A temporary's dynamic dims: the leading ones it shares with the first input (batch and sequence dims stay in
    front through the reshapes and casts handlers add)."""
    if not inputs:
        return {}
    x = inputs[0]
    return {d: s for d, s in x.sym.items() if d < len(shape) and d < len(x.shape) and shape[d] == x.shape[d]
            and all(shape[k] == x.shape[k] for k in range(d))}
