"""Capture: run torch.export (non-strict) in eval mode and decompose to core ATen."""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils import _pytree as pytree

from pockettorch.exporter.control_flow import has_cond, inline_conds
from pockettorch.runtime import error_catalogue as errors


@dataclass
class Captured:
    exported: torch.export.ExportedProgram
    input_names: list[str]
    output_names: list[str]
    output_structure: dict
    example_inputs: list[torch.Tensor]
    eager_outputs: list[torch.Tensor] = field(default_factory=list)
    torch_version: str = torch.__version__
    symbols: list = field(default_factory=list)  # dynamic dims: [(sympy symbol, name, min, max)]


def _structure(spec, counter: list[int]) -> dict:
    if spec.is_leaf():
        counter[0] += 1
        return {"kind": "tensor", "index": counter[0] - 1}
    items = [_structure(child, counter) for child in spec.children()]
    if spec.type is dict or (isinstance(spec.type, type) and issubclass(spec.type, dict)):
        return {"kind": "dict", "keys": [str(k) for k in spec.context], "items": items}
    if spec.type is list:
        return {"kind": "list", "items": items}
    return {"kind": "tuple", "items": items}  # tuples and namedtuples


def _leaf_names(node: dict, prefix: str, out: list[str]) -> None:
    if node["kind"] == "tensor":
        out.append(prefix)
    elif node["kind"] == "dict":
        for key, child in zip(node["keys"], node["items"]):
            _leaf_names(child, f"{prefix}_{key}" if prefix != "output" else key, out)
    else:
        for i, child in enumerate(node["items"]):
            _leaf_names(child, f"{prefix}_{i}", out)


def sanitize(name: str) -> str:
    name = re.sub(r"\W+", "_", name).strip("_") or "t"
    return name if not name[0].isdigit() else "t_" + name


def _as_tensor_args(example_inputs) -> tuple:
    if isinstance(example_inputs, (torch.Tensor, np.ndarray)):
        example_inputs = (example_inputs,)
    if isinstance(example_inputs, list):
        example_inputs = tuple(example_inputs)
    if not isinstance(example_inputs, tuple):
        raise errors.BadModelArgsError(
            f"example_inputs must be a tuple of tensors (as for torch.export), got {type(example_inputs).__name__}")
    return tuple(torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a for a in example_inputs)


# Composite ops PocketTorch runs as one kernel (or fuses), which the default table would break into many small ops.
KEEP_UNDECOMPOSED = ("scaled_dot_product_attention.default", "tril.default", "triu.default", "pad.default",
                     "_upsample_nearest_exact2d.vec", "upsample_bicubic2d.vec", "silu.default", "hardswish.default",
                     "hardsigmoid.default", "mish.default", "softplus.default")


def decomposition_table(keep_lstm: bool = True) -> dict:
    """The default table without KEEP_UNDECOMPOSED, aten.gru (one `gru` op per layer and direction), and
    aten.lstm (likewise) unless keep_lstm is False: LSTMs with projections (proj_size) are decomposed."""
    table = torch.export.default_decompositions()
    for name in KEEP_UNDECOMPOSED + ("gru.input",) + (("lstm.input",) if keep_lstm else ()):
        packet, overload = name.split(".")
        table.pop(getattr(getattr(torch.ops.aten, packet), overload), None)
    return table


# Element types a program holds (FORMAT.md), and float64: lower.py stores float64 constants as float32 and
# names the op when a model computes in float64.
SUPPORTED_DTYPES = (torch.float32, torch.float16, torch.int64, torch.int32, torch.bool, torch.uint8, torch.int8,
                    torch.float64)


