"""Lowering of convolution, pooling, padding and resizing ATen ops.

- aten.convolution.default -> conv2d / conv_transpose2d; 1-D convs run as 2-D with H = 1 (reshapes around).
- max_pool2d_with_indices / avg_pool2d / _adaptive_avg_pool2d / adaptive_max_pool2d -> the pool ops
  (the indices outputs of the max pools are not computed: using them is an error). 1-D pools reach us
  as unsqueeze + 2-D pool + squeeze from the decomposition; unbatched (C, H, W) inputs are reshaped.
- constant_pad_nd / reflection_pad{1,2}d / replication_pad{1,2}d / pad -> pad.
- upsample_nearest2d / upsample_bilinear2d / _upsample_nearest_exact2d / upsample_bicubic2d -> interpolate
  (capture keeps nearest-exact and bicubic undecomposed).
- grid_sampler_2d -> grid_sample (bilinear, nearest; every padding mode).

Note: torch's core-ATen decomposition rewrites F.pad(mode="reflect"|"replicate"|"circular") and
1-D/3-D interpolation into index/arith ops; those
reach other lowering rules (aten.index.Tensor -> take, ...). `match_pad_index` below recognizes a
constant index vector that implements a reflect/replicate/circular pad along one axis, so the
index.Tensor rule can emit a single pad op instead.
"""
from __future__ import annotations

import operator

import numpy as np

from pockettorch.exporter.lowering import lowers
from pockettorch.exporter.lowering.common import NO_ACT, call_arg, static_shape
from pockettorch.runtime import error_catalogue as errors
from pockettorch.runtime.op_table import enum_value


def _pair(v, default=None) -> list[int]:
    if v is None or (isinstance(v, (list, tuple)) and len(v) == 0):
        v = default
    if isinstance(v, int):
        return [v, v]
    v = [int(a) for a in v]
    if len(v) == 1:
        return [v[0], v[0]]
    if len(v) != 2:
        raise errors.UnsupportedOpError(f"expected 1 or 2 values for a 2-D window parameter, got {v}")
    return v


def _float_input(ctx, arg, what: str):
    meta = ctx.meta(arg)
    if not meta.dtype.is_floating_point:
        raise errors.UnsupportedOpError(f"{what} on a {meta.dtype} tensor is not supported (float32 only)")
    return ctx.tensor(arg, "float32")


def _as4d(ctx, x, what: str):
    """(C, H, W) -> (1, C, H, W); returns (tensor, squeeze_back)."""
    if len(x.shape) == 4:
        return x, False
    if len(x.shape) == 3:
        return ctx.reshape(x, (1,) + x.shape), True
    raise errors.UnsupportedOpError(f"{what} expects a 3-D or 4-D input, got shape {list(x.shape)}")


def _emit_nchw(ctx, node, op: str, x, out_meta, inputs_tail=(), **params):
    """Emit `op` on a 4-D x; when the node's value is 3-D (unbatched) add the reshape back."""
    shape = static_shape(out_meta)
    if len(shape) == 4:
        out = ctx.out(out_meta)
        ctx.emit(op, [x, *inputs_tail], [out], **params)
        return out
    out4 = ctx.graph.tensor(f"{node.name}_4d", "float32", (1,) + shape)
    ctx.emit(op, [x, *inputs_tail], [out4], **params)
    return ctx.reshape(out4, shape, name=node.name)


# -- convolution --

