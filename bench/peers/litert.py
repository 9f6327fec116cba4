"""LiteRT (TFLite) with XNNPACK: litert_torch.convert -> .tflite -> ai_edge_litert Interpreter(num_threads=n).
The Interpreter's default op resolver (AUTO) applies the XNNPACK delegate to the CPU graph."""
from __future__ import annotations

from importlib.metadata import version

import numpy as np

from peers import Runner

NAME, LABEL, EXT = "litert", "LiteRT+XNNPACK", ".tflite"


def versions() -> dict:
    import ai_edge_litert.interpreter  # noqa: F401

    return {p: version(p) for p in ("ai-edge-litert", "litert-torch")}


def export(model, module, inputs, path) -> None:
    import litert_torch

    import quant_variants

    _, scheme = quant_variants.split(model)
    if scheme == "w4":
        quant_variants.refuse(NAME, scheme, "litert_torch's int4 weight-only recipes apply only to models built "
                                            "with its Generative API")
    if scheme == "int8":
        quantized, config = _quantize_static(module, inputs, quant_variants.calibration(model, inputs))
        litert_torch.convert(quantized, inputs, quant_config=config).export(path)
        return
    litert_torch.convert(module, inputs).export(path)


def _quantize_static(module, inputs, batches):
    """LiteRT's full-integer route: litert_torch's PT2EQuantizer (symmetric, per-channel) through torchao's PT2E,
    converted with that quantizer's QuantConfig (the converter turns the QDQ graph into int8 TFLite ops)."""
    import torch
    from litert_torch.quantize import pt2e_quantizer
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(torch.export.export(module, inputs).module(), quantizer)
    for batch in batches:
        prepared(*batch)
    return convert_pt2e(prepared, fold_quantize=False), QuantConfig(pt2e_quantizer=quantizer)


def _quantize(a, detail):
    scale, zero = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(a / scale) + zero, info.min, info.max).astype(detail["dtype"])


def _as_input(a, detail):
    """LiteRT converts int64 inputs (token ids) to int32: an app passes int32, so the ids are converted once,
    here, when every value fits (anything else stays as it is and set_tensor reports the mismatch)."""
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
        self.feeds = [(d["index"], _as_input(a, d), d if a.dtype.kind == "f" and np.dtype(d["dtype"]).kind in "iu"
                       else None) for d, a in zip(details, inputs)]
        self.outs = [(d["index"], d["quantization"] if d["dtype"] in (np.int8, np.uint8) else None)
                     for d in interp.get_output_details()]

    def run(self):
        for index, a, quantized in self.feeds:  # a full-integer model takes int8: quantized each run, as an app does
            self.interp.set_tensor(index, a if quantized is None else _quantize(a, quantized))
        self.interp.invoke()
        return [self._output(i, q) for i, q in self.outs]

    def _output(self, index, quantization):
        """Outputs as float32 (a full-integer model's int8 outputs dequantized, as an app would)."""
        out = self.interp.get_tensor(index)
        if quantization is None:
            return out
        scale, zero = quantization
        return (out.astype(np.float32) - zero) * np.float32(scale)


def load(path, model, inputs, threads) -> Runner:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=path, num_threads=threads)
    interp.allocate_tensors()
    r = _Runner(interp, inputs)
    r.notes = f"Interpreter(num_threads={threads}), default delegates (XNNPACK)"
    return r
