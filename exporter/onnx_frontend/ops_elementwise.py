"""Elementwise ONNX ops -> binary / compare / logical / unary / where / cast (dtypes as ONNX: inputs share one)."""
from __future__ import annotations

import math

import numpy as np

from pockettorch.exporter.lowering.common import NO_ACT
from pockettorch.exporter.lowering.elementwise import COMPUTE
from pockettorch.exporter.onnx_frontend.context import ir_dtype
from pockettorch.exporter.onnx_frontend.registry import handles
from pockettorch.runtime.op_table import enum_value

BINARY = {"Add": "ADD", "Sub": "SUB", "Mul": "MUL", "Div": "DIV", "Pow": "POW", "Max": "MAX", "Min": "MIN",
          "BitwiseAnd": "BITAND", "BitwiseOr": "BITOR", "BitwiseXor": "BITXOR"}
COMPARE = {"Equal": "EQ", "Less": "LT", "LessOrEqual": "LE", "Greater": "GT", "GreaterOrEqual": "GE"}
LOGICAL = {"And": "AND", "Or": "OR", "Xor": "XOR"}
UNARY = {"Relu": "RELU", "Sigmoid": "SIGMOID", "Tanh": "TANH", "Exp": "EXP", "Log": "LOG", "Sqrt": "SQRT",
         "Neg": "NEG", "Abs": "ABS", "Erf": "ERF", "Floor": "FLOOR", "Ceil": "CEIL", "Round": "ROUND",
         "Reciprocal": "RECIPROCAL", "Sign": "SIGN", "Sin": "SIN", "Cos": "COS", "Tan": "TAN", "Asin": "ASIN",
         "Acos": "ACOS", "Atan": "ATAN", "Sinh": "SINH", "Cosh": "COSH", "Mish": "MISH", "HardSwish": "HARDSWISH",
         "Not": "NOT", "IsNaN": "ISNAN", "BitwiseNot": "BITNOT"}


def compute_dtype(ctx, dtype: str) -> str:
    if dtype not in COMPUTE:
        raise ctx.unsupported(f"arithmetic on {dtype} is not supported (float32, int64, int32, int8, uint8)")
    return COMPUTE[dtype]


def binary(ctx, kind: str, a, b, suffix: str = "", index: int = 0):
    """a (kind) b in the inputs' dtype (int8/uint8 computed in int32 and cast back)."""
    shape = np.broadcast_shapes(a.shape, b.shape)
    compute = compute_dtype(ctx, a.dtype)
    params = dict(kind=enum_value("BINARY", kind), **NO_ACT)
    if compute == a.dtype:
        return ctx.op("binary", [a, ctx.cast(b, compute)], compute, shape, index, suffix, **params)
    tmp = ctx.op("binary", [ctx.cast(a, compute), ctx.cast(b, compute)], compute, shape, index, suffix + "_wide",
                 **params)
    return ctx.op("cast", [tmp], a.dtype, shape, index, suffix)


def unary(ctx, kind: str, x, alpha: float = 0.0, beta: float = 0.0, suffix: str = "", out_dtype: str | None = None):
    return ctx.op("unary", [x], out_dtype or x.dtype, x.shape, 0, suffix, kind=enum_value("UNARY", kind),
                  alpha=float(alpha), beta=float(beta))


def scalar(ctx, value, like) -> object:
    return ctx.constant(np.array(value), "scalar", like.dtype)


@handles(*BINARY, "Sum", "Mean", notes={"Max": "any number of inputs", "Min": "any number of inputs",
                                        "Sum": "any number of inputs", "Mean": "any number of inputs",
                                        "Pow": "float"})