@lowers("conv2d", "convolution")  # transposed ones too (conv_transpose2d)
def lower_convolution(ctx, node):
    x_arg, w_arg, b_arg = node.args[:3]
    stride, padding, dilation, transposed, _output_padding, groups = node.args[3:9]
    x = _float_input(ctx, x_arg, "convolution")
    spatial = len(x.shape) - 2  # ATen lets one value stand for every spatial dim (nn.Conv2d(padding="valid"))
    stride, padding, dilation = (list(v) * spatial if len(v) == 1 else list(v) for v in (stride, padding, dilation))
    w = ctx.tensor(w_arg, "float32")
    inputs = [x, w]
    if b_arg is not None:
        inputs.append(ctx.tensor(b_arg, "float32"))
    rank = len(x.shape)
    op = "conv_transpose2d" if transposed else "conv2d"
    out_shape = static_shape(ctx.meta(node))
    if rank == 4:
        params = dict(stride_h=stride[0], stride_w=stride[1], pad_h=padding[0], pad_w=padding[1],
                      dil_h=dilation[0], dil_w=dilation[1], groups=int(groups), **NO_ACT)
        out = ctx.out()
        ctx.emit(op, inputs, [out], **params)
        return out
    if rank == 3:
        # (N, C, L) -> (N, C, 1, L); weight (O, C/g, K) -> (O, C/g, 1, K) (IOHW likewise when transposed)
        x4 = ctx.reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2]))
        w4 = ctx.reshape(w, (w.shape[0], w.shape[1], 1, w.shape[2]))
        inputs[:2] = [x4, w4]
        params = dict(stride_h=1, stride_w=stride[0], pad_h=0, pad_w=padding[0], dil_h=1, dil_w=dilation[0],
                      groups=int(groups), **NO_ACT)
        out4 = ctx.graph.tensor(f"{node.name}_2d", "float32", (out_shape[0], out_shape[1], 1, out_shape[2]))
        ctx.emit(op, inputs, [out4], **params)
        return ctx.reshape(out4, out_shape, name=node.name)
    raise errors.UnsupportedOpError(
        f"{rank - 2}-D convolution (node {node.name}) is not supported; PocketTorch runs 1-D and 2-D convolutions")


# -- pooling --

def _check_indices_unused(node, what: str):
    for user in node.users:
        if user.target is not operator.getitem:
            raise errors.UnsupportedOpError(f"{what} (node {node.name}) is used as a whole; only its values output is supported")
        if user.args[1] != 0 and len(user.users) > 0:
            raise errors.UnsupportedOpError(
                f"the indices output of {what} (node {node.name}, used by {', '.join(u.name for u in user.users)}) "
                f"is not supported; PocketTorch computes only the pooled values",
                hint="Use return_indices=False (MaxUnpool and index-based ops are not supported).")


@lowers("max_pool2d")
def lower_max_pool2d(ctx, node):
    _check_indices_unused(node, "max_pool2d_with_indices")
    kernel = _pair(call_arg(node, 1, "kernel_size"))
    stride = _pair(call_arg(node, 2, "stride"), kernel)
    padding = _pair(call_arg(node, 3, "padding", 0), 0)
    dilation = _pair(call_arg(node, 4, "dilation", 1), 1)
    x, _ = _as4d(ctx, _float_input(ctx, node.args[0], "max_pool2d"), "max_pool2d")
    out = _emit_nchw(ctx, node, "max_pool2d", x, ctx.meta(node)[0],
                     kernel_h=kernel[0], kernel_w=kernel[1], stride_h=stride[0], stride_w=stride[1],
                     pad_h=padding[0], pad_w=padding[1], dil_h=dilation[0], dil_w=dilation[1])
    return (out, None)


@lowers("avg_pool2d")
def lower_avg_pool2d(ctx, node):
    kernel = _pair(call_arg(node, 1, "kernel_size"))
    stride = _pair(call_arg(node, 2, "stride"), kernel)
    padding = _pair(call_arg(node, 3, "padding", 0), 0)
    count_include_pad = bool(call_arg(node, 5, "count_include_pad", True))
    divisor = call_arg(node, 6, "divisor_override", None)
    if divisor is not None and int(divisor) <= 0:
        raise errors.UnsupportedOpError(f"avg_pool2d divisor_override must be positive, got {divisor}")
    x, _ = _as4d(ctx, _float_input(ctx, node.args[0], "avg_pool2d"), "avg_pool2d")
    return _emit_nchw(ctx, node, "avg_pool2d", x, ctx.meta(node),
                      kernel_h=kernel[0], kernel_w=kernel[1], stride_h=stride[0], stride_w=stride[1],
                      pad_h=padding[0], pad_w=padding[1], count_include_pad=int(count_include_pad),
                      divisor=int(divisor or 0))


@lowers("adaptive_pool2d", "_adaptive_avg_pool2d")
def lower_adaptive_avg_pool2d(ctx, node):
    x, _ = _as4d(ctx, _float_input(ctx, node.args[0], "adaptive_avg_pool2d"), "adaptive_avg_pool2d")
    return _emit_nchw(ctx, node, "adaptive_pool2d", x, ctx.meta(node), is_max=0)


