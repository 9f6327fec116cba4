"""pockettorch.debug(model, inputs): export, run capturing every instruction's outputs, replay the graph eagerly,
compare instruction by instruction."""
from __future__ import annotations

import os
import tempfile


from pockettorch.debugger.capture import capture_local, capture_on_device
from pockettorch.debugger.compare import DEFAULT_TOL, compare, debug_info
from pockettorch.debugger.eager import eager_values, node_info
from pockettorch.debugger.report import DebugReport
from pockettorch.runtime import error_catalogue as errors


def _device(device, adb_server: str | None):
    if device is None or not isinstance(device, str):
        return device
    from pockettorch.device.cli import find_device

    return find_device(device, adb_server)


def debug(model, example_inputs, device=None, isa: str | None = None, threads: int = 1, tol: float = DEFAULT_TOL,
          name: str | None = None, adb_server: str | None = None, runner: str | None = None,
          env: dict[str, str] | None = None, keep: bool = False) -> DebugReport:
    """Find where the C runtime's numbers leave eager PyTorch's for `model` on `example_inputs`.

    device: None runs in this process (the binding's capture); a serial ('host' or an adb serial) or a Device runs
    the runner's dump mode there. isa caps the kernels (portable, avx2, ...; PKT_MAX_ISA). runner and env: another
    runner build and environment variables for it on the device (the tests' fault-injection build)."""
    import torch
    from torch.utils import _pytree as pytree

    from pockettorch.exporter import export
    from pockettorch.exporter.capture import _as_tensor_args
    from pockettorch.runtime import load

    if device is None and (runner is not None or env):
        raise errors.InvalidArgumentError("runner and env are for runs on a device (device='host' or a serial)")
    program = export(model, example_inputs, name=name)
    data = program.to_bytes()
    with load(data) as loaded:  # what the runtime reads from the file: instructions, outputs, the debug record
        instructions = loaded.instructions()
        n_outputs = [len(outs) for outs in loaded.instruction_outputs()]
        record = debug_info(loaded.metadata, n_outputs)
        input_dtypes = [s.numpy_dtype for s in loaded.input_specs]
    leaves = [t for t in pytree.tree_leaves(_as_tensor_args(example_inputs)) if isinstance(t, torch.Tensor)]
    inputs = [t.detach().cpu().numpy().astype(d, copy=False) for t, d in zip(leaves, input_dtypes)]
    device = _device(device, adb_server)
    if device is None:
        captured = capture_local(data, inputs, isa=isa, threads=threads)
    else:
        with tempfile.TemporaryDirectory(prefix="pkt-debug-") as tmp:
            path = os.path.join(tmp, "model.ptm")  # the model's name may not make a file name
            program.save(path)
            captured = capture_on_device(device, path, inputs, n_outputs, isa=isa, threads=threads, runner=runner,
                                         env=env, keep=keep)
    eager = eager_values(program.exported, leaves)
    rows = compare(instructions, record, captured.values, eager, node_info(program.exported), tol)
    return DebugReport(program.name, captured.where, captured.isa, tol, rows)


__all__ = ["debug", "DebugReport"]
