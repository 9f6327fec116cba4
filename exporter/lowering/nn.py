"""Lowering of dense neural-network ATen ops: linear / matmul, softmax, normalization, attention.

- addmm / mm / linear with a constant weight become `linear` (weight stored [out, in]); alpha and beta
  are folded into the constants or applied with `binary` ops; non-constant operands become `matmul`.
- bmm looks through the expand + view pairs torch.matmul's decomposition inserts, so broadcast batch
  dims are read in place by the `matmul` kernel instead of being materialized; a constant right-hand
  side without batch dims becomes a `linear`, and a right-hand side that is a transpose of the last
  two dims is read through `transpose_b`.
- native_layer_norm / native_group_norm / batch norm return (y, mean, rstd); only y is supported.
- scaled_dot_product_attention (kept undecomposed by capture) becomes one `sdpa` instruction.
"""
from __future__ import annotations

import math
import operator

import numpy as np
import torch

from pockettorch.exporter.ir import Tensor
from pockettorch.exporter.lowering import lowers
from pockettorch.exporter.lowering.common import NO_ACT, aten_name, norm_dim, static_shape
from pockettorch.runtime import error_catalogue as errors
from pockettorch.runtime.op_table import enum_value

VIEWS = {"aten.view.default", "aten._unsafe_view.default", "aten.reshape.default"}


# -- helpers ---------------------------------------------------------------------------------------

def bind_args(node) -> dict:
    """The node's arguments by schema name, defaults filled in."""
    schema = node.target._schema
    out = {}
    for i, arg in enumerate(schema.arguments):
        if i < len(node.args) and not arg.kwarg_only:
            out[arg.name] = node.args[i]
        elif arg.name in node.kwargs:
            out[arg.name] = node.kwargs[arg.name]
        elif arg.has_default_value():
            out[arg.name] = arg.default_value
        else:
            out[arg.name] = None
    return out


def only_first_output_used(node, what: str) -> None:
    """Multi-output norms: PocketTorch computes output 0 only."""
    for user in node.users:
        if user.target is operator.getitem and user.args[1] != 0 and len(user.users) > 0:
            raise errors.UnsupportedOpError(
                f"{what} output {user.args[1]} (saved mean / rstd) of {node.name} is used; PocketTorch computes "
                f"only the normalized output", hint="Use only the normalized tensor in inference models.")


def binary(ctx, kind: str, a, b, meta=None):
    out = ctx.out(meta)
    ctx.emit("binary", [a, b], [out], kind=enum_value("BINARY", kind), **NO_ACT)
    return out


def const_f32(ctx, array, name: str):
    return ctx.graph.constant(np.ascontiguousarray(np.asarray(array, dtype=np.float32)), name, "float32")


def _resolve_operand(ctx, arg, allow_transpose: bool):
    """(tensor, transposed) with arg == reshape(broadcast(tensor)) (of tensor^T over the last two dims if
    transposed): looks through torch.matmul's view(expand(x)) and clone(expand(x)) patterns."""
    base = arg
    if isinstance(arg, torch.fx.Node) and str(arg.target) in VIEWS and len(static_shape(arg.meta["val"])) == 3:
        inner = arg.args[0]
        if isinstance(inner, torch.fx.Node) and str(inner.target) == "aten.clone.default":
            inner = inner.args[0]
        if isinstance(inner, torch.fx.Node) and str(inner.target) == "aten.expand.default":
            src = inner.args[0]
            eshape, vshape = static_shape(inner.meta["val"]), static_shape(arg.meta["val"])
            if (isinstance(src, torch.fx.Node) and isinstance(ctx.values.get(src), Tensor)
                    and len(eshape) >= 2 and eshape[-2:] == vshape[1:]
                    and int(np.prod(eshape[:-2], dtype=np.int64)) == vshape[0]):
                sshape = static_shape(src.meta["val"])
                if (2 <= len(sshape) <= len(eshape) and sshape[-2:] == eshape[-2:]
                        and all(s in (1, e) for s, e in zip(sshape[:-2][::-1], eshape[:-2][::-1]))):
                    base = src
    value = ctx.tensor(base)
    if allow_transpose and not value.is_constant and str(getattr(base, "target", "")) == "aten.permute.default":
        perm = [int(p) % len(value.shape) for p in base.args[1]]
        r = len(perm)
        src = base.args[0]
        if r >= 2 and perm == list(range(r - 2)) + [r - 1, r - 2] and isinstance(src, torch.fx.Node):
            return ctx.tensor(src), True
    return value, False


