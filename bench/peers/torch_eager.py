"""PyTorch eager on CPU, the reference: the model's module with its state_dict loaded, under inference_mode."""
from __future__ import annotations

from peers import Runner

NAME, LABEL, EXT = "torch_eager", "PyTorch eager", ".pt"


def versions() -> dict:
    import torch

    return {"torch": torch.__version__}


def export(model, module, inputs, path) -> None:
    import torch

    import quant_variants

    _, scheme = quant_variants.split(model)
    if scheme:
        quant_variants.refuse(NAME, scheme, "eager runs the float model (the rows' accuracy reference)")

    torch.save(module.state_dict(), path)


class _Runner(Runner):
    def __init__(self, module, tensors):
        self.module, self.tensors = module, tensors

    def run(self):
        import torch
        from torch.utils._pytree import tree_leaves

        with torch.inference_mode():
            out = self.module(*self.tensors)
        return [t.numpy() for t in tree_leaves(out)]


def load(path, model, inputs, threads) -> Runner:
    import torch

    import models

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    module = models.factory(model)  # the weights come from the file
    module.load_state_dict(torch.load(path, weights_only=True), assign=True)
    r = _Runner(module, [torch.from_numpy(a) for a in inputs])
    r.notes = f"torch.set_num_threads({torch.get_num_threads()}), interop 1, inference_mode"
    return r
