"""Lowering of elementwise ATen ops onto binary / compare / logical / unary / where / cast / fill.

Type promotion follows torch: the result dtype is the node's recorded value (node.meta["val"]) and
inputs are cast to the dtype the kernel computes in (ctx.cast); Python scalars become constants of that
dtype. Kernels compute arithmetic in float32, int64 and int32: uint8/int8 results are computed in int32
and cast back (wrapping like torch), bool results of add/mul/max/min/bitwise ops become logical ops.
Comparisons compute in torch.result_type of their two operands.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from pockettorch.exporter.ir import Tensor
from pockettorch.exporter.lower import torch_dtype_name
from pockettorch.exporter.lowering import lowers
from pockettorch.exporter.lowering.common import NO_ACT, aten_name, call_arg, overload
from pockettorch.runtime import error_catalogue as errors
from pockettorch.runtime.op_table import enum_value

# Result dtype -> dtype the arithmetic kernels compute in.
COMPUTE = {"float32": "float32", "int64": "int64", "int32": "int32", "uint8": "int32", "int8": "int32"}
# Dtypes compare / where / cast / fill handle directly.
PLAIN = ("float32", "int64", "int32", "bool", "uint8", "int8")


def _unsupported(node, dtype: str, what: str = "") -> errors.UnsupportedOpError:
    return errors.UnsupportedOpError(
        f"{node.target} (node {node.name}) on {dtype}{what} is not supported; PocketTorch runs float32 models "
        f"(call model.float() before export), with int64/int32/bool for indices and masks")


def _compute_dtype(node, dtype: str) -> str:
    if dtype not in COMPUTE:
        raise _unsupported(node, dtype)
    return COMPUTE[dtype]


def _plain(node, dtype: str) -> str:
    if dtype not in PLAIN:
        raise _unsupported(node, dtype)
    return dtype


def _operand(ctx, arg, dtype: str) -> Tensor:
    """An FX arg, Python scalar or IR tensor as an IR tensor of `dtype`."""
    if isinstance(arg, Tensor):
        return ctx.cast(arg, dtype)
    return ctx.tensor(arg, dtype)


def _stand_in(ctx, arg):
    """What torch.result_type needs to promote like the real call: a meta tensor or the scalar itself."""
    if isinstance(arg, torch.fx.Node):
        meta = ctx.meta(arg)
        return torch.empty(tuple(meta.shape), dtype=meta.dtype, device="meta")
    return arg


def _temp(ctx, like: Tensor, dtype: str, shape=None) -> Tensor:
    return ctx.graph.tensor(f"{ctx.current.name}_{dtype}", dtype, like.shape if shape is None else shape)


def _emit(ctx, op: str, inputs: list[Tensor], compute: str, **params) -> Tensor:
    """Emit op into the node's output, computing in `compute` and casting to the result dtype when it differs."""
    out = ctx.out()
    if out.dtype == compute:
        ctx.emit(op, inputs, [out], **params)
        return out
    tmp = _temp(ctx, out, compute)
    ctx.emit(op, inputs, [tmp], **params)
    ctx.emit("cast", [tmp], [out])
    return out


def _binary_to(ctx, kind: str, a: Tensor, b: Tensor, shape=None) -> Tensor:
    """An intermediate binary result (not the node's output)."""
    shape = np.broadcast_shapes(a.shape, b.shape) if shape is None else shape
    out = _temp(ctx, a, a.dtype, shape)
    ctx.emit("binary", [a, b], [out], kind=enum_value("BINARY", kind), **NO_ACT)
    return out


def _unary_to(ctx, kind: str, x: Tensor, alpha: float = 0.0, beta: float = 0.0) -> Tensor:
    out = _temp(ctx, x, x.dtype)
    ctx.emit("unary", [x], [out], kind=enum_value("UNARY", kind), alpha=alpha, beta=beta)
    return out