def _unusable(t: torch.Tensor) -> str | None:
    """Why tensor `t` cannot go into a program, with the fix; None when it can."""
    if t.layout != torch.strided:
        return f"is a sparse tensor ({t.layout}); make it dense with .to_dense()"
    if t.device.type == "meta":
        return "is on the meta device and holds no data; load real values (e.g. load_state_dict) before export"
    if t.is_quantized:
        return f"is quantized ({t.dtype}); export the float model (.dequantize())"
    if t.dtype in SUPPORTED_DTYPES:
        return None
    if t.is_complex():
        return f"is {t.dtype}; PocketTorch has no complex numbers: split it into real and imaginary float32 tensors"
    if t.is_floating_point():
        return f"is {t.dtype}; PocketTorch runs float32: convert it with .float() (model.float() for the model)"
    return f"is {t.dtype}, which PocketTorch does not support (float32, float16, int64, int32, int8, uint8, bool)"


def _check_tensors(kind: str, named) -> None:
    for name, t in named:
        why = _unusable(t)
        if why:
            raise errors.BadModelArgsError(f"{kind} {name!r} {why}")


MAX_BOUND = 1 << 31


def _dims_of(spec, rank: int, where: str) -> dict[int, Any]:
    """{dim: Dim} from one input's dynamic_shapes entry: a dict by dim, a list/tuple by position, or None."""
    if spec is None:
        return {}
    items = spec.items() if isinstance(spec, dict) else enumerate(spec) if isinstance(spec, (list, tuple)) else None
    if items is None:
        raise errors.BadModelArgsError(f"dynamic_shapes for {where} must be a dict {{dim: Dim}} or a list, got {spec!r}")
    out = {}
    for d, dim in items:
        if dim is None:
            continue
        if not isinstance(d, int) or not -rank <= d < rank:
            raise errors.BadModelArgsError(f"dynamic_shapes for {where}: dim {d!r} is not a dim of a rank-{rank} input")
        if not hasattr(dim, "max") or not hasattr(dim, "min"):
            raise errors.BadModelArgsError(f"dynamic_shapes for {where} dim {d}: use torch.export.Dim(name, min=, max=)")
        try:
            lo, hi = int(dim.min), int(dim.max)
        except (TypeError, ValueError, OverflowError, AttributeError):  # torch's default max is infinity
            lo, hi = 0, MAX_BOUND + 1
        if not 1 <= lo <= hi <= MAX_BOUND:
            raise errors.BadModelArgsError(
                f"dynamic dim {dim.__name__} of {where} needs a range 1 <= min <= max <= 2^31 (a bounded max: the "
                f"memory plan is made for it), got {dim.min}..{dim.max}")
        out[d % rank] = dim
    return out


def _at_bounds(model, args: tuple, dynamic_shapes) -> tuple[tuple, list[dict[int, Any]]]:
    """The example inputs grown to every dynamic dim's max (their values repeated along it, so indices stay
    valid), which torch.export then takes as the sizes the plan is made for; and each input's {dim: Dim}."""
    if isinstance(dynamic_shapes, dict):
        import inspect
        names = list(inspect.signature(model.forward).parameters)[:len(args)]
        unknown = set(dynamic_shapes) - set(names)
        if unknown:
            raise errors.BadModelArgsError(f"dynamic_shapes names {sorted(unknown)}, not arguments of forward {names}")
        specs = [dynamic_shapes.get(n) for n in names]
    elif isinstance(dynamic_shapes, (list, tuple)) and len(dynamic_shapes) == len(args):
        specs = list(dynamic_shapes)
    else:
        raise errors.BadModelArgsError("dynamic_shapes must be a tuple with one entry per input or a dict by argument name")
    grown, per_input = [], []
    for i, (a, spec) in enumerate(zip(args, specs)):
        dims = _dims_of(spec, a.dim(), f"input {i}")
        for d, dim in dims.items():
            a = a.index_select(d, torch.arange(int(dim.max)) % a.shape[d])
        grown.append(a)
        per_input.append(dims)
    return tuple(grown), per_input


