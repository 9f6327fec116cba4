"""The PocketTorch runtime: C sources, the Python binding and the op table."""
from pockettorch.runtime.module import Module, TensorSpec, load

__all__ = ["Module", "TensorSpec", "load"]
