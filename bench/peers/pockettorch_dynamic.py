"""PocketTorch with the model's sequence length dynamic (bench/models.py): one program exported for every length up
to the bound, run at the row's length. Beside the `pockettorch` column (a program exported for exactly that length)
it shows what being dynamic costs."""
from __future__ import annotations

from peers import pockettorch as fixed

NAME, LABEL, EXT = "pockettorch_dynamic", "PocketTorch, dynamic seq", ".ptm"
versions = fixed.versions


def export(model, module, inputs, path) -> None:
    import models
    import pockettorch

    shapes = models.dynamic_shapes(model)
    if shapes is None:
        raise ValueError(f"{model} declares no dynamic dims (bench/models.py)")
    pockettorch.export(module, inputs, name=model, dynamic_shapes=shapes).save(path)


def load(path, model, inputs, threads):
    runner = fixed.load(path, model, inputs, threads)
    import models

    runner.notes += f", seq dynamic 1..{models.SEQ_BOUND}"
    return runner