def _emit_binary(ctx, kind: str, a: Tensor, b: Tensor, compute: str) -> Tensor:
    return _emit(ctx, "binary", [a, b], compute, kind=enum_value("BINARY", kind), **NO_ACT)


def _emit_unary(ctx, kind: str, x: Tensor, compute: str, alpha: float = 0.0, beta: float = 0.0) -> Tensor:
    return _emit(ctx, "unary", [x], compute, kind=enum_value("UNARY", kind), alpha=float(alpha), beta=float(beta))


# ---------------------------------------------------------------- binary

BINARY_KINDS = {  # ATen name -> binary kind, for every overload the op table lists
    "add": "ADD", "sub": "SUB", "mul": "MUL", "div": "DIV", "pow": "POW", "maximum": "MAX", "minimum": "MIN",
    "remainder": "REMAINDER", "floor_divide": "FLOORDIV", "atan2": "ATAN2", "bitwise_and": "BITAND",
    "bitwise_or": "BITOR", "bitwise_xor": "BITXOR",
}
# On bool results torch's add/mul/max/min and bitwise ops are logical ones.
BOOL_LOGICAL = {"ADD": "OR", "MUL": "AND", "MAX": "OR", "MIN": "AND", "BITAND": "AND", "BITOR": "OR",
                "BITXOR": "XOR"}


def _scaled(ctx, arg, alpha, dtype: str) -> Tensor:
    """alpha * arg in `dtype` (add/sub/rsub's alpha), folded into a Python scalar when it is one."""
    if alpha == 1:
        return _operand(ctx, arg, dtype)
    if not isinstance(arg, (torch.fx.Node, Tensor)):
        return ctx.tensor(arg * alpha, dtype)
    x = _operand(ctx, arg, dtype)
    return _binary_to(ctx, "MUL", x, ctx.tensor(alpha, dtype))


def _logical(ctx, kind: str, a, b) -> Tensor:
    out = ctx.out()
    ctx.emit("logical", [_operand(ctx, a, "bool"), _operand(ctx, b, "bool")], [out], kind=enum_value("LOGICAL", kind))
    return out


@lowers("binary", *BINARY_KINDS)
def lower_binary(ctx, node):
    kind = BINARY_KINDS[aten_name(node.target)]
    a, b = node.args[0], node.args[1]
    dtype = torch_dtype_name(ctx.meta(node).dtype)
    if dtype == "bool":
        if kind not in BOOL_LOGICAL:
            raise _unsupported(node, dtype)
        return _logical(ctx, BOOL_LOGICAL[kind], a, b)
    compute = _compute_dtype(node, dtype)
    x = _operand(ctx, a, compute)
    if kind in ("ADD", "SUB"):
        y = _scaled(ctx, b, call_arg(node, 2, "alpha", 1), compute)
    elif kind == "POW" and overload(node.target) == "Tensor_Scalar" and b == 2:
        kind, y = "MUL", x  # x * x, as torch computes it
    else:
        y = _operand(ctx, b, compute)
    return _emit_binary(ctx, kind, x, y, compute)


@lowers("binary", "rsub")
def lower_rsub(ctx, node):
    """other - alpha * x."""
    compute = _compute_dtype(node, torch_dtype_name(ctx.meta(node).dtype))
    x = _scaled(ctx, node.args[0], call_arg(node, 2, "alpha", 1), compute)
    return _emit_binary(ctx, "SUB", _operand(ctx, node.args[1], compute), x, compute)


@lowers("binary", "div.Tensor_mode")
def lower_div_mode(ctx, node):
    mode = call_arg(node, 2, "rounding_mode")
    compute = _compute_dtype(node, torch_dtype_name(ctx.meta(node).dtype))
    a, b = _operand(ctx, node.args[0], compute), _operand(ctx, node.args[1], compute)
    if mode == "floor":
        return _emit_binary(ctx, "FLOORDIV", a, b, compute)
    if mode == "trunc" and compute == "float32":
        return _emit_unary(ctx, "TRUNC", _binary_to(ctx, "DIV", a, b), compute)
    if mode in (None, "trunc"):  # integer DIV truncates
        return _emit_binary(ctx, "DIV", a, b, compute)
    raise errors.UnsupportedOpError(f"div with rounding_mode={mode!r} (node {node.name}) is not supported")


