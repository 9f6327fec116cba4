"""PocketTorch: take a PyTorch model to phones, embedded boards and the host.

    program = pockettorch.export(model, example_inputs)   # -> pockettorch.exporter.Program
    program = pockettorch.export("model.pt", example_inputs)  # TorchScript (.pt/.pth/.ts) or ONNX (.onnx) files
    program.save("model.ptm")
    m = pockettorch.load("model.ptm", num_threads=1)      # the C runtime
    out = m(*example_inputs)
    report = pockettorch.debug(model, example_inputs)  # where the runtime's numbers leave eager's
"""
from pockettorch.errors import PocketTorchError

__version__ = "0.1.0"
__all__ = ["export", "load", "debug", "PocketTorchError", "__version__"]


def export(model, example_inputs=None, name=None, metadata=None, **options):
    """Export an nn.Module, or a model file (a path: TorchScript .pt/.pth/.ts, ONNX .onnx), to a PocketTorch
    program (see pockettorch.exporter.export and pockettorch.exporter.model_files.export_file)."""
    import os

    if isinstance(model, (str, os.PathLike)):
        from pockettorch.exporter.model_files import export_file

        return export_file(model, example_inputs, name=name, metadata=metadata, **options)
    from pockettorch.exporter import export as _export  # torch is imported only when exporting

    return _export(model, example_inputs, name=name, metadata=metadata, **options)


def load(path_or_bytes, num_threads=1, strict_backends=False, backends=None):
    """Load a .ptm program into the C runtime (see pockettorch.runtime.load)."""
    from pockettorch.runtime import load as _load

    return _load(path_or_bytes, num_threads=num_threads, strict_backends=strict_backends, backends=backends)


def debug(model, example_inputs, **options):
    """Compare every instruction's result with eager PyTorch (see pockettorch.debugger.api.debug)."""
    from pockettorch.debugger.api import debug as _debug

    return _debug(model, example_inputs, **options)
