"""The PocketTorch runtime: C sources, the Python binding and the op table."""
__all__ = ["Module", "TensorSpec", "load"]


def __getattr__(name: str):
    # the binding (and numpy) load on first use, not by `import pockettorch.runtime.cli` (fast `pockettorch --help`)
    if name in __all__:
        from pockettorch.runtime import module

        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