@lowers("binary", "fmod")
def lower_fmod(ctx, node):
    """fmod(a, b) = sign(a) * remainder(|a|, |b|): the remainder of magnitudes is exact, and fmod takes a's sign."""
    compute = _compute_dtype(node, torch_dtype_name(ctx.meta(node).dtype))
    a, b = _operand(ctx, node.args[0], compute), _operand(ctx, node.args[1], compute)
    magnitude = _binary_to(ctx, "REMAINDER", _unary_to(ctx, "ABS", a), _unary_to(ctx, "ABS", b))
    return _emit_binary(ctx, "MUL", _unary_to(ctx, "SIGN", a), magnitude, compute)


# ---------------------------------------------------------------- compare, logical

@lowers("compare")
def lower_compare(ctx, node):
    a, b = node.args[0], node.args[1]
    compute = _plain(node, torch_dtype_name(torch.result_type(_stand_in(ctx, a), _stand_in(ctx, b))))
    out = ctx.out()
    ctx.emit("compare", [_operand(ctx, a, compute), _operand(ctx, b, compute)], [out],
             kind=enum_value("COMPARE", aten_name(node.target).upper()))
    return out


@lowers("logical")
def lower_logical(ctx, node):
    if torch_dtype_name(ctx.meta(node).dtype) != "bool":
        raise _unsupported(node, torch_dtype_name(ctx.meta(node).dtype), " output")
    kind = aten_name(node.target).removeprefix("logical_").upper()  # logical_and -> AND
    return _logical(ctx, kind, node.args[0], node.args[1])


# ---------------------------------------------------------------- unary

# ATen names whose unary kind is the name in capitals and that take no parameters.
PLAIN_UNARY = ("neg", "abs", "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "relu", "silu",
               "hardswish", "hardsigmoid", "erf", "floor", "ceil", "round", "reciprocal", "sign", "log1p", "expm1",
               "mish", "trunc", "log2", "tan", "asin", "acos", "atan", "sinh", "cosh")


def _unary_params(node, name: str):
    """(kind, alpha, beta) of the unary node (ATen name `name`), from the ATen call's arguments."""
    if name in PLAIN_UNARY:
        return name.upper(), 0.0, 0.0
    if name == "gelu":
        return ("GELU_TANH" if call_arg(node, 1, "approximate", "none") == "tanh" else "GELU"), 0.0, 0.0
    if name == "leaky_relu":
        return "LEAKY_RELU", float(call_arg(node, 1, "negative_slope", 0.01)), 0.0
    if name == "softplus":
        return "SOFTPLUS", float(call_arg(node, 1, "beta", 1.0)), float(call_arg(node, 2, "threshold", 20.0))
    if name == "elu":
        return "ELU", float(call_arg(node, 1, "alpha", 1.0)), float(call_arg(node, 3, "input_scale", 1.0))
    if name == "hardtanh":  # relu6 decomposes to hardtanh(x, 0, 6)
        lo, hi = call_arg(node, 1, "min_val", -1.0), call_arg(node, 2, "max_val", 1.0)
    elif name == "clamp_min":
        lo, hi = call_arg(node, 1, "min"), None
    elif name == "clamp_max":
        lo, hi = None, call_arg(node, 1, "max")
    else:  # aten.clamp.default
        lo, hi = call_arg(node, 1, "min"), call_arg(node, 2, "max")
    lo = -math.inf if lo is None else float(lo)
    hi = math.inf if hi is None else float(hi)
    return "CLAMP", min(lo, hi), hi  # min > max clamps everything to max


