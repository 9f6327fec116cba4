"""ONNX frontend: an .onnx file -> a PocketTorch Program, lowering ONNX nodes straight onto the op table.

    program = export_onnx("model.onnx")                       # static input shapes from the graph
    program = export_onnx("model.onnx", dynamic_shapes={"x": {0: (1, 16)}})

Nodes whose inputs are all constants are evaluated at import (onnx.reference: initializer arithmetic, Shape/Range/
ConstantOfShape chains, QDQ of weights); every other node goes through the handler registered for its op type
(registry.py). The lowered graph takes the exporter's passes, memory plan and serializer (api.finish).
"""
from __future__ import annotations

import os

import numpy as np
import onnx

from pockettorch import __version__
from pockettorch.exporter.api import Program, _check_json, finish
from pockettorch.exporter.capture import sanitize
from pockettorch.exporter.ir import Graph, Tensor
from pockettorch.exporter.quant.config import Int8Static
from pockettorch.exporter.onnx_frontend import inputs as inputs_mod
from pockettorch.exporter.onnx_frontend import ops_quant
from pockettorch.exporter.onnx_frontend import quantize
from pockettorch.exporter.onnx_frontend import symbolic
from pockettorch.exporter.onnx_frontend.context import UNKNOWN, OnnxContext, ir_dtype
from pockettorch.exporter.onnx_frontend.fold import fold_node
from pockettorch.exporter.onnx_frontend.load import (MAX_OPSET, MIN_OPSET, default_opset, infer_shapes, invalid,
                                                     load_model)
from pockettorch.exporter.onnx_frontend.registry import load_handlers
from pockettorch.runtime import error_catalogue as errors

__all__ = ["export_onnx", "supported_ops", "MIN_OPSET", "MAX_OPSET"]
MAX_TEXT = 256  # longest producer / file name recorded in the program's "source"


def supported_ops() -> list[str]:
    return sorted(load_handlers())


def export_onnx(path, example_inputs=None, name=None, metadata=None, dynamic_shapes=None, quantization=None,
                backends=None, backend_options=None) -> Program:
    """Import the ONNX model at `path` as a Program.

    example_inputs (arrays or tensors, one per graph input) fix the sizes of dims the graph leaves open; without
    them the graph's static shapes are used. dynamic_shapes gives bounds to dynamic dims, by input name or position:
    {dim: torch.export.Dim(name, min=, max=)} or {dim: (min, max)}; the program then runs at any size in range.
    quantization (a pockettorch.quant scheme; quantize.py says what each does to an ONNX model), backends and
    backend_options: as for pockettorch.export."""
    path = os.fspath(path)
    user_meta = _check_json(metadata)
    quantize.check_scheme(quantization)
    if isinstance(quantization, Int8Static) and quantization is not quantize.QDQ:
        return _static_int8(path, example_inputs, name, metadata, dynamic_shapes, quantization, backends,
                            backend_options)
    model = load_model(path)
    opset = default_opset(model)
    resolved, symbols = inputs_mod.resolve(model, _numpy(example_inputs), dynamic_shapes)
    _fix_input_dims(model, resolved)
    model = infer_shapes(model, path)
    graph = Graph(sanitize(name or os.path.splitext(os.path.basename(path))[0]))
    graph.symbols = symbols
    ctx = OnnxContext(graph, opset, _value_syms(model, {s[1]: s[0] for s in symbols}) if symbols else {})
    input_names, output_names = [sanitize(r[0]) for r in resolved], [sanitize(o.name) for o in model.graph.output]
    graph._names.update(input_names + output_names)
    for (onnx_name, dtype, shape, sym), ir_name in zip(resolved, input_names):
        t = graph.tensor(ir_name, dtype, shape, sym)
        t.name = ir_name  # reserved above (unique_name would add a suffix): inputs keep the model's names
        graph.inputs.append(t)
        ctx.values[onnx_name] = t
    for init in model.graph.initializer:
        ctx.values[init.name] = _initializer(graph, init)
    _lower_nodes(ctx, model)
    for o in model.graph.output:
        graph.outputs.append(_output(ctx, o.name))
    graph.output_structure = ({"kind": "tensor", "index": 0} if len(graph.outputs) == 1 else
                              {"kind": "tuple", "items": [{"kind": "tensor", "index": i}
                                                          for i in range(len(graph.outputs))]})
    producer = " ".join(p for p in (model.producer_name, model.producer_version) if p)
    # Both strings come from the file: kept short (the loader checks "source" fields; FORMAT.md).
    source = {"format": "onnx", "opset": opset, "producer": producer[:MAX_TEXT],
              "file": os.path.basename(path)[:MAX_TEXT]}
    quantization = quantize.for_graph(graph, quantization)
    return finish(graph, input_names, output_names, user_meta,
                  {"pockettorch": __version__, "onnx": onnx.__version__}, source, quantization, backends,
                  backend_options, layer_names=quantize.layer_names(graph))


def _static_int8(path, example_inputs, name, metadata, dynamic_shapes, scheme, backends, backend_options):
    """A float file quantized by ONNX Runtime (static_int8.py), imported as the QDQ model it becomes."""
    from pockettorch.exporter.onnx_frontend import static_int8

    if any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in load_model(path).graph.node):
        raise errors.BadModelArgsError(f"{os.path.basename(path)} is already quantized (QDQ): it imports as an int8 "
                                       f"program", hint="export it without quantization=")
    with static_int8.temporary_directory() as workdir:
        qdq = static_int8.quantize_file(path, scheme.calibration, scheme.skip, workdir)
        program = export_onnx(qdq, example_inputs, name or os.path.splitext(os.path.basename(path))[0], metadata,
                              dynamic_shapes, None, backends, backend_options)
    program.metadata["source"]["file"] = os.path.basename(path)[:MAX_TEXT]
    return program


