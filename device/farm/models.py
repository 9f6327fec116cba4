"""Turn the farm file's models into .ptm files once per run (zoo names and builders are exported with the
public `pockettorch.export`; .ptm files are used as they are)."""
from __future__ import annotations

import os

from pockettorch.device.farm.config import ModelSpec


def prepare(spec: ModelSpec, out_dir: str) -> str:
    """Path of the model's .ptm; an export already in out_dir (a resumed run) is reused."""
    kind, _, value = spec.source.partition(":")
    if kind == "file":
        return value
    path = os.path.join(out_dir, f"{spec.name}.ptm")
    if os.path.isfile(path):
        return path
    import pockettorch
    from pockettorch.exporter.cli import load_builder  # zoo:NAME or FILE.py:FUNCTION, with its clear errors

    if kind == "zoo" and "seed" in spec.export:
        from pockettorch.exporter.zoo import build

        module, inputs, meta = build(value, seed=spec.export["seed"])
    else:
        module, inputs, meta = load_builder(spec.source if kind == "zoo" else value)
    program = pockettorch.export(module, inputs, name=spec.name, metadata=meta,
                                 reference=bool(spec.export.get("reference")))
    program.save(path)  # atomic: a resumed run never trusts a half-written model
    return path
