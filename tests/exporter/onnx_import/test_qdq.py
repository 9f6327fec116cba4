"""A QDQ model from onnxruntime.quantization.quantize_static (int8 weights and int32 biases behind
DequantizeLinear, uint8 QuantizeLinear -> DequantizeLinear pairs on the activations) imports as a float program:
the weight chains fold to float constants and the activation pairs run as float fake-quant, so the outputs equal
onnxruntime's on the same file (graph optimizations off, i.e. the QDQ graph's own value)."""
from __future__ import annotations

import warnings

import numpy as np
import onnx
import torch
from torch import nn

from onnx_support import check_against_oracles


def test_quantize_static_qdq_model(tmp_path):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2), nn.ReLU(),
                          nn.Flatten(), nn.Linear(8 * 7 * 7, 10)).eval()
    float_path, qdq_path = tmp_path / "float.onnx", tmp_path / "qdq.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 3, 16, 16),), str(float_path), dynamo=False, opset_version=17,
                          input_names=["x"])

    class Calibration(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"x": np.random.default_rng(i).standard_normal((1, 3, 16, 16)).astype(np.float32)}
                                 for i in range(4)])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(str(float_path), str(qdq_path), Calibration(), quant_format=QuantFormat.QDQ,
                    weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
    ops = {n.op_type for n in onnx.load(str(qdq_path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    program = check_against_oracles(qdq_path, [np.random.default_rng(9).standard_normal((1, 3, 16, 16))
                                               .astype(np.float32)], oracles=("onnxruntime",))
    assert program.graph.op_histogram().get("conv2d", 0) + program.graph.op_histogram().get("conv_pw_dw", 0) >= 1
