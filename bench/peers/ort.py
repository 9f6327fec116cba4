"""ONNX Runtime (CPU execution provider): torch.onnx.export (dynamo, onnxscript) -> .onnx -> InferenceSession."""
from __future__ import annotations

from importlib.metadata import version

from peers import Runner

NAME, LABEL, EXT = "ort", "ONNX Runtime", ".onnx"


def versions() -> dict:
    import onnxruntime  # noqa: F401

    return {p: version(p) for p in ("onnxruntime", "onnx", "onnxscript")}


def export(model, module, inputs, path) -> None:
    import torch

    import quant_variants

    _, scheme = quant_variants.split(model)
    float_path = path if scheme is None else path + ".float.onnx"
    # One self-contained file (weights inside), so the file size is comparable with the other formats.
    torch.onnx.export(module, inputs, float_path, dynamo=True, external_data=False, optimize=True)
    if scheme == "int8":
        _quantize_static(float_path, path, quant_variants.calibration(model, inputs))
    elif scheme == "w4":
        _quantize_w4(float_path, path)


def _quantize_static(src, dst, batches) -> None:
    """onnxruntime.quantization's QDQ int8, per-channel weights (ORT's x86 defaults otherwise: uint8 activations),
    after its recommended pre-processing (shape inference and graph optimization)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    import onnx

    names = [i.name for i in onnx.load(src, load_external_data=False).graph.input]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter([{n: t.numpy() for n, t in zip(names, batch)} for batch in batches])

        def get_next(self):
            return next(self.feeds, None)

    pre = src + ".pre.onnx"
    quant_pre_process(src, pre)
    quantize_static(pre, dst, Reader(), quant_format=QuantFormat.QDQ, per_channel=True)


def _quantize_w4(src, dst) -> None:
    """onnxruntime.quantization's MatMulNBits: int4 weights in blocks of 32, symmetric; accuracy_level 4, ORT's
    fastest CPU path (activations quantized to int8 at run time, as XNNPACK's int4 path does)."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    q = MatMulNBitsQuantizer(onnx.load(src), block_size=32, is_symmetric=True, accuracy_level=4)
    q.process()
    q.model.save_model_to_file(dst, use_external_data_format=False)


class _Runner(Runner):
    def __init__(self, sess, inputs):
        self.sess = sess
        self.feeds = {i.name: a for i, a in zip(sess.get_inputs(), inputs)}

    def run(self):
        return self.sess.run(None, self.feeds)


def load(path, model, inputs, threads) -> Runner:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    r = _Runner(sess, inputs)
    r.notes = f"intra_op_num_threads={threads}, inter_op_num_threads=1, ORT_ENABLE_ALL"
    return r
