"""Lower a torch.export program (core ATen) into the IR.

Constants (parameters, buffers, lifted tensors) become IR constants; nodes whose inputs are all
constants are evaluated here with torch (constant folding); every other node goes through the rule
registered for its ATen target. A node without a rule stops the export with an error naming the
op, the line of the user's model it came from, and the related supported ops (exporter/op_suggestions.py).
"""
from __future__ import annotations

import operator
import os
import re

import numpy as np
import torch

import pockettorch
from pockettorch import exporter as exporter_pkg
from pockettorch.exporter import op_suggestions
from pockettorch.exporter.ir import DTYPE_CODES, Graph, Tensor, concrete_dims
from pockettorch.exporter.lowering import load_rules
from pockettorch.runtime import error_catalogue as errors
from pockettorch.runtime import op_table

# Largest constant a fold may create beyond the size of its inputs; bigger results are computed at run time.
FOLD_LIMIT_BYTES = 1 << 20
# Export's runtime checks: nothing to run once shapes and dtypes are static.
IGNORED = {"aten._assert_tensor_metadata.default", "aten._assert_scalar.default", "aten.sym_constrain_range_for_size.default",
           "aten._assert_async.msg"}
NO_FOLD = {"aten.rand.default", "aten.randn.default", "aten.empty.memory_format", "aten.dropout.default",
           "quantized_decomposed.dequantize_per_channel.default"}  # its rule records the int8 weight


def torch_dtype_name(dtype: torch.dtype) -> str:
    name = str(dtype).removeprefix("torch.")
    return name


# PocketTorch's own frames (the export call) are never the user's line.
_OWN_DIRS = tuple(os.path.dirname(os.path.realpath(m.__file__)) + os.sep for m in (pockettorch, exporter_pkg))


def source_of(node: torch.fx.Node) -> str:
    """Where a node came from: the submodule ('features.1.conv.0 (Conv2d)') and the innermost user frame
    of its stack trace ('model.py:12 in forward: x = self.conv(x)')."""
    parts = []
    stack = node.meta.get("nn_module_stack") or {}
    if stack:
        path, kind = list(stack.values())[-1]
        kind = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
        if path:
            parts.append(f"{path} ({kind.rsplit('.', 1)[-1]})")
    trace = node.meta.get("stack_trace") or ""
    frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)\n\s*(.*)', trace)
    user = [f for f in frames if "/torch/" not in f[0] and not f[0].startswith(_OWN_DIRS)]
    if not user and parts:
        return parts[0]  # a torch module called directly: its path is the user's place
    if user:
        path, line, fn, code = user[-1]
        parts.append(f"{path}:{line} in {fn}: {code.strip()}")
    return " at ".join(parts) or f"node {node.name}"


