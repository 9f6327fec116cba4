"""Shared helpers of compare.py and measure_one.py: inputs and reference outputs on disk, memory, FLOPs, machine."""
from __future__ import annotations

import os
import pathlib
import platform
import resource
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_WORKDIR = HERE / ".work"
# Least time of the warm-up at a worker's start and of the re-warm opening each of its rounds (the run
# counts are --warmup and --rewarm): for models of a few microseconds the counts alone are too short.
WARMUP_S = 0.2
REWARM_S = 0.01


def model_dir(workdir, model: str) -> pathlib.Path:
    return pathlib.Path(workdir) / model


def ensure_inputs(model: str, workdir) -> None:
    """Write the model's seeded example inputs and eager's outputs on them as .npy (once per workdir)."""
    d = model_dir(workdir, model)
    if (d / "inputs_0.npy").exists() and (d / "reference_0.npy").exists():
        return
    import torch
    from torch.utils._pytree import tree_leaves

    import models

    module, inputs, _ = models.build(model)
    with torch.inference_mode():
        outs = tree_leaves(module(*inputs))
    d.mkdir(parents=True, exist_ok=True)
    for prefix, arrays in (("inputs", inputs), ("reference", outs)):
        for i, t in enumerate(arrays):
            np.save(d / f"{prefix}_{i}.npy", t.detach().numpy())


def load_arrays(model: str, workdir, prefix: str) -> list[np.ndarray]:
    d, arrays = model_dir(workdir, model), []
    while (d / f"{prefix}_{len(arrays)}.npy").exists():
        arrays.append(np.load(d / f"{prefix}_{len(arrays)}.npy"))
    return arrays


def max_abs_err(outputs, reference) -> float | str:
    outputs = [np.asarray(o) for o in outputs]
    if len(outputs) != len(reference):
        return f"{len(outputs)} outputs, eager has {len(reference)}"
    worst = 0.0
    for o, r in zip(outputs, reference):
        if o.shape != r.shape:
            return f"output shape {o.shape}, eager {r.shape}"
        worst = max(worst, float(np.max(np.abs(o.astype(np.float64) - r.astype(np.float64)))) if o.size else 0.0)
    return worst


def sqnr_db(outputs, reference) -> float | None:
    """Signal-to-quantization-noise ratio of the outputs against eager's, in dB over all output elements (the
    accuracy figure of quantized rows; float runtimes reach 100 dB or more). None when shapes differ."""
    outputs = [np.asarray(o, np.float64) for o in outputs]
    if len(outputs) != len(reference) or any(o.shape != r.shape for o, r in zip(outputs, reference)):
        return None
    signal = sum(float(np.sum(np.square(r.astype(np.float64)))) for r in reference)
    noise = sum(float(np.sum(np.square(o - r.astype(np.float64)))) for o, r in zip(outputs, reference))
    return float("inf") if noise == 0 else 10 * float(np.log10(signal / noise)) if signal > 0 else float("-inf")


def _status_kb(key: str) -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb() -> int:
    """Current resident set size of this process (KiB)."""
    return _status_kb("VmRSS")


def peak_rss_kb() -> int:
    """Peak resident set size of this process so far (KiB): VmHWM, else getrusage's ru_maxrss."""
    return _status_kb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def count_flops(model: str, inputs: tuple | None = None) -> int:
    """FLOPs of one eager forward (2 per multiply-add of matmuls and convolutions; elementwise ops not counted)
    on the zoo's example inputs, or on `inputs` (e.g. a smaller image).

    Counted with grad enabled and oneDNN off, so that the fused inference fast paths (nn.TransformerEncoderLayer's,
    oneDNN's LSTM) decompose into ops the FlopCounterMode sees."""
    import warnings

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    import models

    module, example, _ = models.build(model)
    inputs = example if inputs is None else inputs
    counter = FlopCounterMode(display=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mkldnn.flags warns about TF32 on Intel GPUs
        with torch.backends.mkldnn.flags(enabled=False), torch.enable_grad(), counter:
            module(*inputs)
    return int(counter.get_total_flops())


def measure_peak_gflops(n: int = 1024, seconds: float = 2.0) -> float:
    """Practical FMA peak of one core: the best of many single-threaded fp32 n x n torch.matmul within `seconds`.

    Best-of-many short runs, so that other load on the machine only lowers some of them."""
    import time

    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a, b = torch.randn(n, n), torch.randn(n, n)
        torch.matmul(a, b)
        best, end = float("inf"), time.perf_counter() + seconds
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            torch.matmul(a, b)
            best = min(best, time.perf_counter() - t0)
    finally:
        torch.set_num_threads(old)
    return 2.0 * n ** 3 / best / 1e9


def process_cpu_ns(pid: int) -> int | None:
    """CPU time of every thread of a process, in ns (Linux schedstat), or None where unavailable."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    total = 0
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that just exited
    return total


def wait_until_idle(pid: int, window_s: float = 0.005, busy_fraction: float = 0.05, limit_s: float = 0.5) -> float:
    """Wait until a worker's threads stop using CPU (a thread pool that spins after its runs would otherwise
    take a core from the next runtime timed); returns the seconds waited. Gives up after `limit_s`."""
    t0 = time.perf_counter()
    last = process_cpu_ns(pid)
    while last is not None and time.perf_counter() - t0 < limit_s:
        time.sleep(window_s)
        now = process_cpu_ns(pid)
        if now is None or now - last < busy_fraction * window_s * 1e9:
            break
        last = now
    return time.perf_counter() - t0


class OtherLoad:
    """Cores kept busy by processes other than this one and its children, between start and stop (Linux)."""

    def __init__(self):
        self.t0, self.busy0, self.own0 = time.perf_counter(), self._busy_s(), self._own_s()

    @staticmethod
    def _busy_s() -> float:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait

    @staticmethod
    def _own_s() -> float:
        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

    def cores(self) -> float | None:
        """Call after every child has been waited for (their CPU time is counted only then)."""
        try:
            wall = time.perf_counter() - self.t0
            return max(0.0, (self._busy_s() - self.busy0 - (self._own_s() - self.own0)) / wall)
        except (OSError, ValueError, IndexError):
            return None


def machine_info() -> dict:
    cpu = platform.processor() or "unknown"
    flags = set()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    isa = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "asimd") if f in flags]
    return {"cpu": cpu, "cores": os.cpu_count(), "isa": isa, "os": platform.platform(),
            "python": platform.python_version()}