def _broadcast_batch(a_shape, b_shape):
    try:
        return tuple(np.broadcast_shapes(tuple(a_shape), tuple(b_shape)))
    except ValueError:
        raise errors.UnsupportedOpError(f"batch dims {a_shape} and {b_shape} do not broadcast") from None


def emit_matmul(ctx, a, b, transposed: bool, out_shape, name=None):
    """a @ b (b given as [.., N, K] when transposed), reshaped to out_shape."""
    b_batch = b.shape[:-2]
    if b.is_constant and all(d == 1 for d in b_batch):
        w2d = b.data.reshape(b.shape[-2:])
        weight = const_f32(ctx, w2d if transposed else w2d.T, b.name + "_t")
        n_out = weight.shape[0]
        out = ctx.graph.tensor(name or "linear", "float32", a.shape[:-1] + (n_out,))
        ctx.emit("linear", [ctx.cast(a, "float32"), weight], [out], **NO_ACT)
        return ctx.reshape(out, out_shape)
    a = ctx.cast(a, "float32")
    b = ctx.cast(b, "float32")
    m, n = a.shape[-2], (b.shape[-2] if transposed else b.shape[-1])
    shape = _broadcast_batch(a.shape[:-2], b_batch) + (m, n)
    if int(np.prod(shape, dtype=np.int64)) != int(np.prod(out_shape, dtype=np.int64)):
        raise errors.UnsupportedOpError(f"matmul of {a.shape} and {b.shape} does not give {tuple(out_shape)}")
    out = ctx.graph.tensor(name or "matmul", "float32", shape)
    ctx.emit("matmul", [a, b], [out], transpose_b=int(transposed))
    return ctx.reshape(out, out_shape)


def _check_float(ctx, node):
    dtype = ctx.meta(node).dtype
    if dtype != torch.float32:
        raise errors.UnsupportedOpError(f"{node.target} on {dtype} (node {node.name}); PocketTorch runs it in float32")


# -- linear / matmul -------------------------------------------------------------------------------

@lowers("linear", "addmm")
def lower_addmm(ctx, node):
    _check_float(ctx, node)
    args = bind_args(node)
    bias_arg, x_arg, w_arg = args["self"], args["mat1"], args["mat2"]
    beta, alpha = float(args["beta"]), float(args["alpha"])
    out_shape = static_shape(node.meta["val"])
    n_out = out_shape[-1]
    x = ctx.tensor(x_arg, "float32")
    w_t, transposed = _resolve_operand(ctx, w_arg, allow_transpose=True)
    bias = ctx.tensor(bias_arg, "float32") if isinstance(bias_arg, torch.fx.Node) else ctx.tensor(float(bias_arg), "float32")
    fold_bias = bias.is_constant and (bias.numel == 1 or bias.shape in ((n_out,), (1, n_out)))
    if w_t.is_constant:
        w2d = w_t.data.reshape(w_t.shape[-2:]).astype(np.float64)
        weight = const_f32(ctx, alpha * (w2d if transposed else w2d.T), w_t.name + "_t")
        inputs = [x, weight]
        if fold_bias and beta != 0:
            inputs.append(const_f32(ctx, beta * np.broadcast_to(bias.data.astype(np.float64).reshape(-1), (n_out,)),
                                    bias.name + "_b"))
        if len(inputs) == 3 or beta == 0:
            out = ctx.out()
            ctx.emit("linear", inputs, [out], **NO_ACT)
            return out
        prod = ctx.graph.tensor(node.name + "_mm", "float32", out_shape)
        ctx.emit("linear", inputs, [prod], **NO_ACT)
    else:
        prod = emit_matmul(ctx, x, w_t, transposed, out_shape, name=node.name + "_mm")
        if alpha != 1:
            prod = binary(ctx, "MUL", prod, ctx.tensor(alpha, "float32"))
    if beta == 0:
        return prod
    if beta != 1:
        bias = (const_f32(ctx, bias.data * beta, bias.name + "_b") if bias.is_constant
                else binary(ctx, "MUL", bias, ctx.tensor(beta, "float32"), meta=bias_arg.meta["val"]))
    return binary(ctx, "ADD", prod, bias)


