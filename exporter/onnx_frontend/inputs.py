"""The program's input shapes: from the caller's example inputs, the graph's static shapes, or the bounds the caller
gives for dynamic dims (dim_param), which become the exporter's symbols (the memory plan is made for the maxima)."""
from __future__ import annotations

import numpy as np
import onnx
import sympy

from pockettorch.exporter.onnx_frontend.context import ir_dtype
from pockettorch.exporter.onnx_frontend.load import invalid
from pockettorch.runtime import error_catalogue as errors


def graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The graph's real inputs (old exporters also list initializers as inputs; those are constants)."""
    inits = {t.name for t in model.graph.initializer}
    return [v for v in model.graph.input if v.name not in inits]


def _bounds(entry, where: str) -> tuple[str | None, int, int]:
    """(name, min, max) of one dynamic_shapes entry: torch.export.Dim or a (min, max) pair."""
    if isinstance(entry, (tuple, list)) and len(entry) == 2:
        name, lo, hi = None, entry[0], entry[1]
    elif hasattr(entry, "min") and hasattr(entry, "max"):
        name, lo, hi = getattr(entry, "__name__", None), entry.min, entry.max
    else:
        raise invalid(f"dynamic_shapes for {where}: use torch.export.Dim(name, min=, max=) or a "
                                       f"(min, max) pair, got {entry!r}")
    try:
        lo, hi = int(lo), int(hi)
    except (TypeError, ValueError, OverflowError):
        raise invalid(f"dynamic dim {where} needs a bounded max (the memory plan is made for it), "
                                       f"got {lo}..{hi}") from None
    if not 1 <= lo <= hi <= 2 ** 31:
        raise invalid(f"dynamic dim {where} needs 1 <= min <= max <= 2^31, got {lo}..{hi}")
    return name, lo, hi


def _per_input(dynamic_shapes, names: list[str]) -> dict[str, dict]:
    if dynamic_shapes is None:
        return {}
    if isinstance(dynamic_shapes, dict):
        unknown = sorted(set(dynamic_shapes) - set(names))
        if unknown:
            raise invalid(f"dynamic_shapes names {unknown}, which are not inputs of the model "
                                           f"(inputs: {names})")
        specs = dynamic_shapes
    elif isinstance(dynamic_shapes, (tuple, list)):
        if len(dynamic_shapes) != len(names):
            raise invalid(f"dynamic_shapes has {len(dynamic_shapes)} entries for {len(names)} inputs")
        specs = dict(zip(names, dynamic_shapes))
    else:
        raise invalid("dynamic_shapes must be a dict by input name or a tuple by position")
    out = {}
    for name, spec in specs.items():
        if spec is None:
            continue
        if isinstance(spec, (tuple, list)):
            spec = {d: e for d, e in enumerate(spec) if e is not None}
        if not isinstance(spec, dict):
            raise invalid(f"dynamic_shapes for input {name} must be a dict {{dim: bounds}}")
        out[name] = spec
    return out


def resolve(model: onnx.ModelProto, example_inputs, dynamic_shapes):
    """-> ([(name, dtype, max shape, {dim: symbol})], [(symbol, name, min, max)]) for the graph's inputs."""
    inputs = graph_inputs(model)
    names = [v.name for v in inputs]
    if example_inputs is not None:
        if not isinstance(example_inputs, (tuple, list)):
            example_inputs = (example_inputs,)
        if len(example_inputs) != len(inputs):
            raise invalid(f"the model has {len(inputs)} inputs ({names}); "
                                           f"{len(example_inputs)} example inputs were given")
    specs = _per_input(dynamic_shapes, names)
    symbols: dict[str, list] = {}  # dim_param or Dim name -> [symbol, name, min, max]
    resolved = []
    for k, v in enumerate(inputs):
        t = v.type.tensor_type
        if not v.type.HasField("tensor_type") or not t.HasField("shape"):
            raise errors.UnsupportedOpError(f"input {v.name!r} is not a tensor of known rank")
        dtype = ir_dtype(t.elem_type, f"input {v.name!r}")
        dims = list(t.shape.dim)
        example = None if example_inputs is None else np.asarray(example_inputs[k])
        if example is not None and example.ndim != len(dims):
            raise invalid(f"example input {v.name!r} has rank {example.ndim}; the model's input "
                                           f"has rank {len(dims)}")
        spec = specs.get(v.name, {})
        shape, sym = [], {}
        for d, dim in enumerate(dims):
            if d in spec:
                pname, lo, hi = _bounds(spec[d], f"{v.name}[{d}]")
                key = dim.dim_param or pname or f"{v.name}_{d}"
                entry = symbols.setdefault(key, [sympy.Symbol(sanitize_symbol(key), integer=True, positive=True),
                                                 sanitize_symbol(key), lo, hi])
                entry[2], entry[3] = max(entry[2], lo), min(entry[3], hi)
                if entry[2] > entry[3]:
                    raise invalid(f"dynamic dim {key} gets disjoint bounds on different inputs")
                if dim.HasField("dim_value") and dim.dim_value > 0:
                    raise invalid(f"dynamic_shapes makes dim {d} of {v.name!r} dynamic, but the "
                                                   f"model fixes it to {dim.dim_value}")
                sym[d] = entry[0]
                shape.append(None)
            elif dim.HasField("dim_value") and dim.dim_value > 0:
                if example is not None and example.shape[d] != dim.dim_value:
                    raise invalid(f"example input {v.name!r} has size {example.shape[d]} in dim {d}; "
                                                   f"the model fixes it to {dim.dim_value}")
                shape.append(int(dim.dim_value))
            elif example is not None:
                shape.append(int(example.shape[d]))  # a dynamic dim specialised to the example's size
            else:
                raise errors.DynamicShapeError(
                    f"input {v.name!r} dim {d} is dynamic ({dim.dim_param or 'unnamed'}); give its bounds",
                    hint=f"Pass dynamic_shapes={{{v.name!r}: {{{d}: (min, max)}}}} (or torch.export.Dim), or "
                         f"example inputs to fix the size (CLI: --input-shape).")
        resolved.append([v.name, dtype, shape, sym])
    table = {id(e[0]): e for e in symbols.values()}
    for entry in resolved:
        entry[2] = [table[id(entry[3][d])][3] if s is None else s for d, s in enumerate(entry[2])]
    return [tuple(e) for e in resolved], [tuple(e) for e in symbols.values()]


def sanitize_symbol(name: str) -> str:
    from pockettorch.exporter.capture import sanitize
    return sanitize(name)