def _numpy(example_inputs):
    if example_inputs is None:
        return None
    if not isinstance(example_inputs, (tuple, list)):
        example_inputs = (example_inputs,)
    return tuple(a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a) for a in example_inputs)


def _fix_input_dims(model: onnx.ModelProto, resolved) -> None:
    """Write the resolved sizes into the graph inputs (dynamic dims named after their symbol) for shape inference."""
    by_name = {r[0]: r for r in resolved}
    for v in inputs_mod.graph_inputs(model):
        _, _, shape, sym = by_name[v.name]
        for d, dim in enumerate(v.type.tensor_type.shape.dim):
            if d in sym:
                dim.dim_param = str(sym[d])
            else:
                dim.dim_value = shape[d]


def _value_syms(model: onnx.ModelProto, symbols: dict) -> dict:
    """ONNX value -> {dim: symbol, or UNKNOWN for an open dim shape inference could not name} (None: no shape)."""
    out = {}
    for v in list(model.graph.value_info) + list(model.graph.output):
        t = v.type.tensor_type
        if not v.type.HasField("tensor_type"):
            continue
        if not t.HasField("shape"):
            out[v.name] = None
            continue
        out[v.name] = {d: symbols.get(dim.dim_param, UNKNOWN) for d, dim in enumerate(t.shape.dim)
                       if not dim.HasField("dim_value")}
    return out


def _initializer(graph: Graph, init: onnx.TensorProto) -> Tensor:
    try:
        array = onnx.numpy_helper.to_array(init)
    except Exception as exc:
        raise invalid(f"initializer {init.name!r} cannot be read ({exc})") from None
    dtype = ir_dtype(init.data_type, f"initializer {init.name!r}")
    return graph.constant(array, sanitize(init.name), dtype)


def _lower_nodes(ctx: OnnxContext, model: onnx.ModelProto) -> None:
    handlers = load_handlers()
    for node in model.graph.node:
        ctx.node = node
        if node.domain not in ("", "ai.onnx"):
            raise ctx.unsupported(f"operator domain {node.domain!r} is not supported",
                                  hint="PocketTorch imports the default ONNX domain; convert the model without "
                                       "ai.onnx.ml / custom ops (skl2onnx: keep the pipeline's numeric part).")
        for name in node.input:
            if name and name not in ctx.values:
                raise invalid(f"{ctx.where()} reads {name!r}, which no node, input or "
                                               f"initializer defines (a missing initializer?)")
        if node.op_type != "DequantizeLinear" and any(name in ctx.quantized for name in node.input):
            raise ctx.unsupported("it reads the quantized output of a QuantizeLinear; PocketTorch imports QDQ "
                                  "models, where a DequantizeLinear reads it")
        if symbolic.check_readers(ctx, node):
            symbolic.fold(ctx, node)
            continue
        if fold_node(ctx, node):
            if node.op_type == "DequantizeLinear":
                ops_quant.register_weight(ctx, node)
            continue
        handler = handlers.get(node.op_type)
        if handler is None:
            raise ctx.unsupported(f"operator {node.op_type} has no PocketTorch lowering",
                                  hint="Supported ONNX operators are listed in docs/ONNX.md; rewrite the model "
                                       "around this one or add a handler in exporter/onnx_frontend/.")
        try:
            result = handler(ctx, node)
        except errors.PocketTorchError:
            raise
        except (ValueError, IndexError, KeyError, TypeError, ArithmeticError) as exc:
            # an attribute or input the checker let through that the handler cannot use (a hostile file)
            raise invalid(f"{ctx.where()}: cannot lower it ({type(exc).__name__}: {exc})") from exc
        results = list(result) if isinstance(result, (list, tuple)) else [result]
        for out_name, t in zip(node.output, results):
            if out_name and t is not None:
                if not isinstance(t, Tensor):
                    raise TypeError(f"handler of {node.op_type} returned {t!r}")
                ctx.values[out_name] = t
    ctx.node = None


def _output(ctx: OnnxContext, onnx_name: str) -> Tensor:
    t = ctx.values.get(onnx_name)
    if onnx_name in ctx.sym_values:
        raise errors.DynamicShapeError(f"graph output {onnx_name!r} is a shape computed from the dynamic dims; "
                                       f"PocketTorch outputs tensors of data only")
    if onnx_name in ctx.quantized:
        raise errors.UnsupportedOpError(f"graph output {onnx_name!r} is a QuantizeLinear result; PocketTorch "
                                        f"programs output float tensors",
                                        hint="end the model with a DequantizeLinear")
    if t is None:
        raise invalid(f"graph output {onnx_name!r} is not computed by any node")
    if t.is_constant or any(t is i for i in ctx.graph.inputs) or any(t is o for o in ctx.graph.outputs):
        # Outputs are written by the program: copy constants, pass-through inputs and repeated outputs.
        out = ctx.graph.tensor(sanitize(onnx_name), t.dtype, t.shape, dict(t.sym))
        ctx.graph.add("cast", [t], [out], source="model output")
        return out
    return t