@lowers("linear", "mm")  # or matmul, which lists it too
def lower_mm(ctx, node):
    _check_float(ctx, node)
    a = ctx.tensor(node.args[0], "float32")
    b, transposed = _resolve_operand(ctx, node.args[1], allow_transpose=True)
    return emit_matmul(ctx, a, b, transposed, static_shape(node.meta["val"]), name=node.name)


@lowers("matmul", "bmm", "matmul")
def lower_bmm(ctx, node):
    _check_float(ctx, node)
    out_shape = static_shape(node.meta["val"])
    if aten_name(node.target) == "matmul":
        a, b = ctx.tensor(node.args[0]), ctx.tensor(node.args[1])
        if len(a.shape) < 2 or len(b.shape) < 2:
            raise errors.UnsupportedOpError("matmul with a 1-D operand (decomposed by torch.export normally)")
        return emit_matmul(ctx, a, b, False, out_shape, name=node.name)
    a, _ = _resolve_operand(ctx, node.args[0], allow_transpose=False)
    b, transposed = _resolve_operand(ctx, node.args[1], allow_transpose=True)
    return emit_matmul(ctx, a, b, transposed, out_shape, name=node.name)


@lowers("linear", "linear")
def lower_linear(ctx, node):
    _check_float(ctx, node)
    args = bind_args(node)
    x, w = ctx.tensor(args["input"], "float32"), ctx.tensor(args["weight"], "float32")
    b = ctx.tensor(args["bias"], "float32") if args.get("bias") is not None else None
    out_shape = static_shape(node.meta["val"])
    if w.is_constant and len(w.shape) == 2 and (b is None or (b.is_constant and b.numel == w.shape[0])):
        out = ctx.out()
        inputs = [x, w] + ([const_f32(ctx, b.data.reshape(-1), b.name)] if b is not None else [])
        ctx.emit("linear", inputs, [out], **NO_ACT)
        return out
    y = emit_matmul(ctx, x, w, True, out_shape, name=node.name + "_mm")
    return binary(ctx, "ADD", y, b) if b is not None else y


# -- softmax ---------------------------------------------------------------------------------------

@lowers("softmax")
def lower_softmax(ctx, node):
    _check_float(ctx, node)
    x = ctx.tensor(node.args[0], "float32")
    axis = norm_dim(int(node.args[1]), len(x.shape))
    return ctx.unary("softmax", x, axis=axis, log=int(aten_name(node.target) == "_log_softmax"))


# -- normalization ---------------------------------------------------------------------------------

@lowers("layer_norm")
def lower_layer_norm(ctx, node):
    only_first_output_used(node, "layer_norm")
    x_arg, normalized_shape, w_arg, b_arg, eps = node.args[:5]
    x = ctx.tensor(x_arg, "float32")
    inputs = [x]
    if w_arg is not None:
        inputs.append(ctx.tensor(w_arg, "float32"))
    if b_arg is not None:
        inputs.append(ctx.tensor(b_arg, "float32"))
    out = ctx.out(ctx.meta(node)[0])
    ctx.emit("layer_norm", inputs, [out], axes=len(normalized_shape), eps=float(eps),
             has_weight=int(w_arg is not None), has_bias=int(b_arg is not None))
    return [out, None, None]


def _channel_params(ctx, w_arg, b_arg, channels: int):
    w = ctx.tensor(w_arg, "float32") if w_arg is not None else const_f32(ctx, np.ones(channels), "ones")
    b = ctx.tensor(b_arg, "float32") if b_arg is not None else const_f32(ctx, np.zeros(channels), "zeros")
    return w, b


@lowers("batch_norm")
def lower_batch_norm(ctx, node):
    only_first_output_used(node, "batch_norm")
    args = bind_args(node)
    x = ctx.tensor(args["input"], "float32")
    if len(x.shape) < 2:
        raise errors.UnsupportedOpError(f"batch norm of a rank-{len(x.shape)} tensor")
    w, b = _channel_params(ctx, args["weight"], args["bias"], x.shape[1])
    mean, var = ctx.tensor(args["running_mean"], "float32"), ctx.tensor(args["running_var"], "float32")
    out = ctx.out(ctx.meta(node)[0])
    ctx.emit("batch_norm", [x, mean, var, w, b], [out], eps=float(args["eps"]))
    return [out, None, None]


