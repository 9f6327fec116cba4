"""Quantization schemes (pockettorch.quant) applied to an imported ONNX model, after lowering.

Weight-only and dynamic int8 are rewrites of the lowered graph (exporter/quant/wo_rewrite.py, int8_flow.py): every
Gemm/MatMul with a constant weight (a `linear`) is quantized. Layers are named by their ONNX node names, so `skip`
takes node names (or a prefix ending at '/' or '.', e.g. "/encoder/layer.0" for torch.onnx's "/encoder/layer.0/..").
ONNX Gather tables stay float under weight-only (ONNX lets indices be negative; embedding_wo does not).
Static int8 of a float file needs calibration the file does not carry: see static_int8.py.
"""
from __future__ import annotations

from pockettorch.exporter.ir import Graph
from pockettorch.exporter.quant import config as quant_config
from pockettorch.runtime import error_catalogue as errors

SCHEMES = (quant_config.Int8Static, quant_config.Int8Dynamic, quant_config.WeightOnly)


def check_scheme(quantization) -> None:
    if quantization is not None and not isinstance(quantization, SCHEMES):
        raise errors.BadModelArgsError(f"quantization must be a scheme from pockettorch.quant, got {quantization!r}")
    if isinstance(quantization, quant_config.Int8Static):
        raise errors.NotSupportedError(
            "static int8 of a float ONNX file is not supported",
            hint="quantize the file with onnxruntime.quantization.quantize_static (QuantFormat.QDQ) and import the "
                 "QDQ file, or use int8-dynamic / w8 / w4")


def layer_names(graph: Graph) -> dict[str, str]:
    """Instruction cover -> layer name: the ONNX node name each instruction was lowered from."""
    return {c: c for node in graph.nodes for c in node.covers}
