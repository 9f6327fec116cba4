"""Every instruction's outputs from one run of a program: in this process through the binding's instruction hook,
or on a device (the host included) through the runner's `--dump` mode and the device backend's push/pull."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import tempfile

import numpy as np

from pockettorch.runtime import error_catalogue as errors

DUMP_SCHEMA = "pockettorch.dump/1"
DUMP_FILE = re.compile(r"i\d{5,}_o\d+\.npy")  # what the runner names them; nothing else is pulled


@dataclasses.dataclass
class Capture:
    where: str  # "this process" or the device's serial
    isa: str
    values: list[list[np.ndarray]]  # values[i][k]: output k of instruction i


@contextlib.contextmanager
def _isa_cap(isa: str | None):
    """PKT_MAX_ISA while a session is created (the runtime reads the cap then)."""
    if isa is None:
        yield
        return
    old = os.environ.get("PKT_MAX_ISA")
    os.environ["PKT_MAX_ISA"] = isa
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PKT_MAX_ISA", None)
        else:
            os.environ["PKT_MAX_ISA"] = old


def _check_isa(wanted: str | None, got: str, where: str) -> None:
    if wanted is not None and wanted != got:
        raise errors.NotSupportedError(f"{where} runs the {got} kernels; --isa {wanted} is not available there "
                                       f"(the ISA can only be capped below what the CPU has)")


def capture_local(program: bytes, inputs: list[np.ndarray], isa: str | None = None, threads: int = 1) -> Capture:
    """Run in this process with the binding's per-instruction capture."""
    from pockettorch.runtime import load

    with _isa_cap(isa):
        module = load(program, num_threads=threads)
    with module:
        _check_isa(isa, module.isa, "this machine")
        _, values = module.run_capture(inputs)
    return Capture("this process", module.isa, values)


def capture_on_device(device, model_path: str, inputs: list[np.ndarray], n_outputs: list[int], isa: str | None = None,
                      threads: int = 1, runner: str | None = None, env: dict[str, str] | None = None,
                      keep: bool = False, timeout: float = 600.0) -> Capture:
    """Push the runner, model and inputs, run `pkt_runner --dump` there and pull the dump. `n_outputs`: the
    program's output count per instruction, which the dump index must match. `runner`/`env`: another runner build
    and environment variables for it (the tests' fault-injection build)."""
    from pockettorch.device.bench import deploy

    if device.info().platform == "ios":
        raise errors.NotSupportedError(f"{device.serial}: iPhones run models in the benchmark app, which has no dump "
                                       f"mode; debug on the host or an Android device")
    paths = deploy(device, model_path, runner)
    remote_dump = f"{device.workdir}/debug-dump"
    try:
        with tempfile.TemporaryDirectory(prefix="pkt-debug-") as tmp:
            args = []
            for i, array in enumerate(inputs):
                local = os.path.join(tmp, f"input_{i}.npy")
                np.save(local, array)
                device.push(local, f"{device.workdir}/debug-input_{i}.npy")
                args += ["--input", f"{device.workdir}/debug-input_{i}.npy"]
            device.run(["rm", "-rf", remote_dump], timeout=30, check=False)
            variables = {**(env or {}), **({"PKT_MAX_ISA": isa} if isa else {})}
            prefix = ["env", *(f"{k}={v}" for k, v in sorted(variables.items()))] if variables else []
            device.run([*prefix, paths["runner"], paths["model"], "--iters", "1", "--warmup", "0", "--threads",
                        str(threads), "--dump", remote_dump, *args], timeout=timeout)
            local_index = os.path.join(tmp, "index.json")
            device.pull(f"{remote_dump}/index.json", local_index)
            files = _read_index(local_index, n_outputs, device.serial)
            values = []
            for outs in files["files"]:
                row = []
                for name, dtype, shape in outs:
                    local = os.path.join(tmp, name)
                    device.pull(f"{remote_dump}/{name}", local)
                    row.append(_load(local, dtype, shape, device.serial))
                    os.unlink(local)
                values.append(row)
    finally:
        if not keep:
            with contextlib.suppress(errors.PocketTorchError):
                device.cleanup()
    _check_isa(isa, files["isa"], device.serial)
    return Capture(device.serial, files["isa"], values)


def _bad(serial: str, what: str) -> errors.PocketTorchError:
    return errors.DeviceCommandFailedError(f"{serial}: the runner's dump is not usable: {what}", serial=serial)


def _read_index(path: str, n_outputs: list[int], serial: str) -> dict:
    """The dump index (RUN_JSON.md), checked against the program: {"isa", "files": [[(file, dtype, shape)]]}."""
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
        if index.get("schema") != DUMP_SCHEMA or not isinstance(index.get("isa"), str):
            raise ValueError(f"schema {index.get('schema')!r}, expected {DUMP_SCHEMA}")
        rows = index["instructions"]
        if not isinstance(rows, list) or len(rows) != len(n_outputs):
            raise ValueError(f"{len(rows) if isinstance(rows, list) else 'no'} instructions, the program has "
                             f"{len(n_outputs)}")
        files = []
        for i, (row, count) in enumerate(zip(rows, n_outputs)):
            outs = row["outputs"]
            if row.get("index") != i or not isinstance(outs, list) or len(outs) != count:
                raise ValueError(f"instruction {i} does not match the program")
            entries = []
            for o in outs:
                name, dtype, shape = o["file"], o["dtype"], o["shape"]
                if not isinstance(name, str) or not DUMP_FILE.fullmatch(name):
                    raise ValueError(f"unexpected file name {name!r}")
                if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
                    raise ValueError(f"bad shape {shape!r}")
                entries.append((name, np.dtype(dtype), tuple(shape)))
            files.append(entries)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _bad(serial, f"index.json: {exc}") from None
    return {"isa": index["isa"], "files": files}


def _load(path: str, dtype: np.dtype, shape: tuple, serial: str) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise _bad(serial, f"{os.path.basename(path)}: {exc}") from None
    if array.dtype != dtype or array.shape != shape:
        raise _bad(serial, f"{os.path.basename(path)} holds {array.dtype}{list(array.shape)}, the index says "
                           f"{dtype}{list(shape)}")
    return array
