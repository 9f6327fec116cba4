"""TorchScript import: a torch.jit.save file -> a PocketTorch Program, through the normal exporter.

    program = export_torchscript("model.pt", (torch.randn(1, 3, 224, 224),))
"""
from __future__ import annotations

import os

__all__ = ["export_torchscript"]


def export_torchscript(path, example_inputs, name: str | None = None, metadata: dict | None = None,
                       dynamic_shapes=None, reference: bool = False):
    """Export the TorchScript module saved at `path` (scripted or traced, frozen or not) to a Program.

    example_inputs: a tuple of tensors (or numpy arrays) in forward's order, or a dict by forward's argument names.
    dynamic_shapes: as for pockettorch.export, a tuple in forward's order or a dict by argument name."""
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
    graph_module = to_graph_module(ts_module, args, static=dynamic_shapes is None)
    return export(graph_module, args, name=name or snake_case(ts_module.original_name), metadata=metadata,
                  reference=reference, dynamic_shapes=dynamic_shapes,
                  source={"format": "torchscript", "file": os.path.basename(path)})
