"""Resize (NCHW, scales on H and W) -> interpolate: the ONNX modes PyTorch's resizes are.

    nearest + asymmetric + floor            -> NEAREST        (F.interpolate(mode="nearest"))
    nearest + half_pixel + round_prefer_ceil -> NEAREST_EXACT  (mode="nearest-exact")
    linear  + half_pixel / pytorch_half_pixel -> BILINEAR      (align_corners=False)
    linear  + align_corners                 -> BILINEAR, align_corners=1
    cubic (a = -0.75) + the same two modes  -> BICUBIC
"""
from __future__ import annotations

import numpy as np

from pockettorch.exporter.onnx_frontend.registry import handles
from pockettorch.runtime.op_table import enum_value

SUPPORTED = "nearest (asymmetric+floor, half_pixel+round_prefer_ceil), linear and cubic (half_pixel, " \
            "pytorch_half_pixel, align_corners)"


def _mode(ctx) -> tuple[str, int]:
    mode = ctx.attr("mode", "nearest")
    coord = ctx.attr("coordinate_transformation_mode", "half_pixel")
    if mode == "nearest":
        nearest = ctx.attr("nearest_mode", "round_prefer_floor")
        if coord == "asymmetric" and nearest == "floor":
            return "NEAREST", 0
        if coord in ("half_pixel", "pytorch_half_pixel") and nearest == "round_prefer_ceil":
            return "NEAREST_EXACT", 0
    elif mode in ("linear", "cubic"):
        if mode == "cubic" and (abs(ctx.attr("cubic_coeff_a", -0.75) + 0.75) > 1e-6 or ctx.attr("exclude_outside", 0)):
            raise ctx.unsupported("cubic resize needs cubic_coeff_a=-0.75 and exclude_outside=0 (PyTorch's bicubic)")
        kind = "BILINEAR" if mode == "linear" else "BICUBIC"
        if coord in ("half_pixel", "pytorch_half_pixel"):
            return kind, 0
        if coord == "align_corners":
            return kind, 1
    raise ctx.unsupported(f"Resize mode {mode!r} with coordinate_transformation_mode {coord!r} "
                          f"(nearest_mode {ctx.attr('nearest_mode', 'round_prefer_floor')!r}) is not supported",
                          hint=f"Supported: {SUPPORTED}.")


@handles("Resize", note=SUPPORTED + "; 4-D NCHW")
def lower_resize(ctx, node):
    x = ctx.input(0)
    if len(x.shape) != 4 or x.dtype != "float32":
        raise ctx.unsupported(f"Resize of a {x.dtype}{list(x.shape)} tensor; PocketTorch resizes float32 NCHW")
    if ctx.attr("antialias", 0) or ctx.attr("keep_aspect_ratio_policy", "stretch") != "stretch":
        raise ctx.unsupported("antialias / keep_aspect_ratio_policy are not supported")
    axes = ctx.attr("axes")
    axes = [int(a) % 4 for a in axes] if axes is not None else [0, 1, 2, 3]
    kind, align = _mode(ctx)
    scales = ctx.need_const(2, "scales") if ctx.has(2) and ctx.input(2).numel else None
    sizes = ctx.need_const(3, "sizes") if ctx.has(3) and ctx.input(3).numel else None
    full_scale, full_size = [1.0] * 4, list(x.shape)
    if scales is not None:
        for a, s in zip(axes, scales):
            full_scale[a] = float(s)
            full_size[a] = int(np.floor(x.shape[a] * float(s)))
        scale_h, scale_w = full_scale[2], full_scale[3]
    elif sizes is not None:
        for a, s in zip(axes, sizes):
            full_size[a] = int(s)
        scale_h = scale_w = 0.0  # derived from the sizes
    else:
        raise ctx.unsupported("neither scales nor sizes is given")
    if full_size[:2] != list(x.shape[:2]):
        raise ctx.unsupported("resizing the batch or channel dims is not supported")
    return ctx.op("interpolate", [x], "float32", full_size, mode=enum_value("INTERP", kind), align_corners=align,
                  scale_h=scale_h, scale_w=scale_w)