class LoweringContext:
    """What lowering rules use: values of FX args as IR tensors, fresh outputs, node emission."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.values: dict[torch.fx.Node, object] = {}
        self.current: torch.fx.Node | None = None

    # -- values --
    def meta(self, arg):
        """The FakeTensor (or list of them) torch.export recorded for an FX node."""
        return arg.meta["val"]

    def tensor(self, arg, dtype: str | None = None) -> Tensor:
        """The IR tensor for an FX arg; Python scalars become constants (of `dtype` if given)."""
        if isinstance(arg, torch.fx.Node):
            value = self.values[arg]
            if not isinstance(value, Tensor):
                raise errors.UnsupportedOpError(f"{arg.name} is not a tensor value ({type(value).__name__})")
            return self.cast(value, dtype) if dtype else value
        if isinstance(arg, (bool, int, float)):
            if dtype is None:
                dtype = "bool" if isinstance(arg, bool) else "int64" if isinstance(arg, int) else "float32"
            return self.graph.constant(np.array(arg), "scalar", dtype)
        raise errors.UnsupportedOpError(f"cannot use {arg!r} as a tensor")

    def cast(self, t: Tensor, dtype: str) -> Tensor:
        if t.dtype == dtype:
            return t
        if t.is_constant:
            return self.graph.constant(t.data, t.name + "_" + dtype, dtype)
        out = self.graph.tensor(f"{t.name}_{dtype}", dtype, t.shape)
        self.emit("cast", [t], [out])
        return out

    def out(self, meta=None, name: str | None = None) -> Tensor:
        """A new IR tensor shaped like the current node's value (or the given FakeTensor)."""
        meta = self.meta(self.current) if meta is None else meta
        dtype = torch_dtype_name(meta.dtype)
        if dtype not in DTYPE_CODES:
            raise errors.UnsupportedOpError(
                f"{self.current.name} produces {dtype}; PocketTorch runs float32 models "
                f"(call model.float() before export), with int64/int32/bool for indices and masks")
        return self.graph.tensor(name or self.current.name, dtype, meta.shape)

    def _meta_sym(self, shape: tuple[int, ...]) -> dict:
        """The current node's symbolic dims when `shape` is its value's shape (a reshape to the node's result)."""
        meta = self.current.meta.get("val") if self.current is not None else None
        if isinstance(meta, torch.Tensor):
            dims, sym = concrete_dims(meta.shape)
            if dims == shape:
                return sym
        return {}

    def emit(self, op: str, inputs: list[Tensor], outputs: list[Tensor], **params):
        if self.current is None:
            return self.graph.add(op, inputs, outputs, **params)
        return self.graph.add(op, inputs, outputs, source=source_of(self.current), covers=[self.current.name], **params)

    def unary(self, op: str, x: Tensor, **params) -> Tensor:
        out = self.out()
        self.emit(op, [x], [out], **params)
        return out

    def reshape(self, x: Tensor, shape, name: str | None = None) -> Tensor:
        shape, sym = concrete_dims(shape)
        if x.shape == shape and x.sym == sym:
            return x
        if x.is_constant:
            return self.graph.constant(x.data.reshape(shape), x.name, x.dtype)
        out = self.graph.tensor(name or f"{x.name}_view", x.dtype, shape, sym or self._meta_sym(shape))
        self.emit("reshape", [x], [out])
        return out


def _is_tensor_arg(a) -> bool:
    return isinstance(a, torch.fx.Node)


def _flat_args(node: torch.fx.Node):
    out = []
    for a in list(node.args) + list(node.kwargs.values()):
        if isinstance(a, (list, tuple)):
            out.extend(a)
        else:
            out.append(a)
    return out


def _fold(ctx: LoweringContext, node: torch.fx.Node) -> bool:
    """Evaluate node with torch when all its tensor inputs are constants; True when folded."""
    target = str(node.target)
    if target in NO_FOLD or node.op != "call_function" or node.target is operator.getitem:
        return False
    tensor_args = [a for a in _flat_args(node) if _is_tensor_arg(a)]
    values = [ctx.values.get(a) for a in tensor_args]
    shape_only = target.split(".")[1] in {"full_like", "zeros_like", "ones_like", "empty_like"}
    if not shape_only and not all(isinstance(v, Tensor) and v.is_constant for v in values):
        return False
    meta = node.meta.get("val")
    if not isinstance(meta, torch.Tensor) or concrete_dims(meta.shape)[1]:
        return False  # a dynamic result is computed at run time, at its actual size
    in_bytes = sum(v.nbytes for v in values if isinstance(v, Tensor) and v.is_constant)
    if meta.numel() * meta.element_size() > max(in_bytes, FOLD_LIMIT_BYTES):
        return False

    def real(a):
        if _is_tensor_arg(a):
            v = ctx.values[a]
            if v.is_constant:
                return torch.from_numpy(np.array(v.data))
            m = a.meta["val"]
            return torch.zeros(m.shape, dtype=m.dtype)  # *_like ops only read the shape
        if isinstance(a, (list, tuple)):
            return type(a)(real(x) for x in a)
        return a

    with torch.no_grad():
        result = node.target(*[real(a) for a in node.args], **{k: real(v) for k, v in node.kwargs.items()})
    if torch_dtype_name(result.dtype) not in DTYPE_CODES and result.dtype != torch.float64:
        return False
    ctx.values[node] = ctx.graph.constant(result.contiguous().numpy(), node.name)
    return True


