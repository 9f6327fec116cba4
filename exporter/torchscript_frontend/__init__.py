"""TorchScript import: a torch.jit.save file -> a PocketTorch Program, through the normal exporter.

    program = export_torchscript("model.pt", (torch.randn(1, 3, 224, 224),))
"""
from __future__ import annotations

import os
from dataclasses import replace

from pockettorch.exporter.quant.config import Int8Static

__all__ = ["export_torchscript"]


def export_torchscript(path, example_inputs, name: str | None = None, metadata: dict | None = None,
                       dynamic_shapes=None, reference: bool = False, quantization=None, backends=None,
                       backend_options=None):
    """Export the TorchScript module saved at `path` (scripted or traced, frozen or not) to a Program.

    example_inputs: a tuple of tensors (or numpy arrays) in forward's order, or a dict by forward's argument names.
    dynamic_shapes: as for pockettorch.export, a tuple in forward's order or a dict by argument name.
    quantization, backends, backend_options: as for pockettorch.export (the converted module is an nn.Module like
    any other, so torchao's PT2E flow and the partitioner apply unchanged)."""
    from pockettorch.exporter.api import export, snake_case
    from pockettorch.exporter.capture import checked_example_inputs
    from pockettorch.exporter.example_inputs import by_position
    from pockettorch.exporter.torchscript_frontend.convert import argument_names, to_graph_module
    from pockettorch.exporter.torchscript_frontend.load import load_torchscript

    path = os.fspath(path)
    ts_module = load_torchscript(path)
    names = argument_names(ts_module)
    args = checked_example_inputs(by_position(example_inputs, names, "example_inputs"))
    if dynamic_shapes is not None:
        dynamic_shapes = by_position(dynamic_shapes, names, "dynamic_shapes", missing=None)
    if isinstance(quantization, Int8Static):  # calibration batches take example_inputs' forms (a dict by name, numpy)
        quantization = replace(quantization, calibration=[
            checked_example_inputs(by_position(b, names, "a calibration batch")) for b in quantization.calibration])
    graph_module = to_graph_module(ts_module, args, static=dynamic_shapes is None)
    return export(graph_module, args, name=name or snake_case(ts_module.original_name), metadata=metadata,
                  reference=reference, dynamic_shapes=dynamic_shapes, quantization=quantization, backends=backends,
                  backend_options=backend_options, source={"format": "torchscript", "file": os.path.basename(path)})