def lower_binary(ctx, node):
    ins = [ctx.input(i) for i in range(len(node.input))]
    op = {"Sum": "Add", "Mean": "Add"}.get(node.op_type, node.op_type)
    if op == "Pow":
        ins[1] = ctx.cast(ins[1], ins[0].dtype)
    if ins[0].dtype == "bool" and op in ("Max", "Min", "BitwiseAnd", "BitwiseOr", "BitwiseXor"):
        kind = {"Max": "OR", "Min": "AND", "BitwiseAnd": "AND", "BitwiseOr": "OR", "BitwiseXor": "XOR"}[op]
        return _fold_chain(ctx, ins, lambda a, b, s: logical(ctx, kind, a, b, s))
    out = _fold_chain(ctx, ins, lambda a, b, s: binary(ctx, BINARY[op], a, b, s),
                      last=node.op_type != "Mean")
    if node.op_type == "Mean":
        out = binary(ctx, "DIV", out, scalar(ctx, len(ins), out))
    return out


def _fold_chain(ctx, ins, fn, last: bool = True):
    """Left fold of a variadic op; only the last step writes the node's output (unless last=False)."""
    acc = ins[0]
    if len(ins) == 1:
        return ctx.op("cast", [acc], acc.dtype, acc.shape)
    for k, t in enumerate(ins[1:], 1):
        acc = fn(acc, t, "" if (k == len(ins) - 1 and last) else f"_acc{k}")
    return acc


def logical(ctx, kind: str, a, b, suffix: str = ""):
    shape = np.broadcast_shapes(a.shape, b.shape)
    return ctx.op("logical", [ctx.cast(a, "bool"), ctx.cast(b, "bool")], "bool", shape, 0, suffix,
                  kind=enum_value("LOGICAL", kind))


@handles("Mod", note="fmod=0 (Python remainder) and fmod=1 (C fmod)")
def lower_mod(ctx, node):
    a, b = ctx.input(0), ctx.input(1)
    if not ctx.attr("fmod", 0):
        return binary(ctx, "REMAINDER", a, b)
    magnitude = binary(ctx, "REMAINDER", unary(ctx, "ABS", a, suffix="_abs_a"), unary(ctx, "ABS", b, suffix="_abs_b"),
                       "_mag")
    return binary(ctx, "MUL", unary(ctx, "SIGN", a, suffix="_sign"), magnitude)


@handles(*COMPARE)
def lower_compare(ctx, node):
    a, b = ctx.input(0), ctx.input(1)
    return ctx.op("compare", [a, ctx.cast(b, a.dtype)], "bool", np.broadcast_shapes(a.shape, b.shape),
                  kind=enum_value("COMPARE", COMPARE[node.op_type]))


@handles(*LOGICAL)
def lower_logical(ctx, node):
    return logical(ctx, LOGICAL[node.op_type], ctx.input(0), ctx.input(1))


@handles(*UNARY)
def lower_unary(ctx, node):
    x = ctx.input(0)
    kind = UNARY[node.op_type]
    if kind == "ISNAN":
        return unary(ctx, kind, x, out_dtype="bool")
    return unary(ctx, kind, x)


@handles("LeakyRelu", "Elu", "Selu", "Softplus", "Gelu", "HardSigmoid", "Celu", "ThresholdedRelu", "Softsign",
         "PRelu", "Clip", notes={"Gelu": "approximate none and tanh", "Clip": "min/max inputs, constant or not"})