def unsupported_op_error(node: torch.fx.Node, rules) -> errors.UnsupportedOpError:
    target = str(node.target)
    return errors.UnsupportedOpError(
        f"operator {target} (node {node.name}) has no PocketTorch lowering; it comes from {source_of(node)}; "
        f"{op_suggestions.explain(target, list(rules))}",
        hint="Replace the operator in the model, or add a lowering for it (runtime/op_table.py, exporter/lowering/).")


def lower(ep, graph: Graph, user_input_names: list[str]) -> LoweringContext:
    """Fill `graph` from the ExportedProgram `ep` (already decomposed to core ATen)."""
    rules = load_rules()
    ctx = LoweringContext(graph)
    sig = ep.graph_signature
    constants = {}
    for spec in sig.input_specs:
        if spec.target is None:
            continue
        if spec.target in ep.state_dict:
            constants[spec.arg.name] = ep.state_dict[spec.target]
        elif spec.target in ep.constants:
            constants[spec.arg.name] = ep.constants[spec.target]
    graph._names.update(user_input_names)  # program inputs keep the model's argument names
    user_inputs = iter(user_input_names)
    for node in ep.graph.nodes:
        ctx.current = node
        if node.op == "placeholder":
            if node.name in constants:
                value = constants[node.name].detach()
                if value.dtype == torch.float64:
                    value = value.float()
                ctx.values[node] = graph.constant(value.contiguous().numpy(), node.name.removeprefix("p_").removeprefix("b_"))
            elif node.name in sig.user_inputs:
                t = ctx.out()
                t.name = next(user_inputs, t.name)
                graph.inputs.append(t)
                ctx.values[node] = t
            else:
                raise errors.BadModelArgsError(f"unsupported graph input {node.name} (custom objects or tokens)")
        elif node.op == "call_function":
            if str(node.target) in IGNORED:
                continue
            if node.target is operator.getitem:
                seq, index = node.args
                ctx.values[node] = ctx.values[seq][index]
                _mark_origin(ctx.values[node], node)
                continue
            if isinstance(node.meta.get("val"), torch.SymInt) and (
                    str(node.target) == "aten.sym_size.int" or getattr(node.target, "__module__", "") == "_operator"):
                ctx.values[node] = node.meta["val"]  # a size computed on symbols: the shapes that use it carry it
                continue
            if _fold(ctx, node):
                continue
            rule = rules.get(str(node.target))
            if rule is None:
                raise unsupported_op_error(node, rules)
            ctx.values[node] = rule(ctx, node)
            _mark_origin(ctx.values[node], node)
        elif node.op == "output":
            user_outputs = set(sig.user_outputs)
            outs = [a for a in node.args[0] if a is None or not isinstance(a, torch.fx.Node) or a.name in user_outputs]
            graph.outputs = [_output_tensor(ctx, a) for a in outs]
    return ctx


def _mark_origin(value, node: torch.fx.Node) -> None:
    """The tensor a rule returns holds the node's eager value (a rule's other outputs are its own temporaries)."""
    if isinstance(value, Tensor) and not value.is_constant and value.origin is None:
        value.origin = node.name


def _output_tensor(ctx: LoweringContext, arg) -> Tensor:
    t = ctx.values.get(arg) if isinstance(arg, torch.fx.Node) else None
    if not isinstance(t, Tensor):
        raise errors.BadModelArgsError(f"model output {arg} is not a tensor; PocketTorch outputs tensors only")
    if t.is_constant or t in ctx.graph.inputs:
        # Outputs must be written by the program: copy constants and pass-through inputs.
        out = ctx.graph.tensor("output", t.dtype, t.shape)
        ctx.graph.add("cast", [t], [out], source="model output")
        return out
    return t


def supported_targets() -> list[str]:
    return sorted(load_rules())


__all__ = ["lower", "LoweringContext", "source_of", "supported_targets", "op_table"]
