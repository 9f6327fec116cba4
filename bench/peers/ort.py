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

    # One self-contained file (weights inside), so the file size is comparable with the other formats.
    torch.onnx.export(module, inputs, path, dynamo=True, external_data=False, optimize=True)


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
