"""Quantization schemes (pockettorch.quant) applied to an imported ONNX model, after lowering.

Weight-only and dynamic int8 are rewrites of the lowered graph (exporter/quant/wo_rewrite.py, int8_flow.py): every
Gemm/MatMul with a constant weight (a `linear`) is quantized. Layers are named by their ONNX node names, so `skip`
takes node names (or a prefix ending at '/' or '.', e.g. "/encoder/layer.0" for torch.onnx's "/encoder/layer.0/..").
ONNX Gather tables stay float under weight-only (ONNX lets indices be negative; embedding_wo does not).
Static int8 of a float file: ONNX Runtime's quantizer writes the QDQ model, which imports as int8 (static_int8.py);
a QDQ file is int8 already (for_graph).
"""
from __future__ import annotations

from pockettorch.exporter.ir import Graph
from pockettorch.exporter.quant import config as quant_config
from pockettorch.runtime import error_catalogue as errors

SCHEMES = (quant_config.Int8Static, quant_config.Int8Dynamic, quant_config.WeightOnly)


def check_scheme(quantization) -> None:
    if quantization is not None and not isinstance(quantization, SCHEMES):
        raise errors.BadModelArgsError(f"quantization must be a scheme from pockettorch.quant, got {quantization!r}")


QDQ = quant_config.Int8Static(calibration=(), skip=())  # a QDQ model's own quantization (ops_quant.py)


def for_graph(graph: Graph, quantization):
    """The scheme finish() applies: a QDQ model (its QuantizeLinears lowered to `quantize`) is static int8 already,
    so its quantize/dequantize patterns are folded into int8 ops; another scheme on top of it is refused."""
    if not any(node.op == "quantize" for node in graph.nodes):
        return quantization
    if quantization is not None and quantization is not QDQ:
        raise errors.BadModelArgsError("this ONNX model is already quantized (QuantizeLinear/DequantizeLinear): it "
                                       "imports as an int8 program", hint="export it without quantization=")
    return QDQ


def layer_names(graph: Graph) -> dict[str, str]:
    """Instruction cover -> layer name: the ONNX node name each instruction was lowered from."""
    return {c: c for node in graph.nodes for c in node.covers}
