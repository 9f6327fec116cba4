"""The numerical debugger: run a program instruction by instruction, capture every intermediate (in process through
the binding, or on a device through the runner's dump mode), and compare each with eager PyTorch's value of the
op(s) the instruction came from. `pockettorch.debug(model, inputs)`, `pockettorch debug FILE.py:build`."""
__all__ = ["debug"]


def __getattr__(name: str):
    if name == "debug":  # torch and numpy load on first use, not by `import pockettorch.debugger.cli`
        from pockettorch.debugger.api import debug

        return debug
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
