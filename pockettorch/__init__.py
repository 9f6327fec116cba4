"""PocketTorch: take a PyTorch model to phones, embedded boards and the host.

    program = pockettorch.export(model, example_inputs)   # -> pockettorch.exporter.Program
    program.save("model.ptm")
    m = pockettorch.load("model.ptm", num_threads=1)      # the C runtime
    out = m(*example_inputs)
"""
from pockettorch.errors import PocketTorchError

__version__ = "0.1.0"
__all__ = ["export", "load", "PocketTorchError", "__version__"]


def export(model, example_inputs, name=None, metadata=None, **options):
    """Export an nn.Module to a PocketTorch program (see pockettorch.exporter.export)."""
    from pockettorch.exporter import export as _export  # torch is imported only when exporting

    return _export(model, example_inputs, name=name, metadata=metadata, **options)


def load(path_or_bytes, num_threads=1):
    """Load a .ptm program into the C runtime (see pockettorch.runtime.load)."""
    from pockettorch.runtime import load as _load

    return _load(path_or_bytes, num_threads=num_threads)
