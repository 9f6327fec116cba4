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

    import quant_variants

    _, scheme = quant_variants.split(model)
    if scheme == "int8":
        module = _quantize_static(module, inputs, quant_variants.calibration(model, inputs))
    elif scheme == "w4":
        _quantize_w4(module)
    ep = torch.export.export(module, inputs)
    program = to_edge_transform_and_lower(ep, partitioner=[XnnpackPartitioner()]).to_executorch()
    with open(path, "wb") as f:
        f.write(program.buffer)


def _quantize_static(module, inputs, batches):
    """ExecuTorch's int8 route: XNNPACKQuantizer (symmetric, per-channel weights) through torchao's PT2E."""
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (XNNPACKQuantizer,
                                                                          get_symmetric_quantization_config)
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(torch.export.export(module, inputs).module(), quantizer)
    for batch in batches:
        prepared(*batch)
    return convert_pt2e(prepared)


def _quantize_w4(module) -> None:
    """XNNPACK's int4 path for linears: torchao's Int8DynamicActivationIntxWeightConfig (int4 weights in groups of
    32; XNNPACK quantizes the activations to int8 per token at run time: it has no float-activation int4 GEMM)."""
    import torch
    from torchao.quantization import Int8DynamicActivationIntxWeightConfig, quantize_
    from torchao.quantization.granularity import PerGroup

    quantize_(module, Int8DynamicActivationIntxWeightConfig(weight_dtype=torch.int4, weight_granularity=PerGroup(32)))


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