@lowers("group_norm", "native_group_norm")
def lower_group_norm(ctx, node):
    only_first_output_used(node, "group_norm")
    args = bind_args(node)
    x = ctx.tensor(args["input"], "float32")
    if len(x.shape) < 2:
        raise errors.UnsupportedOpError(f"group norm of a rank-{len(x.shape)} tensor")
    w, b = _channel_params(ctx, args["weight"], args["bias"], x.shape[1])
    out = ctx.out(ctx.meta(node)[0])
    ctx.emit("group_norm", [x, w, b], [out], groups=int(args["group"]), eps=float(args["eps"]))
    return [out, None, None]


@lowers("group_norm", "_native_batch_norm_legit")
def lower_batch_norm_batch_stats(ctx, node):
    """Batch norm with batch statistics, as InstanceNorm decomposes: x viewed as [1, N*C, *]. With a batch
    of 1 every channel is normalized over its own positions, which is group norm with one channel per group."""
    only_first_output_used(node, "batch_norm")
    args = bind_args(node)
    x = ctx.tensor(args["input"], "float32")
    if len(x.shape) < 2 or x.shape[0] != 1:
        raise errors.UnsupportedOpError(
            f"batch norm with batch statistics over a batch of {x.shape[0] if x.shape else 0} (node {node.name}); "
            "only the InstanceNorm form (batch 1) is supported", hint="Call model.eval() before export.")
    channels = x.shape[1]
    w, b = _channel_params(ctx, args["weight"], args["bias"], channels)
    out = ctx.out(ctx.meta(node)[0])
    ctx.emit("group_norm", [x, w, b], [out], groups=channels, eps=float(args["eps"]))
    return [out, None, None]


# -- attention -------------------------------------------------------------------------------------

@lowers("sdpa")
def lower_sdpa(ctx, node):
    args = bind_args(node)
    flash = aten_name(node.target) != "scaled_dot_product_attention"
    if flash:
        only_first_output_used(node, "scaled_dot_product_attention")
    if float(args.get("dropout_p") or 0.0) != 0.0:
        raise errors.UnsupportedOpError("scaled_dot_product_attention with dropout_p > 0 (call model.eval())")
    q = ctx.tensor(args["query"], "float32")
    k = ctx.tensor(args["key"], "float32")
    v = ctx.tensor(args["value"], "float32")
    if min(len(q.shape), len(k.shape), len(v.shape)) < 2:
        raise errors.UnsupportedOpError("scaled_dot_product_attention needs q, k, v of rank >= 2")
    if args.get("enable_gqa") and len(q.shape) >= 3 and k.shape[-3] != q.shape[-3]:
        k, v = (_repeat_heads(ctx, t, q.shape[-3]) for t in (k, v))
    scale = args.get("scale")
    scale = float(scale) if scale is not None else 1.0 / math.sqrt(q.shape[-1]) if q.shape[-1] else 1.0
    inputs = [q, k, v]
    mask = args.get("attn_mask")
    if mask is not None:
        m = ctx.tensor(mask)
        inputs.append(m if m.dtype == "bool" else ctx.cast(m, "float32"))
        if len(m.shape) > len(q.shape):
            raise errors.UnsupportedOpError(f"attention mask of rank {len(m.shape)} for queries of rank {len(q.shape)}")
        if len(m.shape) < 2:
            inputs[-1] = ctx.reshape(inputs[-1], (1,) * (2 - len(m.shape)) + m.shape)
    meta = ctx.meta(node)[0] if flash else ctx.meta(node)
    out = ctx.out(meta)
    ctx.emit("sdpa", inputs, [out], is_causal=int(bool(args.get("is_causal"))), scale=scale)
    return [out, None] if flash else out


def _repeat_heads(ctx, t, heads: int):
    """Grouped-query attention: kv head h serves q heads h*g .. h*g+g-1 (repeat_interleave on dim -3)."""
    hk = t.shape[-3]
    if heads % hk:
        raise errors.UnsupportedOpError(f"{heads} query heads are not a multiple of {hk} key/value heads")
    g = heads // hk
    lead, (s, e) = t.shape[:-3], t.shape[-2:]
    src = ctx.reshape(t, lead + (hk, 1, s, e))
    wide = ctx.graph.tensor(t.name + "_gqa", t.dtype, lead + (hk, g, s, e))
    ctx.emit("expand", [src], [wide], tile=0)
    return ctx.reshape(wide, lead + (heads, s, e))