def lower_activation(ctx, node):
    x = ctx.input(0)
    op = node.op_type
    if op == "LeakyRelu":
        return unary(ctx, "LEAKY_RELU", x, ctx.attr("alpha", 0.01))
    if op == "Elu":
        return unary(ctx, "ELU", x, ctx.attr("alpha", 1.0), 1.0)
    if op == "Selu":
        e = unary(ctx, "ELU", x, ctx.attr("alpha", 1.67326319217681884765625), 1.0, suffix="_elu")
        return binary(ctx, "MUL", e, scalar(ctx, ctx.attr("gamma", 1.05070102214813232421875), x))
    if op == "Celu":  # max(0, x) + min(0, alpha * (exp(x / alpha) - 1)) = elu(x / alpha) * alpha
        alpha = ctx.attr("alpha", 1.0)
        e = unary(ctx, "ELU", binary(ctx, "DIV", x, scalar(ctx, alpha, x), "_scaled"), 1.0, 1.0, suffix="_elu")
        return binary(ctx, "MUL", e, scalar(ctx, alpha, x))
    if op == "Softplus":
        return unary(ctx, "SOFTPLUS", x, 1.0, math.inf)
    if op == "Gelu":
        return unary(ctx, "GELU_TANH" if ctx.attr("approximate", "none") == "tanh" else "GELU", x)
    if op == "HardSigmoid":  # max(0, min(1, alpha * x + beta))
        alpha, beta = ctx.attr("alpha", 0.2), ctx.attr("beta", 0.5)
        if abs(alpha - 1 / 6) < 1e-7 and beta == 0.5:
            return unary(ctx, "HARDSIGMOID", x)
        y = binary(ctx, "ADD", binary(ctx, "MUL", x, scalar(ctx, alpha, x), "_ax"), scalar(ctx, beta, x), "_axb")
        return unary(ctx, "CLAMP", y, 0.0, 1.0)
    if op == "ThresholdedRelu":
        keep = ctx.op("compare", [x, scalar(ctx, ctx.attr("alpha", 1.0), x)], "bool", x.shape, 0, "_keep",
                      kind=enum_value("COMPARE", "GT"))
        return ctx.op("where", [keep, x, scalar(ctx, 0.0, x)], x.dtype, x.shape)
    if op == "Softsign":
        denom = binary(ctx, "ADD", unary(ctx, "ABS", x, suffix="_abs"), scalar(ctx, 1.0, x), "_den")
        return binary(ctx, "DIV", x, denom)
    if op == "PRelu":  # x if x >= 0 else slope * x
        slope = ctx.input(1, x.dtype)
        neg = binary(ctx, "MUL", unary(ctx, "CLAMP", x, -math.inf, 0.0, suffix="_neg"), slope, "_scaled")
        return binary(ctx, "ADD", unary(ctx, "RELU", x, suffix="_pos"), neg)
    # Clip: bounds from inputs (opset >= 11); constant ones fold into the unary's alpha/beta.
    lo, hi = ctx.input(1), ctx.input(2)
    lo_c, hi_c = ctx.const(1), ctx.const(2)
    if (lo is None or lo_c is not None) and (hi is None or hi_c is not None):
        if x.dtype == "float32":
            a = -math.inf if lo is None else float(lo_c)
            b = math.inf if hi is None else float(hi_c)
            return unary(ctx, "CLAMP", x, min(a, b), b)
    y = x
    if lo is not None:
        y = binary(ctx, "MAX", y, lo, "" if hi is None else "_lo")
    if hi is not None:
        y = binary(ctx, "MIN", y, hi)
    return y if y is not x else ctx.op("cast", [x], x.dtype, x.shape)


@handles("Where")
def lower_where(ctx, node):
    cond, a, b = ctx.input(0, "bool"), ctx.input(1), ctx.input(2)
    shape = np.broadcast_shapes(cond.shape, a.shape, b.shape)
    return ctx.op("where", [cond, a, ctx.cast(b, a.dtype)], a.dtype, shape)


@handles("Cast", "CastLike", note="float64 runs as float32")
def lower_cast(ctx, node):
    x = ctx.input(0)
    dtype = ctx.input(1).dtype if node.op_type == "CastLike" else ir_dtype(ctx.attr("to"), ctx.where())
    if "float16" in (dtype, x.dtype) and {dtype, x.dtype} - {"float16", "float32"}:
        x = ctx.cast(x, "float32")
    return ctx.op("cast", [x], dtype, x.shape)


@handles("Identity", "Dropout", notes={"Dropout": "inference (the mask output is not computed)"})
def lower_identity(ctx, node):
    if node.op_type == "Dropout" and len(node.output) > 1 and node.output[1]:
        raise ctx.unsupported("its mask output is used; PocketTorch runs inference only")
    return ctx.input(0)
