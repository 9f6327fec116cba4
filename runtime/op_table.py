"""The op table: the one definition of PocketTorch's operators.

It drives the exporter (which ATen targets lower to which op, how parameters are encoded), and
`python -m pockettorch.runtime.codegen` generates from it the C op enum and parameter indices
(`runtime/core/ops_generated.h`), the kernel registration table (`runtime/backends/cpu/kernel_table.c`) and the
selective-build kernel list. Op codes are part of the file format: never renumber, only append.

Parameter encoding (FORMAT.md): every instruction carries a flat int64 array. `int` params are stored
as is, `float` params as the bits of an IEEE double, and an `ints` param (only ever last) takes the
remaining slots, so its length is `n_params - index`.
"""
from __future__ import annotations

from dataclasses import dataclass

MAX_RANK = 8


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "int" | "float" | "ints"


@dataclass(frozen=True)
class Op:
    name: str
    code: int
    inputs: tuple[int, int]  # (min, max) operand count
    outputs: int
    params: tuple[Param, ...]
    aten: tuple[str, ...]  # ATen targets (core ATen, after decompositions) that lower to this op
    kernel: str  # C kernel file stem under runtime/kernels/ and symbol stem pkt_kernel_<kernel>
    inplace: bool = False  # output may share input 0's buffer when input 0 dies here
    doc: str = ""
    packs: bool = False  # the kernel repacks constant weights once per session (pack_size/pack)
    shape: str = "declared"  # how the runtime computes the outputs' shapes from the inputs' (SHAPE_RULES)


def _p(spec: str) -> tuple[Param, ...]:
    """'stride_h:int pad:ints' -> Params."""
    return tuple(Param(*item.split(":")) for item in spec.split())


_ACT = "act:int act_min:float act_max:float"

# Enumerations shared by exporter and kernels, emitted into the C header as PKT_<ENUM>_<NAME>.
ENUMS: dict[str, tuple[str, ...]] = {
    "DTYPE": ("INVALID", "F32", "I64", "I32", "BOOL", "U8", "I8", "F16"),
    "ACT": ("NONE", "RELU", "RELU6", "SILU", "GELU", "GELU_TANH", "HARDSWISH", "SIGMOID", "CLAMP", "TANH"),
    "BINARY": ("ADD", "SUB", "MUL", "DIV", "POW", "MAX", "MIN", "FLOORDIV", "REMAINDER", "ATAN2",
               "BITAND", "BITOR", "BITXOR"),
    "COMPARE": ("EQ", "NE", "LT", "LE", "GT", "GE"),
    "LOGICAL": ("AND", "OR", "XOR"),
    "UNARY": ("NEG", "ABS", "EXP", "LOG", "SQRT", "RSQRT", "SIN", "COS", "TANH", "SIGMOID", "RELU",
              "GELU", "GELU_TANH", "SILU", "HARDSWISH", "HARDSIGMOID", "ERF", "FLOOR", "CEIL", "ROUND",
              "RECIPROCAL", "SIGN", "LOG1P", "EXPM1", "NOT", "ELU", "LEAKY_RELU", "CLAMP", "SOFTPLUS",
              "MISH", "TRUNC", "ISNAN", "LOG2", "TAN", "ASIN", "ACOS", "ATAN", "SINH", "COSH", "BITNOT"),
    "REDUCE": ("SUM", "MEAN", "MAX", "MIN", "PROD", "ANY", "ALL", "VAR", "NORM2"),
    "ARGREDUCE": ("ARGMAX", "ARGMIN"),
    "PAD": ("CONSTANT", "REFLECT", "REPLICATE", "CIRCULAR"),
    "INTERP": ("NEAREST", "BILINEAR", "NEAREST_EXACT", "BICUBIC"),
    "GRID_PAD": ("ZEROS", "BORDER", "REFLECTION"),  # grid_sample's padding_mode, in ATen's order
    "SCATTER": ("NONE", "SUM", "PROD", "MEAN", "AMAX", "AMIN"),
    "EMBAG": ("SUM", "MEAN", "MAX"),
}