@lowers("adaptive_pool2d", "adaptive_max_pool2d")
def lower_adaptive_max_pool2d(ctx, node):
    _check_indices_unused(node, "adaptive_max_pool2d")
    x, _ = _as4d(ctx, _float_input(ctx, node.args[0], "adaptive_max_pool2d"), "adaptive_max_pool2d")
    return (_emit_nchw(ctx, node, "adaptive_pool2d", x, ctx.meta(node)[0], is_max=1), None)


# -- padding --

PAD_MODES = {"constant": "CONSTANT", "reflect": "REFLECT", "replicate": "REPLICATE", "circular": "CIRCULAR"}


def _emit_pad(ctx, node, mode: str, pads, value: float = 0.0):
    x = ctx.tensor(node.args[0])
    pads = [int(p) for p in pads]
    if len(pads) % 2 or len(pads) // 2 > len(x.shape):
        raise errors.UnsupportedOpError(f"pad of {len(pads)} values for a rank-{len(x.shape)} tensor (node {node.name})")
    if x.dtype not in ("float32", "int64", "int32", "bool", "uint8", "int8"):
        raise errors.UnsupportedOpError(f"pad of a {x.dtype} tensor is not supported")
    if mode != "constant":
        value = 0.0
    return ctx.unary("pad", x, mode=enum_value("PAD", PAD_MODES[mode]), value=float(value), pads=pads)


@lowers("pad", "constant_pad_nd")
def lower_constant_pad(ctx, node):
    value = call_arg(node, 2, "value", 0)
    return _emit_pad(ctx, node, "constant", node.args[1], float(value))


@lowers("pad", "reflection_pad1d", "reflection_pad2d")
def lower_reflection_pad(ctx, node):
    return _emit_pad(ctx, node, "reflect", node.args[1])


@lowers("pad", "replication_pad1d", "replication_pad2d")
def lower_replication_pad(ctx, node):
    return _emit_pad(ctx, node, "replicate", node.args[1])


@lowers("pad", "pad")
def lower_pad(ctx, node):
    mode = call_arg(node, 2, "mode", "constant")
    value = call_arg(node, 3, "value", None)
    if mode not in PAD_MODES:
        raise errors.UnsupportedOpError(f"pad mode {mode!r} is not supported ({', '.join(PAD_MODES)})")
    return _emit_pad(ctx, node, mode, node.args[1], float(value or 0.0))


def match_pad_index(index, n: int):
    """If the integer vector `index` (numpy) selects x[index] along an axis of size n the way a
    reflect / replicate / circular pad does, return (mode, before, after), else None.

    For the index.Tensor lowering: torch's decomposition turns F.pad(mode="reflect"|"replicate")
    into x[..., idx] with a constant idx; emitting `pad` for it avoids a gather."""
    index = np.asarray(index)
    if index.ndim != 1 or n <= 0 or not np.issubdtype(index.dtype, np.integer):
        return None
    index = np.where(index < 0, index + n, index)
    for before in range(0, len(index) - n + 1):
        if index[before] != 0 or not np.array_equal(index[before:before + n], np.arange(n)):
            continue
        after = len(index) - n - before
        o = np.arange(len(index)) - before
        for mode in ("reflect", "replicate", "circular"):
            if mode == "reflect":
                if n == 1:
                    ref = np.zeros_like(o)
                else:
                    m = np.mod(o, 2 * (n - 1))
                    ref = np.where(m < n, m, 2 * (n - 1) - m)
            elif mode == "replicate":
                ref = np.clip(o, 0, n - 1)
            else:
                ref = np.mod(o, n)
            if np.array_equal(ref, index):
                return mode, before, after
        return None
    return None


def emit_index_as_pad(ctx, x, axis: int, index, name: str | None = None):
    """For the aten.index.Tensor rule: x indexed along `axis` by the constant 1-D integer vector `index`.
    When that is a reflect/replicate/circular pad (how torch decomposes F.pad's non-constant modes),
    emit one pad op and return its output; otherwise return None and emit nothing."""
    rank = len(x.shape)
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank:
        return None
    match = match_pad_index(index, x.shape[axis])
    if match is None:
        return None
    mode, before, after = match
    pads = [0, 0] * (rank - 1 - axis) + [before, after]
    shape = list(x.shape)
    shape[axis] += before + after
    out = ctx.graph.tensor(name or f"{x.name}_pad", x.dtype, shape)
    ctx.emit("pad", [x], [out], mode=enum_value("PAD", PAD_MODES[mode]), value=0.0, pads=pads)
    return out


