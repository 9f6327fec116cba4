"""Hand-written ONNX graphs (onnx.helper) for operators and operator forms PyTorch's exporters never emit, and for
opset-version differences (Slice/Pad/Resize/Split/Reduce* taking inputs vs attributes), each imported, run in the
C runtime and compared with onnx.reference and onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from onnx_support import F, I64, check_against_oracles, make_model

R = np.random.default_rng(0)


def x(*shape):
    return R.standard_normal(shape).astype(np.float32)


N = helper.make_node
CASES = {}


def case(name, nodes, inputs, outputs, inits=(), opset=17, feeds=None, tol=1e-4, oracles=("reference", "onnxruntime")):
    CASES[name] = (nodes, inputs, outputs, dict(inits), opset, feeds, tol, oracles)


def unary(op, opset=17, shape=(2, 3, 4), **attrs):
    case(f"{op}{'_' + '_'.join(attrs) if attrs else ''}_{opset}", [N(op, ["x"], ["y"], **attrs)],
         [("x", F, shape)], [("y", F, None)], opset=opset)


unary("Mish", opset=18)
for op in ("Selu", "Celu", "Softsign", "HardSwish", "Erf", "Softplus", "Round", "Sign", "Atan"):
    unary(op)
unary("HardSigmoid", alpha=0.3, beta=0.4)
unary("HardSigmoid", alpha=1 / 6, beta=0.5)
unary("ThresholdedRelu", alpha=0.5)
unary("LeakyRelu", alpha=0.2)
unary("Elu", alpha=0.7)
unary("Gelu", opset=20, approximate="tanh")
unary("Gelu", opset=20)
UNIT = R.uniform(0.05, 0.95, (2, 3, 4)).astype(np.float32)  # inside every unary op's domain
for op in ("Abs", "Acos", "Asin", "Ceil", "Cos", "Cosh", "Exp", "Floor", "Log", "Neg", "Reciprocal", "Sigmoid", "Sin",
           "Sinh", "Sqrt", "Tan", "Tanh"):
    case(f"{op}_unit", [N(op, ["x"], ["y"])], [("x", F, (2, 3, 4))], [("y", F, None)], feeds=[UNIT])
B = TensorProto.BOOL
for op in ("Equal", "Less", "LessOrEqual", "GreaterOrEqual"):
    case(op, [N(op, ["a", "b"], ["y"])], [("a", I64, (2, 3)), ("b", I64, (3,))], [("y", B, None)])
case("And_Or_Xor_Not", [N("Less", ["a", "b"], ["l"]), N("Greater", ["a", "b"], ["g"]), N("And", ["l", "g"], ["n"]),
                        N("Or", ["l", "g"], ["o"]), N("Xor", ["l", "o"], ["x"]), N("Not", ["x"], ["y"])],
     [("a", F, (2, 3)), ("b", F, (2, 3))], [("n", B, None), ("o", B, None), ("y", B, None)])
case("Bitwise_int64", [N("BitwiseAnd", ["a", "b"], ["p"]), N("BitwiseOr", ["p", "b"], ["q"]),
                       N("BitwiseXor", ["q", "a"], ["r"]), N("BitwiseNot", ["r"], ["y"])],
     [("a", I64, (5,)), ("b", I64, (5,))], [("y", I64, None)], opset=18,
     feeds=[np.array([1, 6, -3, 12, 0], np.int64), np.array([3, 5, 7, -1, 9], np.int64)])
case("Pow_Sub_Mul_Min", [N("Pow", ["a", "e"], ["p"]), N("Sub", ["p", "b"], ["s"]), N("Mul", ["s", "b"], ["m"]),
                         N("Min", ["m", "a"], ["y"])], [("a", F, (2, 3)), ("b", F, (2, 3))], [("y", F, None)],
     {"e": np.float32(3.0)})
case("IsNaN_CastLike_Dropout", [N("Div", ["a", "b"], ["d"]), N("IsNaN", ["d"], ["n"]), N("CastLike", ["n", "a"], ["c"]),
                                N("Dropout", ["c"], ["y"])], [("a", F, (4,)), ("b", F, (4,))], [("y", F, None)],
     feeds=[np.array([0, 1, 0, 2], np.float32), np.array([0, 1, 1, 0], np.float32)])
case("Size_Flatten_Transpose_Concat", [N("Size", ["x"], ["n"]), N("Cast", ["n"], ["nf"], to=F),
                                       N("Flatten", ["x"], ["f"], axis=2), N("Transpose", ["f"], ["t"], perm=[1, 0]),
                                       N("Concat", ["t", "t"], ["c"], axis=1), N("Mul", ["c", "nf"], ["y"])],
     [("x", F, (2, 3, 4))], [("y", F, None)])
case("BatchNorm_GlobalAveragePool_ArgMax", [N("BatchNormalization", ["x", "s", "b", "m", "v"], ["n"], epsilon=1e-3),
                                            N("GlobalAveragePool", ["n"], ["g"]),
                                            N("ArgMax", ["g"], ["y"], axis=1, keepdims=0)],
     [("x", F, (2, 3, 4, 5))], [("y", I64, None)],
     {"s": x(3), "b": x(3), "m": x(3), "v": np.abs(x(3)) + 0.5})
case("ReduceLogSum", [N("ReduceLogSum", ["x"], ["y"], axes=[0])], [("x", F, (3, 4))], [("y", F, None)],
     feeds=[UNIT[0]])
case("PRelu", [N("PRelu", ["x", "s"], ["y"])], [("x", F, (2, 3, 4))], [("y", F, None)],
     {"s": np.array([0.1, 0.2, 0.3], np.float32).reshape(3, 1)})
case("Clip_inputs", [N("Clip", ["x", "lo", "hi"], ["y"])], [("x", F, (2, 5))], [("y", F, None)],
     {"lo": np.float32(-0.5), "hi": np.float32(0.5)})
case("Clip_runtime_bound", [N("Clip", ["x", "", "hi"], ["y"])], [("x", F, (2, 5)), ("hi", F, ())], [("y", F, None)],
     feeds=[x(2, 5), np.array(0.3, np.float32)])
case("Mod_fmod", [N("Mod", ["a", "b"], ["y"], fmod=1)], [("a", F, (3, 4)), ("b", F, (3, 4))], [("y", F, None)],
     feeds=[x(3, 4) * 5, x(3, 4) + 3.0])
case("Mod_int", [N("Mod", ["a", "b"], ["y"])], [("a", I64, (6,))], [("y", I64, None)],
     {"b": np.array([3, -3, 4, -4, 5, 2], np.int64)}, feeds=[np.array([7, 7, -7, -7, 9, -1], np.int64)])
case("Sum_Mean_Max", [N("Sum", ["a", "b", "c"], ["s"]), N("Mean", ["a", "b", "c"], ["m"]),
                      N("Max", ["a", "b", "c"], ["mx"])],
     [("a", F, (2, 3)), ("b", F, (3,)), ("c", F, (2, 1))], [("s", F, None), ("m", F, None), ("mx", F, None)])
case("Where_compare", [N("Greater", ["a", "b"], ["g"]), N("Where", ["g", "a", "b"], ["y"])],
     [("a", F, (2, 3)), ("b", F, (3,))], [("y", F, None)])
case("Gemm_transA_alpha_beta", [N("Gemm", ["a", "w", "c"], ["y"], transA=1, transB=1, alpha=0.5, beta=2.0)],
     [("a", F, (4, 3))], [("y", F, None)], {"w": x(5, 4), "c": x(3, 5)})
case("Gemm_runtime_B", [N("Gemm", ["a", "b", "c"], ["y"], alpha=1.5, beta=0.5)],
     [("a", F, (3, 4)), ("b", F, (4, 5))], [("y", F, None)], {"c": x(5)})
case("Gemm_runtime_B_transB_matrix_C", [N("Gemm", ["a", "b", "c"], ["y"], transB=1, beta=2.0)],
     [("a", F, (3, 4)), ("b", F, (5, 4)), ("c", F, (3, 5))], [("y", F, None)])
case("MatMul_vector", [N("MatMul", ["a", "v"], ["y"])], [("a", F, (2, 3, 4)), ("v", F, (4,))], [("y", F, None)])
case("MatMul_batched", [N("MatMul", ["a", "b"], ["y"])], [("a", F, (2, 1, 3, 4)), ("b", F, (3, 4, 5))],
     [("y", F, None)])
case("Conv_same_upper_stride2", [N("Conv", ["x", "w", "b"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])],
     [("x", F, (1, 3, 8, 8))], [("y", F, None)], {"w": x(4, 3, 3, 3), "b": x(4)})
case("Conv_asymmetric_pads_depthwise", [N("Conv", ["x", "w"], ["y"], pads=[0, 1, 2, 1], group=3)],
     [("x", F, (1, 3, 7, 7))], [("y", F, None)], {"w": x(3, 1, 3, 3)})
case("Conv1d_dilated", [N("Conv", ["x", "w"], ["y"], dilations=[2], pads=[2, 2])], [("x", F, (2, 3, 10))],
     [("y", F, None)], {"w": x(5, 3, 3)})
case("ConvTranspose_output_shape", [N("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], output_shape=[9, 9])],
     [("x", F, (1, 4, 5, 5))], [("y", F, None)], {"w": x(4, 2, 3, 3), "b": x(2)},
     oracles=("onnxruntime",))  # onnx.reference's ConvTranspose rejects output_shape
case("MaxPool_ceil_pads", [N("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                             ceil_mode=1)], [("x", F, (1, 2, 8, 8))], [("y", F, None)])
case("MaxPool_same_lower", [N("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], auto_pad="SAME_LOWER")],
     [("x", F, (1, 2, 5, 5))], [("y", F, None)])
case("AveragePool_include_pad", [N("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                   count_include_pad=1)], [("x", F, (1, 2, 6, 6))], [("y", F, None)])
case("AveragePool_1d", [N("AveragePool", ["x"], ["y"], kernel_shape=[3], strides=[2])], [("x", F, (1, 2, 9))],
     [("y", F, None)])
case("GlobalMaxPool", [N("GlobalMaxPool", ["x"], ["y"])], [("x", F, (2, 3, 4, 5))], [("y", F, None)])
case("InstanceNorm", [N("InstanceNormalization", ["x", "s", "b"], ["y"], epsilon=1e-3)], [("x", F, (2, 3, 4, 5))],
     [("y", F, None)], {"s": x(3), "b": x(3)})
case("GroupNorm_21", [N("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=2)], [("x", F, (2, 4, 3, 3))],
     [("y", F, (2, 4, 3, 3))], {"s": x(4), "b": x(4)}, opset=21)
case("LayerNorm_axis1_broadcast_scale", [N("LayerNormalization", ["x", "s"], ["y"], axis=1)],
     [("x", F, (2, 3, 4))], [("y", F, None)], {"s": x(4)})
case("LogSoftmax_axis0", [N("LogSoftmax", ["x"], ["y"], axis=0)], [("x", F, (3, 4))], [("y", F, None)])
# opset differences: attributes before, inputs after
case("Split_13_sizes", [N("Split", ["x", "s"], ["a", "b"], axis=1)], [("x", F, (2, 5))],
     [("a", F, None), ("b", F, None)],
     {"s": np.array([2, 3], np.int64)}, opset=13)
case("Split_18_num_outputs", [N("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3)], [("x", F, (2, 7))],
     [("a", F, None), ("b", F, None), ("c", F, None)], opset=18)
case("ReduceSum_13_axes_input", [N("ReduceSum", ["x", "ax"], ["y"], keepdims=0)], [("x", F, (2, 3, 4))],
     [("y", F, None)], {"ax": np.array([0, -1], np.int64)}, opset=13)
case("ReduceMean_17_axes_attr", [N("ReduceMean", ["x"], ["y"], axes=[1])], [("x", F, (2, 3, 4))], [("y", F, None)])
case("ReduceMax_18_axes_input", [N("ReduceMax", ["x", "ax"], ["y"])], [("x", F, (2, 3, 4))], [("y", F, None)],
     {"ax": np.array([2], np.int64)}, opset=18)
case("ReduceSum_18_noop", [N("ReduceSum", ["x"], ["y"], noop_with_empty_axes=1)], [("x", F, (2, 3))],
     [("y", F, None)], opset=18)
for op in ("ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp", "ReduceProd", "ReduceMin"):
    case(op, [N(op, ["x"], ["y"], axes=[1], keepdims=0)], [("x", F, (2, 3, 4))], [("y", F, None)], opset=17)
case("ArgMin_keepdims", [N("ArgMin", ["x"], ["y"], axis=1)], [("x", F, (3, 5))], [("y", I64, None)])
case("Pad_13_reflect", [N("Pad", ["x", "p"], ["y"], mode="reflect")], [("x", F, (1, 2, 4, 5))], [("y", F, None)],
     {"p": np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64)}, opset=13)
case("Pad_18_axes_edge", [N("Pad", ["x", "p", "", "ax"], ["y"], mode="edge")], [("x", F, (2, 3, 4))],
     [("y", F, None)], {"p": np.array([1, 2, 3, 0], np.int64), "ax": np.array([1, -1], np.int64)}, opset=18)
case("Pad_19_wrap", [N("Pad", ["x", "p"], ["y"], mode="wrap")], [("x", F, (1, 2, 3, 4))], [("y", F, None)],
     {"p": np.array([0, 0, 1, 2, 0, 0, 1, 2], np.int64)}, opset=19, oracles=("onnxruntime",))
case("Pad_constant_value", [N("Pad", ["x", "p", "v"], ["y"])], [("x", F, (2, 3))], [("y", F, None)],
     {"p": np.array([1, 0, 0, 2], np.int64), "v": np.float32(-1.5)})
case("Slice_negative_step", [N("Slice", ["x", "st", "en", "ax", "sp"], ["y"])], [("x", F, (4, 6))], [("y", F, None)],
     {"st": np.array([-1, 1], np.int64), "en": np.array([-100, 6], np.int64), "ax": np.array([0, 1], np.int64),
      "sp": np.array([-2, 2], np.int64)})
case("Slice_default_axes", [N("Slice", ["x", "st", "en"], ["y"])], [("x", F, (4, 6))], [("y", F, None)],
     {"st": np.array([1, -4], np.int64), "en": np.array([3, 2 ** 62], np.int64)})
case("Resize_nearest_asymmetric_floor", [N("Resize", ["x", "", "s"], ["y"], mode="nearest",
                                          coordinate_transformation_mode="asymmetric", nearest_mode="floor")],
     [("x", F, (1, 2, 3, 4))], [("y", F, None)], {"s": np.array([1, 1, 2, 3], np.float32)})
case("Resize_nearest_exact_sizes", [N("Resize", ["x", "", "", "sz"], ["y"], mode="nearest",
                                      nearest_mode="round_prefer_ceil")],
     [("x", F, (1, 2, 5, 5))], [("y", F, None)], {"sz": np.array([1, 2, 8, 3], np.int64)})
case("Resize_linear_half_pixel", [N("Resize", ["x", "", "s"], ["y"], mode="linear")], [("x", F, (1, 2, 4, 4))],
     [("y", F, None)], {"s": np.array([1, 1, 2, 2], np.float32)})
case("Resize_linear_align_corners_18_axes", [N("Resize", ["x", "", "", "sz"], ["y"], mode="linear",
                                               coordinate_transformation_mode="align_corners", axes=[2, 3])],
     [("x", F, (1, 2, 4, 4))], [("y", F, None)], {"sz": np.array([7, 5], np.int64)}, opset=18)
case("Resize_cubic", [N("Resize", ["x", "", "s"], ["y"], mode="cubic")], [("x", F, (1, 1, 4, 4))], [("y", F, None)],
     {"s": np.array([1, 1, 2, 2], np.float32)})
case("GatherElements_negative", [N("GatherElements", ["x", "i"], ["y"], axis=1)], [("x", F, (2, 4))],
     [("y", F, None)], {"i": np.array([[0, -1, 2], [3, 1, -4]], np.int64)})
case("GatherND", [N("GatherND", ["x", "i"], ["y"])], [("x", F, (3, 4, 5))], [("y", F, None)],
     {"i": np.array([[0, 1], [2, 3], [1, 0]], np.int64)})
case("ScatterND_add", [N("ScatterND", ["x", "i", "u"], ["y"], reduction="add")], [("x", F, (4, 3)), ("u", F, (3, 3))],
     [("y", F, None)], {"i": np.array([[1], [3], [1]], np.int64)})
case("ScatterND_runtime_indices", [N("ScatterND", ["x", "i", "u"], ["y"])],
     [("x", F, (4, 3)), ("i", I64, (2, 1)), ("u", F, (2, 3))], [("y", F, None)],
     feeds=[x(4, 3), np.array([[2], [0]], np.int64), x(2, 3)])
case("ScatterElements_max", [N("ScatterElements", ["x", "i", "u"], ["y"], axis=1, reduction="max")],
     [("x", F, (2, 4)), ("u", F, (2, 2))], [("y", F, None)], {"i": np.array([[1, 1], [0, 3]], np.int64)}, opset=18)
case("Gather_negative_axis1", [N("Gather", ["x", "i"], ["y"], axis=1)], [("x", F, (2, 5, 3))], [("y", F, None)],
     {"i": np.array([[0, -1], [2, 2]], np.int64)})
case("Expand_Tile", [N("Expand", ["x", "s"], ["e"]), N("Tile", ["e", "r"], ["y"])], [("x", F, (3, 1))],
     [("y", F, None)], {"s": np.array([2, 3, 4], np.int64), "r": np.array([1, 2, 1], np.int64)})
case("Einsum_bmm_transpose", [N("Einsum", ["a", "b"], ["y"], equation="bij,bkj->bki")],
     [("a", F, (2, 3, 4)), ("b", F, (2, 5, 4))], [("y", F, None)])
case("Einsum_outer_sum", [N("Einsum", ["a", "b"], ["y"], equation="ij,kl->ik")], [("a", F, (3, 4)), ("b", F, (2, 5))],
     [("y", F, None)])
case("Einsum_single", [N("Einsum", ["a"], ["y"], equation="ijk->ki")], [("a", F, (3, 4, 5))], [("y", F, None)])
case("CumSum_exclusive_reverse", [N("CumSum", ["x", "ax"], ["y"], exclusive=1, reverse=1)], [("x", F, (3, 5))],
     [("y", F, None)], {"ax": np.array(1, np.int64)})
case("TopK_smallest", [N("TopK", ["x", "k"], ["v", "i"], largest=0, axis=0)], [("x", F, (6, 3))],
     [("v", F, None), ("i", I64, None)], {"k": np.array([2], np.int64)})
case("Trilu_lower_k", [N("Trilu", ["x", "k"], ["y"], upper=0)], [("x", F, (4, 5))], [("y", F, None)],
     {"k": np.array(1, np.int64)})
case("Shape_Range_ConstantOfShape_fold",
     [N("Shape", ["x"], ["s"], start=1), N("ReduceProd", ["s"], ["n"], keepdims=0),
      N("Range", ["zero", "n", "one"], ["r"]), N("Cast", ["r"], ["rf"], to=F),
      N("ConstantOfShape", ["s"], ["c"], value=helper.make_tensor("v", F, [1], [0.5])),
      N("Reshape", ["rf", "s"], ["rs"]), N("Add", ["rs", "c"], ["a"]), N("Add", ["x", "a"], ["y"])],
     [("x", F, (2, 3, 4))], [("y", F, None)], {"zero": np.array(0, np.int64), "one": np.array(1, np.int64)})
case("Cast_int_roundtrip", [N("Cast", ["x"], ["i"], to=I64), N("Cast", ["i"], ["y"], to=F)], [("x", F, (3, 4))],
     [("y", F, None)], feeds=[x(3, 4) * 10])
case("QDQ_fake_quant_per_axis", [N("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1),
                                 N("DequantizeLinear", ["q", "s", "z"], ["d"], axis=1), N("Relu", ["d"], ["y"])],
     [("x", F, (2, 3, 4))], [("y", F, None)],
     {"s": np.array([0.02, 0.05, 0.1], np.float32), "z": np.array([0, 3, -2], np.int8)}, opset=19)
case("QDQ_weights_fold", [N("DequantizeLinear", ["wq", "ws", "wz"], ["w"]), N("MatMul", ["x", "w"], ["y"])],
     [("x", F, (2, 4))], [("y", F, None)],
     {"wq": np.arange(12, dtype=np.uint8).reshape(4, 3) * 9, "ws": np.float32(0.01), "wz": np.uint8(128)}, opset=13,
     oracles=("onnxruntime",))  # onnx.reference has no DequantizeLinear before opset 19
H = 5
case("LSTM_bidirectional_states", [N("LSTM", ["x", "w", "r", "b", "", "h0", "c0"], ["y", "yh", "yc"],
                                     hidden_size=H, direction="bidirectional")],
     [("x", F, (4, 2, 3)), ("h0", F, (2, 2, H)), ("c0", F, (2, 2, H))],
     [("y", F, None), ("yh", F, None), ("yc", F, None)],
     {"w": x(2, 4 * H, 3), "r": x(2, 4 * H, H), "b": x(2, 8 * H)})
case("GRU_layout1_reverse", [N("GRU", ["x", "w", "r", "b"], ["y", "yh"], hidden_size=H, direction="reverse",
                               linear_before_reset=1, layout=1)],
     [("x", F, (2, 4, 3))], [("y", F, None), ("yh", F, None)], {"w": x(1, 3 * H, 3), "r": x(1, 3 * H, H),
                                                                 "b": x(1, 6 * H)}, opset=14,
     oracles=("reference",))  # onnxruntime has no batch-first (layout=1) GRU
case("Attention_chain", [N("MatMul", ["q", "kt"], ["s"]), N("Div", ["s", "d"], ["sd"]), N("Softmax", ["sd"], ["p"]),
                         N("MatMul", ["p", "v"], ["y"])],
     [("q", F, (2, 4, 6, 8)), ("kt", F, (2, 4, 8, 6)), ("v", F, (2, 4, 6, 8))], [("y", F, None)],
     {"d": np.float32(np.sqrt(8))})


@pytest.mark.parametrize("name", sorted(CASES))
def test_handwritten(tmp_path, name):
    nodes, inputs, outputs, inits, opset, feeds, tol, oracles = CASES[name]
    path = tmp_path / f"{name}.onnx"
    make_model(nodes, inputs, outputs, inits, opset, path)
    if feeds is None:
        feeds = [x(*shape) if dtype == F else R.integers(0, 3, shape).astype(np.int64) for _, dtype, shape in inputs]
    with np.errstate(divide="ignore", invalid="ignore"):  # NaN and inf cases: numpy in onnx.reference warns
        check_against_oracles(path, feeds, tol, oracles)


def test_outputs_that_alias_inputs_constants_or_each_other(tmp_path):
    """Graph outputs that are a graph input, a folded constant, or the same value twice each get their own copy."""
    path = tmp_path / "aliases.onnx"
    make_model([N("Identity", ["x"], ["same"]), N("Relu", ["x"], ["r"]), N("Identity", ["r"], ["r2"]),
                N("Shape", ["x"], ["shape"])], [("x", F, (2, 3))],
               [("same", F, (2, 3)), ("r", F, (2, 3)), ("r2", F, (2, 3)), ("shape", I64, (2,))], path=path)
    program = check_against_oracles(path, [x(2, 3)])
    assert [o["name"] for o in program.metadata["outputs"]] == ["same", "r", "r2", "shape"]


@pytest.mark.parametrize("opset", [13, 15, 19, 21])
def test_every_opset_in_range(tmp_path, opset):
    """The same graph (squeeze/unsqueeze with axes inputs, a reduce with axes per opset, Conv, Softmax) at opsets from
    13 to 21."""
    reduce = (N("ReduceMean", ["c", "ax"], ["m"], keepdims=1) if opset >= 18 else
              N("ReduceMean", ["c"], ["m"], axes=[1], keepdims=1))
    nodes = [N("Unsqueeze", ["x", "ax0"], ["u"]), N("Conv", ["u", "w"], ["c"], pads=[1, 1, 1, 1]), reduce,
             N("Squeeze", ["m", "ax"], ["q"]), N("Softmax", ["q"], ["y"])]
    inits = {"ax0": np.array([0], np.int64), "w": x(4, 3, 3, 3), "ax": np.array([1], np.int64)}
    path = tmp_path / f"m{opset}.onnx"
    make_model(nodes, [("x", F, (3, 5, 5))], [("y", F, None)], inits, opset, path)
    program = check_against_oracles(path, [x(3, 5, 5)])
    assert program.metadata["source"]["opset"] == opset
