"""Which supported ops an unsupported-op error names: only related ones, or none.

Related means: another overload of the same op (aten.add.Scalar for aten.add.Tensor), a supported member of the
op's family below (same job, another variant: bicubic -> bilinear resize), or a name that differs by a character
or two (ratio >= NEAR_MISS). A loose similarity search is not used: at 0.5 it answered `nonzero` with `clone`.
"""
from __future__ import annotations

import difflib

NEAR_MISS = 0.85
MAX_SUGGESTIONS = 5

# Hand-kept families of ATen op names (no overload, no leading underscore). An op may sit in several.
FAMILIES: dict[str, tuple[str, ...]] = {
    "pooling": ("max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
                "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
                "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
                "adaptive_max_pool3d", "fractional_max_pool2d", "lp_pool2d"),
    "resize": ("upsample_nearest1d", "upsample_nearest2d", "upsample_nearest3d", "upsample_nearest_exact1d",
               "upsample_nearest_exact2d", "upsample_nearest_exact3d", "upsample_linear1d", "upsample_bilinear2d",
               "upsample_bicubic2d", "upsample_trilinear3d", "grid_sampler_2d", "_upsample_bilinear2d_aa",
               "_upsample_bicubic2d_aa"),
    "padding": ("constant_pad_nd", "pad", "reflection_pad1d", "reflection_pad2d", "reflection_pad3d",
                "replication_pad1d", "replication_pad2d", "replication_pad3d", "_pad_circular"),
    "convolution": ("convolution", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                    "conv_transpose3d", "convolution_overrideable", "slow_conv3d", "mkldnn_convolution"),
    "matrix product": ("mm", "bmm", "addmm", "matmul", "linear", "baddbmm", "addbmm", "addmv", "mv", "dot", "vdot",
                       "einsum", "tensordot", "outer", "addr"),
    "normalization": ("native_layer_norm", "layer_norm", "native_group_norm", "group_norm", "native_batch_norm",
                      "native_batch_norm_legit", "native_batch_norm_legit_no_training", "batch_norm",
                      "instance_norm", "rms_norm", "fused_rms_norm", "local_response_norm"),
    "softmax": ("softmax", "log_softmax", "safe_softmax", "logsumexp"),
    "activation": ("relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "hardswish",
                   "hardsigmoid", "hardtanh", "sigmoid", "tanh", "softplus", "softsign", "prelu", "prelu_kernel",
                   "rrelu", "rrelu_with_noise", "glu", "log_sigmoid", "log_sigmoid_forward", "hardshrink",
                   "softshrink", "threshold", "tanhshrink"),
    "attention": ("scaled_dot_product_attention", "scaled_dot_product_flash_attention_for_cpu",
                  "scaled_dot_product_efficient_attention", "scaled_dot_product_flash_attention",
                  "scaled_dot_product_cudnn_attention", "scaled_dot_product_attention_math"),
    "recurrent": ("lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell"),
    "reduction": ("sum", "mean", "prod", "amax", "amin", "max", "min", "argmax", "argmin", "var", "std", "var_mean",
                  "std_mean", "logsumexp", "norm", "linalg_vector_norm", "nansum", "nanmean", "median", "nanmedian",
                  "mode", "all", "any", "count_nonzero", "aminmax"),
    "statistics": ("var", "std", "var_mean", "std_mean", "mean", "nanmean", "median", "nanmedian"),
    "cumulative": ("cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"),
    "sorting": ("sort", "argsort", "topk", "kthvalue", "msort", "max", "min", "argmax", "argmin"),
    "exponent and logarithm": ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "pow", "sqrt", "rsqrt",
                               "square", "xlogy", "logaddexp", "logaddexp2"),
    "trigonometry": ("sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "asinh", "acosh",
                     "atanh", "sinc", "deg2rad", "rad2deg", "hypot"),
    "rounding": ("round", "floor", "ceil", "trunc", "frac", "fix"),
    "comparison": ("eq", "ne", "lt", "le", "gt", "ge", "isnan", "isinf", "isfinite", "isposinf", "isneginf",
                   "isclose", "equal", "maximum", "minimum", "fmax", "fmin", "clamp", "clamp_min", "clamp_max"),
    "logical": ("logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or",
                "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift", "where"),
    "division": ("div", "floor_divide", "remainder", "fmod", "reciprocal", "true_divide"),
    "gather and scatter": ("index", "index_select", "gather", "embedding", "take", "take_along_dim", "select",
                           "narrow", "slice", "index_put", "scatter", "scatter_add", "scatter_reduce", "index_add",
                           "index_copy", "index_fill", "masked_fill", "masked_scatter", "embedding_bag", "slice_scatter",
                           "select_scatter", "diagonal_scatter", "as_strided_scatter"),
    "layout": ("view", "reshape", "unsafe_view", "permute", "transpose", "t", "squeeze", "unsqueeze", "expand",
               "flatten", "unflatten", "repeat", "tile", "flip", "roll", "rot90", "cat", "stack", "split",
               "split_with_sizes", "chunk", "unbind", "movedim", "pixel_shuffle", "pixel_unshuffle",
               "channel_shuffle", "as_strided", "diagonal", "tril", "triu", "clone", "alias"),
    # nothing here is supported: the size of the result depends on the values of the input
    "data-dependent size": ("nonzero", "argwhere", "masked_select", "unique", "unique2", "unique_consecutive",
                            "unique_dim", "repeat_interleave"),
}
WHY_NOT = {"data-dependent size": "its output's size depends on the input's values, and PocketTorch programs have "
                                  "static shapes"}


def base(target: str) -> str:
    """'aten._linalg_det.default' -> 'linalg_det' (no namespace, overload or leading underscore)."""
    return target.split(".")[1].strip("_") if target.count(".") >= 2 else target.strip("_")


def related(target: str, supported: list[str]) -> list[str]:
    """Supported ATen targets related to the unsupported `target`, closest first; empty when none is."""
    name = base(target)
    by_base: dict[str, list[str]] = {}
    for t in sorted(supported):
        by_base.setdefault(base(t), []).append(t)
    def closest_first(candidates) -> list[str]:
        return sorted(candidates, key=lambda n: -difflib.SequenceMatcher(None, name, n).ratio())

    names = [name] if name in by_base else []
    for members in sorted((m for m in FAMILIES.values() if name in m), key=len):  # the most specific family first
        names += closest_first(m for m in members if m in by_base)
    names += closest_first(n for n in by_base if difflib.SequenceMatcher(None, name, n).ratio() >= NEAR_MISS)
    out: list[str] = []
    for n in dict.fromkeys(names):
        out += [t for t in by_base[n] if t != target]
    return out[:MAX_SUGGESTIONS]


def explain(target: str, supported: list[str]) -> str:
    """The end of an unsupported-op message: related supported ops, or why nothing is suggested."""
    for family, reason in WHY_NOT.items():
        if base(target) in FAMILIES[family]:
            return reason
    found = related(target, supported)
    if found:
        return "related supported ops: " + ", ".join(found)
    return f"no related op is supported ({len(supported)} ATen ops are supported)"
