"""Peer adapters: one module per runtime, all with the same small interface.

Each adapter module defines
    NAME, LABEL, EXT                          short name, table label, artifact suffix
    versions() -> dict                        versions of the packages it uses (ImportError if missing)
    export(model, module, inputs, path)       write the artifact (needs torch; run in its own subprocess)
    load(path, model, inputs, threads)        -> Runner, in a fresh process that has not exported anything

and the shared `prepare(model, inputs, threads, workdir)` below ties the two together. Runner.run() runs the
model once on the inputs given at load (copying them in and the outputs out, as an app would); run() returns
the outputs as numpy arrays.
"""
from __future__ import annotations

import importlib
import os
import pathlib

ORDER = ["pockettorch", "ort", "executorch", "litert", "torch_eager", "pockettorch_dynamic"]
OWN = ("pockettorch", "pockettorch_dynamic")  # PocketTorch's columns; the rest are its peers


class Runner:
    """What load() returns: run() once on the stored inputs; file_bytes of the artifact; notes on settings."""

    file_bytes: int = 0
    notes: str = ""

    def run(self) -> list:
        raise NotImplementedError


def adapter(name: str):
    if name not in ORDER:
        raise KeyError(f"unknown runtime {name!r}; available: {', '.join(ORDER)}")
    return importlib.import_module(f"peers.{name}")


def artifact_path(workdir: str | os.PathLike, model: str, name: str) -> pathlib.Path:
    return pathlib.Path(workdir) / model / f"{name}{adapter(name).EXT}"


def prepare(name: str, model: str, inputs, threads: int, workdir: str | os.PathLike) -> Runner:
    """Export (unless the artifact exists) and load. `inputs` are numpy arrays."""
    mod = adapter(name)
    path = artifact_path(workdir, model, name)
    if not path.exists():
        import torch  # noqa: F401  (export needs torch; load may not)

        import models

        module, example, _ = models.build(model)
        path.parent.mkdir(parents=True, exist_ok=True)
        mod.export(model, module, example, str(path))
    runner = mod.load(str(path), model, inputs, threads)
    runner.file_bytes = path.stat().st_size
    return runner