# -- resizing --

def _scales(node, scale_arg):
    if scale_arg is None:
        return 0.0, 0.0
    if isinstance(scale_arg, (int, float)):
        return float(scale_arg), float(scale_arg)
    s = [float(v) if v is not None else 0.0 for v in scale_arg]
    return (s[0], s[0]) if len(s) == 1 else (s[0], s[1])


def _emit_interp(ctx, node, mode: str, align_corners: bool, scale_h: float, scale_w: float):
    x = _float_input(ctx, node.args[0], f"upsample ({mode})")
    if len(x.shape) != 4:
        raise errors.UnsupportedOpError(f"2-D upsampling expects an NCHW input, got shape {list(x.shape)}")
    return ctx.unary("interpolate", x, mode=enum_value("INTERP", mode), align_corners=int(bool(align_corners)),
                     scale_h=float(scale_h or 0.0), scale_w=float(scale_w or 0.0))


@lowers("interpolate", "upsample_nearest2d.vec")
def lower_upsample_nearest_vec(ctx, node):
    return _emit_interp(ctx, node, "NEAREST", False, *_scales(node, call_arg(node, 2, "scale_factors")))


@lowers("interpolate", "_upsample_nearest_exact2d")
def lower_upsample_nearest_exact_vec(ctx, node):
    return _emit_interp(ctx, node, "NEAREST_EXACT", False, *_scales(node, call_arg(node, 2, "scale_factors")))


@lowers("interpolate", "upsample_nearest2d.default")
def lower_upsample_nearest(ctx, node):
    return _emit_interp(ctx, node, "NEAREST", False, call_arg(node, 2, "scales_h"), call_arg(node, 3, "scales_w"))


@lowers("interpolate", "upsample_bilinear2d.vec")
def lower_upsample_bilinear_vec(ctx, node):
    return _emit_interp(ctx, node, "BILINEAR", bool(node.args[2]), *_scales(node, call_arg(node, 3, "scale_factors")))


@lowers("interpolate", "upsample_bilinear2d.default")
def lower_upsample_bilinear(ctx, node):
    return _emit_interp(ctx, node, "BILINEAR", bool(node.args[2]), call_arg(node, 3, "scales_h"),
                        call_arg(node, 4, "scales_w"))


@lowers("interpolate", "upsample_bicubic2d.vec")
def lower_upsample_bicubic_vec(ctx, node):
    return _emit_interp(ctx, node, "BICUBIC", bool(node.args[2]), *_scales(node, call_arg(node, 3, "scale_factors")))


@lowers("interpolate", "upsample_bicubic2d.default")
def lower_upsample_bicubic(ctx, node):
    return _emit_interp(ctx, node, "BICUBIC", bool(node.args[2]), call_arg(node, 3, "scales_h"),
                        call_arg(node, 4, "scales_w"))


@lowers("grid_sample")
def lower_grid_sample(ctx, node):
    """aten.grid_sampler_2d(input, grid, interpolation_mode, padding_mode, align_corners): modes 0 bilinear,
    1 nearest (2, bicubic, is refused); padding 0 zeros, 1 border, 2 reflection."""
    x_arg, grid_arg, mode, padding, align_corners = node.args[:5]
    modes = {0: "BILINEAR", 1: "NEAREST"}
    if mode not in modes:
        raise errors.UnsupportedOpError("grid_sample with mode='bicubic' is not supported (bilinear, nearest)")
    x = _float_input(ctx, x_arg, "grid_sample")
    grid = ctx.tensor(grid_arg, "float32")
    if len(x.shape) != 4:
        raise errors.UnsupportedOpError(f"grid_sample on a {len(x.shape)}-D input; PocketTorch samples NCHW images")
    out = ctx.out()
    ctx.emit("grid_sample", [x, grid], [out], mode=enum_value("INTERP", modes[mode]), padding=int(padding),
             align_corners=int(bool(align_corners)))
    return out