def _symbols(ep, args: tuple, per_input: list[dict[int, Any]]) -> list:
    """[(symbol, name, min, max)] of the program's dynamic dims: the placeholders' symbols, named by their Dim,
    with the range torch.export settled on (it may narrow the one given)."""
    placeholders = [n for n in ep.graph.nodes if n.op == "placeholder" and n.name in ep.graph_signature.user_inputs]
    found: dict = {}
    for node, dims in zip(placeholders, per_input):
        shape = node.meta["val"].shape
        for d, dim in dims.items():
            s = shape[d]
            expr = s.node.expr if hasattr(s, "node") else None
            if expr is None or not expr.is_Symbol:
                raise errors.DynamicShapeError(
                    f"dynamic dim {dim.__name__} of {node.name} became {s} in torch.export (the model fixes or "
                    f"derives it); give a range the model accepts")
            vr = ep.range_constraints.get(expr)
            lo, hi = (int(vr.lower), int(vr.upper)) if vr is not None else (int(dim.min), int(dim.max))
            found.setdefault(expr, (expr, dim.__name__, max(lo, 1), min(hi, int(dim.max))))
    return list(found.values())


def checked_example_inputs(example_inputs) -> tuple:
    """example_inputs as a tuple of tensors PocketTorch can take (numpy arrays converted), else a clear error."""
    args = _as_tensor_args(example_inputs)
    leaves = pytree.tree_leaves(args)
    if not leaves or not all(isinstance(a, torch.Tensor) for a in leaves):
        kinds = sorted({type(a).__name__ for a in leaves if not isinstance(a, torch.Tensor)})
        raise errors.BadModelArgsError(
            "example_inputs must hold tensors only" + (f" (found {', '.join(kinds)})" if kinds else " (it is empty)"))
    _check_tensors("input", ((f"example_inputs[{i}]", t) for i, t in enumerate(leaves)))
    return args


def capture(model, example_inputs, dynamic_shapes=None) -> Captured:
    if not isinstance(model, torch.nn.Module):
        raise errors.BadModelArgsError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    args = checked_example_inputs(example_inputs)
    leaves = pytree.tree_leaves(args)
    _check_tensors("parameter", model.named_parameters())
    _check_tensors("buffer", model.named_buffers())
    per_input: list[dict[int, Any]] = []
    if dynamic_shapes is not None:
        args, per_input = _at_bounds(model, args, dynamic_shapes)
        leaves = pytree.tree_leaves(args)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # torch.export's own deprecation chatter is not actionable for our users
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", message=".*were assigned during export.*")
            eager = model(*args)
            try:
                ep = torch.export.export(model, args, strict=False, dynamic_shapes=dynamic_shapes)
            except Exception as exc:  # torch raises many types; report the first line and where
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise errors.ExportFailedError(f"torch.export failed: {type(exc).__name__}: {first}") from exc
            projected = any(isinstance(m, torch.nn.LSTM) and m.proj_size > 0 for m in model.modules())
            ep = ep.run_decompositions(decomposition_table(keep_lstm=not projected))
            if has_cond(ep.graph_module):  # the runtime has no control flow: inline, then capture that
                flat = inline_conds(ep.module())
                ep = torch.export.export(flat, args, strict=False, dynamic_shapes=dynamic_shapes)
                ep = ep.run_decompositions(decomposition_table(keep_lstm=not projected))
    finally:
        model.train(was_training)

    sig = ep.graph_signature
    input_names = [sanitize(n) for n in sig.user_inputs]
    out_spec = ep.call_spec.out_spec
    structure = _structure(out_spec, [0]) if out_spec is not None else {"kind": "tensor", "index": 0}
    names: list[str] = []
    _leaf_names(structure, "output", names)
    names = [sanitize(n) for n in names]
    for i, n in enumerate(names):  # keep output names unique and distinct from inputs
        if n in input_names or n in names[:i]:
            names[i] = f"{n}_out{i}"
    eager_leaves = [t for t in pytree.tree_leaves(eager) if isinstance(t, torch.Tensor)]
    _check_tensors("output", zip(names, eager_leaves))
    symbols = _symbols(ep, args, per_input) if dynamic_shapes is not None else []
    return Captured(ep, input_names, names, structure, list(leaves), eager_leaves, symbols=symbols)