# Shape rules (runtime/core/shape_rules.c): a program with dynamic dims recomputes every instruction's output shape
# from its inputs' actual shapes with its op's rule. "declared": the output's dims are the exporter's symbolic
# expressions (SHAPES section), for ops whose output size is not a function of input shapes and parameters
# (reshape, expand, fill, slice, ceil-mode pools, resizes); a new op that names no rule gets this one.
SHAPE_RULES = ("declared", "same", "broadcast", "linear", "matmul", "permute", "concat", "take", "sdpa", "reduce",
               "window")
ENUMS["SHAPE"] = tuple(r.upper() for r in SHAPE_RULES)


def enum_value(enum: str, name: str) -> int:
    return ENUMS[enum].index(name)


OPS: tuple[Op, ...] = (
    Op("binary", 1, (2, 2), 1, _p("kind:int " + _ACT),
       ("aten.add.Tensor", "aten.sub.Tensor", "aten.mul.Tensor", "aten.div.Tensor", "aten.div.Tensor_mode",
        "aten.pow.Tensor_Tensor", "aten.pow.Tensor_Scalar", "aten.pow.Scalar", "aten.maximum.default",
        "aten.minimum.default", "aten.remainder.Tensor", "aten.remainder.Scalar", "aten.fmod.Tensor",
        "aten.atan2.default", "aten.add.Scalar", "aten.sub.Scalar", "aten.mul.Scalar", "aten.div.Scalar",
        "aten.rsub.Scalar", "aten.floor_divide.default", "aten.bitwise_and.Tensor", "aten.bitwise_or.Tensor",
        "aten.bitwise_xor.Tensor"),
       "binary", inplace=True, doc="Elementwise arithmetic with NumPy broadcasting and a fused activation.", shape="broadcast"),
    Op("compare", 2, (2, 2), 1, _p("kind:int"),
       ("aten.eq.Tensor", "aten.eq.Scalar", "aten.ne.Tensor", "aten.ne.Scalar", "aten.lt.Tensor", "aten.lt.Scalar",
        "aten.le.Tensor", "aten.le.Scalar", "aten.gt.Tensor", "aten.gt.Scalar", "aten.ge.Tensor", "aten.ge.Scalar"),
       "compare", doc="Elementwise comparison with broadcasting; bool output.", shape="broadcast"),
    Op("logical", 3, (2, 2), 1, _p("kind:int"),
       ("aten.logical_and.default", "aten.logical_or.default", "aten.logical_xor.default"),
       "logical", doc="Elementwise logical and/or/xor with broadcasting; bool output.", shape="broadcast"),
    Op("unary", 4, (1, 1), 1, _p("kind:int alpha:float beta:float"),
       ("aten.neg.default", "aten.abs.default", "aten.exp.default", "aten.log.default", "aten.sqrt.default",
        "aten.rsqrt.default", "aten.sin.default", "aten.cos.default", "aten.tanh.default", "aten.sigmoid.default",
        "aten.relu.default", "aten.gelu.default", "aten.silu.default", "aten.hardswish.default",
        "aten.hardsigmoid.default", "aten.erf.default", "aten.floor.default", "aten.ceil.default",
        "aten.round.default", "aten.reciprocal.default", "aten.sign.default", "aten.log1p.default",
        "aten.expm1.default", "aten.logical_not.default", "aten.elu.default", "aten.leaky_relu.default",
        "aten.clamp.default", "aten.clamp.Tensor", "aten.hardtanh.default", "aten.softplus.default",
        "aten.mish.default", "aten.trunc.default", "aten.isnan.default", "aten.log2.default", "aten.tan.default",
        "aten.asin.default", "aten.acos.default", "aten.atan.default", "aten.sinh.default", "aten.cosh.default",
        "aten.bitwise_not.default", "aten.clamp_min.default", "aten.clamp_max.default"),
       "unary", inplace=True, doc="Elementwise math and activations; alpha/beta carry clamp bounds and slopes.", shape="same"),
    Op("where", 5, (3, 3), 1, (), ("aten.where.self",), "where",
       doc="select(cond, a, b) with broadcasting.", shape="broadcast"),
    Op("cast", 6, (1, 1), 1, (), ("aten._to_copy.default", "aten.to.dtype", "aten.clone.default",
                                    "aten.alias.default", "aten.lift_fresh_copy.default"), "cast",
       doc="Copy with dtype conversion (output dtype from the tensor table).", shape="same"),
    Op("conv2d", 7, (2, 4), 1,
       _p("stride_h:int stride_w:int pad_h:int pad_w:int dil_h:int dil_w:int groups:int " + _ACT),
       ("aten.convolution.default",), "conv2d",
       doc="2-D convolution NCHW, weight OIHW, optional bias, optional residual (a 4th input after the bias, "
           "shaped as the output, added before the activation), fused activation. conv1d lowers onto it.",
       packs=True, shape="window"),
    Op("conv_transpose2d", 8, (2, 3), 1,
       _p("stride_h:int stride_w:int pad_h:int pad_w:int dil_h:int dil_w:int groups:int " + _ACT),
       ("aten.convolution.default",), "conv_transpose2d",
       doc="Transposed 2-D convolution NCHW, weight IOHW (output padding is implied by the output shape)."),
    Op("linear", 9, (2, 3), 1, _p(_ACT), ("aten.addmm.default", "aten.mm.default", "aten.linear.default"),
       "linear", packs=True, doc="y = x @ W^T + b over the last dim of x; W is [out, in].", shape="linear"),
    Op("matmul", 10, (2, 2), 1, _p("transpose_b:int"), ("aten.bmm.default", "aten.matmul.default", "aten.mm.default"),
       "matmul", doc="Batched matmul with broadcasting batch dims; transpose_b uses b as [.., N, K].", shape="matmul"),
    Op("softmax", 11, (1, 1), 1, _p("axis:int log:int"),
       ("aten._softmax.default", "aten._log_softmax.default"), "softmax", doc="(Log-)softmax along one axis.", shape="same"),
    Op("layer_norm", 12, (1, 3), 1, _p("axes:int eps:float has_weight:int has_bias:int"),
       ("aten.native_layer_norm.default",), "layer_norm", doc="Layer norm over the last `axes` dims.", shape="same"),
    Op("batch_norm", 13, (5, 5), 1, _p("eps:float"),
       ("aten._native_batch_norm_legit_no_training.default",), "batch_norm",
       doc="Inference batch norm over dim 1 (x, mean, var, weight, bias); folded into conv/linear when possible.", shape="same"),
    Op("group_norm", 14, (3, 3), 1, _p("groups:int eps:float"),
       ("aten.native_group_norm.default", "aten._native_batch_norm_legit.no_stats"),
       "group_norm", doc="Group norm over NC* (x, weight, bias).", shape="same"),
    Op("max_pool2d", 15, (1, 1), 1,
       _p("kernel_h:int kernel_w:int stride_h:int stride_w:int pad_h:int pad_w:int dil_h:int dil_w:int"),
       ("aten.max_pool2d_with_indices.default",), "max_pool2d",
       doc="Max pooling NCHW; ceil mode is implied by the output shape."),
    Op("avg_pool2d", 16, (1, 1), 1,
       _p("kernel_h:int kernel_w:int stride_h:int stride_w:int pad_h:int pad_w:int count_include_pad:int divisor:int"),
       ("aten.avg_pool2d.default",), "avg_pool2d",
       doc="Average pooling NCHW; divisor 0 means the window size."),
    Op("adaptive_pool2d", 17, (1, 1), 1, _p("is_max:int"),
       ("aten._adaptive_avg_pool2d.default", "aten.adaptive_max_pool2d.default"), "adaptive_pool2d",
       doc="Adaptive average/max pooling NCHW to the output's H, W."),
    Op("reduce", 18, (1, 1), 1, _p("kind:int correction:int axes:ints"),
       ("aten.sum.dim_IntList", "aten.mean.dim", "aten.amax.default", "aten.amin.default", "aten.prod.dim_int",
        "aten.any.dim", "aten.any.dims", "aten.all.dim", "aten.var.correction", "aten.sum.default",
        "aten.mean.default", "aten.any.default", "aten.linalg_vector_norm.default", "aten.max.default",
        "aten.min.default", "aten.prod.default", "aten.all.default", "aten.all.dims"),
       "reduce", doc="Reduction over a set of axes (keepdim is implied by the output shape).", shape="reduce"),
    Op("arg_reduce", 19, (1, 1), 1, _p("kind:int axis:int"),
       ("aten.argmax.default", "aten.argmin.default", "aten.max.dim", "aten.min.dim"), "arg_reduce",
       doc="argmax/argmin along one axis; int64 output.", shape="reduce"),
    Op("take", 20, (2, 2), 1, _p("axis:int wrap:int"),
       ("aten.embedding.default", "aten.index_select.default", "aten.as_strided.default", "aten.unfold.default"),
       "take",
       doc="numpy.take: out = x.shape[:axis] + idx.shape + x.shape[axis+1:]; negative indices wrap when wrap=1 "
           "(aten.index), else are out of range (embedding, index_select). as_strided and unfold lower onto it with a "
           "constant index.", shape="take"),
    Op("gather", 21, (2, 2), 1, _p("axis:int"), ("aten.gather.default",), "gather",
       doc="torch.gather along one axis."),
    Op("concat", 22, (1, 64), 1, _p("axis:int"), ("aten.cat.default",), "concat", doc="Concatenate along one axis.", shape="concat"),
    Op("slice", 23, (1, 1), 1, _p("axis:int start:int step:int"),
       ("aten.slice.Tensor", "aten.select.int", "aten.split_with_sizes.default", "aten.split.Tensor",
        "aten.narrow.default", "aten.diagonal.default"),
       "slice", doc="Strided slice along one axis (length from the output shape)."),
    Op("permute", 24, (1, 1), 1, _p("perm:ints"), ("aten.permute.default", "aten.t.default", "aten.transpose.int"),
       "permute", doc="Permute dimensions.", shape="permute"),
    Op("reshape", 25, (1, 1), 1, (),
       ("aten.view.default", "aten._unsafe_view.default", "aten.reshape.default", "aten.squeeze.dims",
        "aten.squeeze.dim", "aten.squeeze.default", "aten.unsqueeze.default", "aten.flatten.using_ints"),
       "reshape", inplace=True, doc="Same data, new shape; free when the planner aliases it."),
    Op("expand", 26, (1, 1), 1, _p("tile:int"), ("aten.expand.default", "aten.repeat.default", "aten.copy.default"),
       "expand",
       doc="tile=0: broadcast (right-aligned, input dims 1 or equal); tile=1: repeat (each output dim a "
           "multiple of the right-aligned input dim, out[i] = in[i % in_dim])."),
    Op("pad", 27, (1, 1), 1, _p("mode:int value:float pads:ints"),
       ("aten.constant_pad_nd.default", "aten.reflection_pad1d.default", "aten.reflection_pad2d.default",
        "aten.replication_pad1d.default", "aten.replication_pad2d.default", "aten.pad.default"),
       "pad", doc="Pad; pads are (before, after) pairs from the last dim backwards, negative crops."),
    Op("interpolate", 28, (1, 1), 1, _p("mode:int align_corners:int scale_h:float scale_w:float"),
       ("aten.upsample_nearest2d.vec", "aten.upsample_bilinear2d.vec", "aten.upsample_nearest2d.default",
        "aten.upsample_bilinear2d.default", "aten._upsample_nearest_exact2d.vec", "aten.upsample_bicubic2d.vec",
        "aten.upsample_bicubic2d.default"),
       "interpolate", doc="Resize NCHW; scale 0 means derive from sizes."),
    Op("sdpa", 29, (3, 4), 1, _p("is_causal:int scale:float"),
       ("aten.scaled_dot_product_attention.default", "aten._scaled_dot_product_flash_attention_for_cpu.default"),
       "sdpa", doc="Scaled dot-product attention [.., L, E]; optional additive or bool mask as 4th input.", shape="sdpa"),
    Op("fill", 30, (0, 0), 1, _p("value:float"), ("aten.full.default", "aten.full_like.default"), "fill",
       doc="Fill the output with a scalar (large constant tensors are not stored in the file)."),
    Op("cumsum", 31, (1, 1), 1, _p("axis:int"), ("aten.cumsum.default",), "cumsum", doc="Cumulative sum.", shape="same"),
    Op("flip", 32, (1, 1), 1, _p("axes:ints"), ("aten.flip.default",), "flip", doc="Reverse along axes.", shape="same"),
    Op("triangular", 33, (1, 1), 1, _p("upper:int diagonal:int"), ("aten.tril.default", "aten.triu.default"),
       "triangular", doc="Keep the lower/upper triangle of the last two dims.", shape="same"),
    Op("conv_pw_dw", 34, (5, 5), 1,
       _p("act1:int act1_min:float act1_max:float stride_h:int stride_w:int pad_h:int pad_w:int dil_h:int dil_w:int "
          + _ACT),
       (), "conv_pw_dw", packs=True,
       doc="A pointwise conv2d (x, weight [M, C, 1, 1], bias [M], act1) feeding a depthwise one (weight "
           "[M, 1, kh, kw], bias [M], act), fused by the exporter: the intermediate is made a band of rows at "
           "a time and never written out.", shape="window"),
    Op("conv_dw_pw", 35, (5, 6), 1,
       _p("stride_h:int stride_w:int pad_h:int pad_w:int dil_h:int dil_w:int act1:int act1_min:float act1_max:float "
          + _ACT),
       (), "conv_dw_pw", packs=True,
       doc="A depthwise conv2d (x, weight [C, 1, kh, kw], bias [C], act1) feeding a pointwise one (weight "
           "[O, C, 1, 1], bias [O], act), fused by the exporter: the intermediate is made a band of rows at a "
           "time and never written out. An optional 6th input (shaped as the output) is added before act: a "
           "residual add fused in.", shape="window"),
    Op("lstm", 36, (6, 6), 3, _p("batch_first:int reverse:int"), ("aten.lstm.input",), "lstm", packs=True,
       doc="One layer and direction of an LSTM: x [B, T, I] (batch_first) or [T, B, I], h0 [B, H], c0 [B, H], "
           "w_ih [4H, I], w_hh [4H, H], bias [4H] (b_ih + b_hh) -> y (x's layout, H features), h_n, c_n; gates "
           "i, f, g, o; reverse walks the steps from the last."),
    # Indexing, scatter, sorting and bags (issue 17). Codes from 48: a block of its own.
    Op("advanced_index", 48, (2, 1 + MAX_RANK), 1, _p("axis:int"), ("aten.index.Tensor",), "advanced_index",
       doc="x[..., i0, i1, ...]: k index tensors (inputs 1..k, int64/int32, broadcast together to shape B) index "
           "dims axis..axis+k-1; out = x.shape[:axis] + B + x.shape[axis+k:]; negative indices wrap."),
    Op("index_put", 49, (3, 2 + MAX_RANK), 1, _p("axis:int accumulate:int"),
       ("aten.index_put.default", "aten.slice_scatter.default", "aten.select_scatter.default"),
       "index_put", inplace=True,
       doc="out = x with out[..., i0, i1, ...] = values (or += with accumulate): inputs x, values, k index "
           "tensors indexing dims axis..axis+k-1 as in advanced_index; values broadcast to the indexed shape; "
           "writes happen in index order (the last of duplicate indices wins)."),
    Op("scatter", 50, (3, 3), 1, _p("axis:int reduce:int include_self:int"),
       ("aten.scatter.src", "aten.scatter.value", "aten.scatter_add.default", "aten.scatter_reduce.two"),
       "scatter", inplace=True,
       doc="out = x; out[i with i[axis] = idx[i]] (reduce)= src[i] for i over idx's shape (torch.scatter, "
           "scatter_add, scatter_reduce); include_self=0 leaves x out of the reduction where indices land."),
    Op("sort", 51, (1, 1), 2, _p("axis:int descending:int"), ("aten.sort.default", "aten.sort.stable", "aten.topk.default"),
       "sort",
       doc="Stable sort along axis -> values, int64 indices; the outputs keep the first k (their dim axis) of "
           "the sorted order, so topk is sort with k < n. NaN sorts above every number."),
    Op("embedding_bag", 52, (3, 4), 1, _p("mode:int include_last_offset:int padding_idx:int"),
       ("aten._embedding_bag.default", "aten._embedding_bag_forward_only.default"), "embedding_bag",
       doc="Bags of embedding rows reduced by sum/mean/max: weight [N, D], indices [I], offsets [B(+1)], "
           "optional per-sample weights [I] (sum only) -> [B, D]; padding_idx -1 for none; empty bags give 0."),
    Op("cumprod", 53, (1, 1), 1, _p("axis:int"), ("aten.cumprod.default",), "cumprod", doc="Cumulative product."),
    # Sampling and recurrent layers (issue 17). Codes from 54: a block of its own.
    Op("grid_sample", 54, (2, 2), 1, _p("mode:int padding:int align_corners:int"), ("aten.grid_sampler_2d.default",),
       "grid_sample", doc="torch grid_sample: x [N, C, H, W] sampled at grid [N, OH, OW, 2] -> [N, C, OH, OW]; "
                          "mode INTERP nearest/bilinear, padding GRID_PAD."),
    Op("gru", 55, (6, 6), 2, _p("batch_first:int reverse:int"), ("aten.gru.input",), "gru", packs=True,
       doc="One layer and direction of a GRU: x [B, T, I] (batch_first) or [T, B, I], h0 [B, H], w_ih [3H, I], "
           "w_hh [3H, H], b_ih [3H], b_hh [3H] -> y (x's layout, H features), h_n; gates r, z, n; reverse walks "
           "the steps from the last."),
    # Quantized int8 ops (issue 18, static and dynamic int8). Codes 60-79: a block of their own. Scales are floats
    # (finite, > 0), zero points int8; per-channel weight scales are a constant f32 input [out channels]; weights are
    # int8 symmetric (zero point 0). out_min/out_max: the output clamp in int8 (a fused ReLU/ReLU6 narrows it).
    Op("quantize", 60, (1, 1), 1, _p("scale:float zp:int qmin:int qmax:int"),
       ("quantized_decomposed.quantize_per_tensor.default",), "quantize", doc="float32 -> int8: clamp(round_half_even(x * (1 / scale)) + zp, qmin, qmax).", shape="same"),
    Op("dequantize", 61, (1, 1), 1, _p("scale:float zp:int"),
       ("quantized_decomposed.dequantize_per_tensor.default", "quantized_decomposed.dequantize_per_channel.default"),
       "dequantize", doc="int8 -> float32: (q - zp) * scale.", shape="same"),
    Op("qconv2d", 62, (3, 4), 1,
       _p("stride_h:int stride_w:int pad_h:int pad_w:int dil_h:int dil_w:int groups:int in_scale:float in_zp:int "
          "out_scale:float out_zp:int out_min:int out_max:int"),
       (), "qconv2d", packs=True, shape="window",
       doc="int8 conv2d NCHW: x int8, weight int8 OIHW, weight scales f32 [O], optional f32 bias [O] -> int8; "
           "acc * (in_scale * w_scale / out_scale) requantized with round-half-even."),
    Op("qlinear", 63, (3, 4), 1, _p("in_scale:float in_zp:int out_scale:float out_zp:int out_min:int out_max:int"),
       (), "qlinear", packs=True, shape="linear",
       doc="int8 linear over the last dim: x int8, weight int8 [N, K], weight scales f32 [N], optional f32 bias [N]."),
    Op("qbinary", 64, (2, 2), 1,
       _p("kind:int a_scale:float a_zp:int b_scale:float b_zp:int out_scale:float out_zp:int out_min:int out_max:int"),
       (), "qbinary", shape="broadcast",
       doc="int8 add/mul (BINARY kind) with broadcasting: both inputs dequantized, combined in float and "
           "requantized, as the reference does."),
    Op("qmax_pool2d", 65, (1, 1), 1,
       _p("kernel_h:int kernel_w:int stride_h:int stride_w:int pad_h:int pad_w:int dil_h:int dil_w:int"),
       (), "qmax_pool2d", doc="int8 max pooling NCHW; the output keeps the input's scale and zero point."),
    Op("qavg_pool2d", 66, (1, 1), 1,
       _p("kernel_h:int kernel_w:int stride_h:int stride_w:int pad_h:int pad_w:int count_include_pad:int "
          "divisor:int in_scale:float in_zp:int out_scale:float out_zp:int"),
       (), "qavg_pool2d", doc="int8 average pooling NCHW (global mean included), requantized; divisor 0: window size."),
    Op("qconcat", 67, (1, 64), 1, _p("axis:int out_scale:float out_zp:int qparams:ints"), (), "qconcat",
       shape="concat",
       doc="int8 concat; qparams holds per input (scale as the bits of a double, zp); an input whose scale or "
           "zero point differs from the output's is requantized."),
    Op("qlut", 68, (2, 2), 1, (), (), "qlut", shape="same",
       doc="int8 -> int8 through a constant 256-entry int8 table (index q + 128): any activation of one value."),
    Op("qmatmul", 69, (2, 2), 1,
       _p("transpose_b:int a_scale:float a_zp:int b_scale:float out_scale:float out_zp:int out_min:int out_max:int"),
       (), "qmatmul", shape="matmul",
       doc="int8 batched matmul of two activations; b is symmetric (zero point 0)."),
    Op("qlinear_dynamic", 70, (3, 4), 1, _p(_ACT), (), "qlinear_dynamic", packs=True, shape="linear",
       doc="float linear with int8 weights [N, K] (scales f32 [N], optional f32 bias): x quantized per row at run "
           "time, int32 accumulation, float result with a fused activation."),
    Op("qlstm_dynamic", 71, (8, 8), 3, _p("batch_first:int reverse:int"), (), "qlstm_dynamic", packs=True,
       doc="lstm with int8 weights: x, h0, c0, w_ih int8 [4H, I], w_hh int8 [4H, H], bias f32 [4H], w_ih scales "
           "f32 [4H], w_hh scales f32 [4H]; the rows of x and of h at each step are quantized at run time (as "
           "qlinear_dynamic's), gates and state float."),
    Op("qgru_dynamic", 72, (8, 8), 2, _p("batch_first:int reverse:int"), (), "qgru_dynamic", packs=True,
       doc="gru with int8 weights: x, h0, w_ih int8 [3H, I], w_hh int8 [3H, H], b_ih, b_hh f32 [3H], w_ih scales "
           "f32 [3H], w_hh scales f32 [3H]; the rows of x and of h at each step are quantized at run time, gates "
           "and state float."),
    # Delegation to accelerator backends (issue 19). Codes 85-89: a block of its own.
    Op("delegate", 85, (0, 256), 256, _p("delegate:int fallback:int"), (), "delegate",
       doc="Runs entry `delegate` of the DELEGATES section on its backend (inputs, outputs: the subgraph's, in the "
           "blob's order) and then skips the `fallback` instructions after it, which compute the same outputs on "
           "the CPU; when the backend is not compiled in, not available or fails to initialize, the session runs "
           "those instead (FORMAT.md, DELEGATES)."),
    # Dynamic-shape creation ops (issue 17). Codes 56-59: a block of its own.
    Op("arange", 56, (0, 0), 1, _p("start:float step:float"),
       ("aten.arange.start_step", "aten.arange.start", "aten.arange.default"), "arange",
       doc="out[i] = start + i * step (in double, converted to the output's dtype); the length is the output's "
           "dim: a torch.arange whose end is a dynamic size (a static one is folded into a constant)."),
    # Weight-only quantization (issue 18). Codes 80-84: a block of its own.
    Op("linear_wo", 80, (3, 4), 1, _p("bits:int group_size:int " + _ACT), (), "linear_wo",
       doc="y = act(x @ W^T + b) with W [N, K] quantized in groups of group_size along K (symmetric, no zero point): "
           "x, qweight (bits 8: int8 [N, K]; bits 4: uint8 [N, K/2], k even in the low nibble, each nibble q + 8), "
           "scales float32 [N, K/group_size], optional bias [N]; W[n, k] = q[n, k] * scales[n, k / group_size]. "
           "Unpacked in registers, never dequantized into memory.", shape="linear"),
    Op("embedding_wo", 81, (3, 3), 1, _p("bits:int group_size:int"), (), "embedding_wo",
       doc="out[i, :] = rows of a table [V, D] quantized as linear_wo's weight: qweight, indices (int64/int32, any "
           "shape), scales [V, D/group_size] -> indices.shape + [D]; an index outside [0, V) is an error."),
)

BY_NAME = {op.name: op for op in OPS}
BY_CODE = {op.code: op for op in OPS}
ATEN_TO_OPS: dict[str, list[Op]] = {}
for _op in OPS:
    for _target in _op.aten:
        ATEN_TO_OPS.setdefault(_target, []).append(_op)

