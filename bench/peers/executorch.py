"""ExecuTorch with the XNNPACK delegate: torch.export -> to_edge_transform_and_lower(XnnpackPartitioner) -> .pte,
run by the executorch.runtime Python API. Threads: the pybindings' shared threadpool (_unsafe_reset_threadpool)."""
from __future__ import annotations

from importlib.metadata import version

from peers import Runner

NAME, LABEL, EXT = "executorch", "ExecuTorch+XNNPACK", ".pte"


def versions() -> dict:
    import executorch.runtime  # noqa: F401

    return {"executorch": version("executorch")}


def export(model, module, inputs, path) -> None:
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    ep = torch.export.export(module, inputs)
    program = to_edge_transform_and_lower(ep, partitioner=[XnnpackPartitioner()]).to_executorch()
    with open(path, "wb") as f:
        f.write(program.buffer)


class _Runner(Runner):
    def __init__(self, method, tensors):
        self.method, self.tensors = method, tensors

    def run(self):
        return [o.numpy() for o in self.method.execute(self.tensors)]


def load(path, model, inputs, threads) -> Runner:
    import torch
    from executorch.extension.pybindings import portable_lib
    from executorch.runtime import Runtime

    portable_lib._unsafe_reset_threadpool(threads)  # XNNPACK's pthreadpool; experimental API
    method = Runtime.get().load_program(path).load_method("forward")
    r = _Runner(method, [torch.from_numpy(a) for a in inputs])
    r.notes = f"threadpool={portable_lib._threadpool_get_thread_count()} (_unsafe_reset_threadpool)"
    return r