@lowers("unary", *PLAIN_UNARY, "gelu", "leaky_relu", "softplus", "elu", "hardtanh", "clamp", "clamp_min", "clamp_max")
def lower_unary(ctx, node):
    name = aten_name(node.target)
    kind, alpha, beta = _unary_params(node, name)
    compute = _compute_dtype(node, torch_dtype_name(ctx.meta(node).dtype))
    x = ctx.tensor(node.args[0], compute)
    if name == "elu":
        scale = float(call_arg(node, 2, "scale", 1.0))
        if scale != 1.0:  # selu: scale * elu(x)
            return _emit_binary(ctx, "MUL", _unary_to(ctx, "ELU", x, alpha, beta), ctx.tensor(scale, compute), compute)
    return _emit_unary(ctx, kind, x, compute, alpha, beta)


@lowers("unary", "isnan")
def lower_isnan(ctx, node):
    dtype = torch_dtype_name(ctx.meta(node.args[0]).dtype)
    x = ctx.tensor(node.args[0], dtype if dtype in ("float32", "bool") else _compute_dtype(node, dtype))
    return _emit_unary(ctx, "ISNAN", x, "bool")


@lowers("unary", "logical_not")
def lower_logical_not(ctx, node):
    return _emit_unary(ctx, "NOT", ctx.tensor(node.args[0], "bool"), "bool")


@lowers("unary", "bitwise_not")
def lower_bitwise_not(ctx, node):
    dtype = torch_dtype_name(ctx.meta(node).dtype)
    compute = "bool" if dtype == "bool" else _compute_dtype(node, dtype)
    if compute == "float32":
        raise _unsupported(node, dtype)
    return _emit_unary(ctx, "BITNOT", ctx.tensor(node.args[0], compute), compute)


@lowers("unary", "clamp.Tensor")
def lower_clamp_tensor(ctx, node):
    """clamp with tensor bounds: min(max(x, lo), hi), broadcasting like torch."""
    compute = _compute_dtype(node, torch_dtype_name(ctx.meta(node).dtype))
    lo, hi = call_arg(node, 1, "min"), call_arg(node, 2, "max")
    x = ctx.tensor(node.args[0], compute)
    if lo is None and hi is None:
        return _emit(ctx, "cast", [x], compute)
    if hi is None:
        return _emit_binary(ctx, "MAX", x, _operand(ctx, lo, compute), compute)
    if lo is not None:
        x = _binary_to(ctx, "MAX", x, _operand(ctx, lo, compute))
    return _emit_binary(ctx, "MIN", x, _operand(ctx, hi, compute), compute)


# ---------------------------------------------------------------- where, cast, fill

@lowers("where")
def lower_where(ctx, node):
    dtype = _plain(node, torch_dtype_name(ctx.meta(node).dtype))
    cond, a, b = node.args[:3]
    out = ctx.out()
    ctx.emit("where", [ctx.tensor(cond, "bool"), _operand(ctx, a, dtype), _operand(ctx, b, dtype)], [out])
    return out


@lowers("cast")
def lower_cast(ctx, node):
    """A copy converting to the node's dtype; emitted even when the dtype is unchanged (the copy is the op).
    float16 converts to and from float32 only (fp16 weights, inputs and outputs): other casts go through it."""
    dtype = torch_dtype_name(ctx.meta(node).dtype)
    x = ctx.tensor(node.args[0])
    if "float16" in (dtype, x.dtype):
        for end in (dtype, x.dtype):
            if end != "float16":
                _plain(node, end)
        if x.dtype not in ("float16", "float32"):
            x = ctx.cast(x, "float32")
        return _emit(ctx, "cast", [x], dtype if dtype in ("float16", "float32") else "float32")
    _plain(node, dtype)
    _plain(node, x.dtype)
    return _emit(ctx, "cast", [x], dtype)


@lowers("fill")
def lower_full(ctx, node):
    """A full tensor too large to store as a constant is filled at run time."""
    _plain(node, torch_dtype_name(ctx.meta(node).dtype))
    out = ctx.out()
    ctx.emit("fill", [], [out], value=float(node.args[1]))
    return out
