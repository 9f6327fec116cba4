"""LiteRT (TFLite) with XNNPACK: litert_torch.convert -> .tflite -> ai_edge_litert Interpreter(num_threads=n).
The Interpreter's default op resolver (AUTO) applies the XNNPACK delegate to the CPU graph."""
from __future__ import annotations

from importlib.metadata import version

from peers import Runner

NAME, LABEL, EXT = "litert", "LiteRT+XNNPACK", ".tflite"


def versions() -> dict:
    import ai_edge_litert.interpreter  # noqa: F401

    return {p: version(p) for p in ("ai-edge-litert", "litert-torch")}


def export(model, module, inputs, path) -> None:
    import litert_torch

    litert_torch.convert(module, inputs).export(path)


def _as_input(a, detail):
    """LiteRT converts int64 inputs (token ids) to int32: an app passes int32, so the ids are converted once,
    here, when every value fits (anything else stays as it is and set_tensor reports the mismatch)."""
    import numpy as np

    want = np.dtype(detail["dtype"])
    if a.dtype != want and a.dtype.kind == want.kind == "i" and a.size and \
            np.iinfo(want).min <= a.min() and a.max() <= np.iinfo(want).max:
        return a.astype(want)
    return a


class _Runner(Runner):
    def __init__(self, interp, inputs):
        self.interp = interp
        details = interp.get_input_details()
        if len(details) != len(inputs):
            raise ValueError(f"the .tflite takes {len(details)} inputs, the model {len(inputs)}")
        for d, a in zip(details, inputs):
            if tuple(d["shape"]) != a.shape:
                raise ValueError(f"input {d['name']} has shape {tuple(d['shape'])}, expected {a.shape}")
        self.feeds = [(d["index"], _as_input(a, d)) for d, a in zip(details, inputs)]
        self.outs = [d["index"] for d in interp.get_output_details()]

    def run(self):
        for index, a in self.feeds:
            self.interp.set_tensor(index, a)
        self.interp.invoke()
        return [self.interp.get_tensor(i) for i in self.outs]


def load(path, model, inputs, threads) -> Runner:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=path, num_threads=threads)
    interp.allocate_tensors()
    r = _Runner(interp, inputs)
    r.notes = f"Interpreter(num_threads={threads}), default delegates (XNNPACK)"
    return r
