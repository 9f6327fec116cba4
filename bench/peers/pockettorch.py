"""PocketTorch: the exporter writes a .ptm, the C runtime runs it through the Python binding (run_numpy)."""
from __future__ import annotations

from peers import Runner

NAME, LABEL, EXT = "pockettorch", "PocketTorch", ".ptm"


def versions() -> dict:
    import pockettorch
    import pockettorch.runtime  # noqa: F401  (the binding must import)

    return {"pockettorch": pockettorch.__version__}


def export(model, module, inputs, path) -> None:
    import pockettorch
    import quant_variants
    from pockettorch import quant

    base, scheme = quant_variants.split(model)
    scheme = {None: None, "int8": lambda: quant.int8(quant_variants.calibration(model, inputs)),
              "w4": lambda: quant.weight_only(bits=4, group_size=32)}[scheme]
    pockettorch.export(module, inputs, name=base, quantization=scheme and scheme()).save(path)


class _Runner(Runner):
    def __init__(self, m, inputs):
        self.m, self.inputs = m, list(inputs)
        self.notes = f"num_threads={m.num_threads}, isa={m.isa}"

    def run(self):
        return self.m.run_numpy(self.inputs)


def load(path, model, inputs, threads) -> Runner:
    import pockettorch

    return _Runner(pockettorch.load(path, num_threads=threads), inputs)
