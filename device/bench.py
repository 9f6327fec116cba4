"""Deploy a model and the runner to a device, benchmark it there, verify it against stored references."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import time
from typing import Any

import numpy as np

from pockettorch.device.base import Device
from pockettorch.device.power import PowerSampler
from pockettorch.device.runners import runner_for
from pockettorch.runtime import error_catalogue as errors

BENCH_SCHEMA = "pockettorch.bench/1"
HOT_CELSIUS = 45.0  # a run that starts above this is flagged: its numbers are likely throttled


@dataclasses.dataclass
class BenchOptions:
    iters: int = 100
    warmup: int = 10
    threads: int = 1
    cpus: str | None = None  # taskset list, e.g. "4-7"
    cooldown: float = 0.0  # seconds to rest before measuring
    profile_ops: bool = False
    power: bool = False
    keep: bool = False
    timeout: float = 600.0
    backend: str | None = None  # delegates on this backend only, and they must run there ("cpu": every fallback)


def _sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def deploy(device: Device, model: str | os.PathLike, runner: str | os.PathLike | None = None,
           backend: str | None = None) -> dict[str, Any]:
    """Push the runner and the model unless identical files are already there (by sha256).

    The model is checked by the C loader first, so a bad file fails at once, before a runner is built or pushed."""
    from pockettorch.runtime import load

    load(model)
    if device.info().platform == "ios":  # no runner binary on an iPhone: the benchmark app runs the model
        return device.deploy(str(model), _sha256(model))
    if runner is None:
        runner = runner_for(device.info(), backend)
    pushed, skipped = [], []
    remote = {}
    for kind, local in (("runner", runner), ("model", model)):
        digest = _sha256(local)
        # content-addressed names: a changed model never reuses a stale file, any user file name is safe
        name = "pkt_runner" if kind == "runner" else f"model-{digest[:16]}.ptm"
        target = f"{device.workdir}/{name}"
        if device.file_hash(target) == digest:
            skipped.append(target)
        else:
            device.push(str(local), target)
            pushed.append(target)
        remote[kind] = target
    device.run(["chmod", "755", remote["runner"]], timeout=30)
    return {"runner": remote["runner"], "model": remote["model"], "pushed": pushed, "skipped": skipped}


def _runner_argv(paths: dict, options: BenchOptions, iters: int, warmup: int, flags: list[str]) -> list[str]:
    argv = [paths["runner"], paths["model"], "--iters", str(iters), "--warmup", str(warmup),
            "--threads", str(options.threads)] + flags
    if options.backend:
        argv += ["--backend", options.backend]
    if options.cpus:
        argv = ["taskset", "-c", options.cpus] + argv
    return argv


def _timed_argv(paths: dict, options: BenchOptions) -> list[str]:
    """The measured runs: never profiled (two clock reads per op would be in every latency)."""
    return _runner_argv(paths, options, options.iters, options.warmup, ["--samples", "--progress"])


def _profile_once(device: Device, paths: dict, options: BenchOptions) -> dict[str, Any]:
    """Per-op times from one extra profiled inference after the timed ones (`ops`, `instructions`); the runner
    makes one untimed first run, then the profiled one, so the profile is of a warm session."""
    run = device.run(_runner_argv(paths, options, 1, 0, ["--profile"]), timeout=options.timeout)
    profile = json.loads(run.stdout)
    return {"ops": profile["ops"], "instructions": profile["instructions"]}


def _trimmed_mean(samples: list[float], fraction: float = 0.1) -> float | None:
    if not samples:
        return None
    xs = sorted(samples)
    k = int(len(xs) * fraction)
    kept = xs[k:len(xs) - k] or xs
    return sum(kept) / len(kept)


def _measured_so_far(exc: Exception) -> list[float]:
    """The latencies the runner reported (--progress) before the run was cut short."""
    text = getattr(exc, "stderr", "") or ""
    return [float(parts[2]) for parts in (line.split() for line in text.splitlines())
            if len(parts) == 3 and parts[0] == "pkt-sample"]


def _flags(before: dict, after: dict) -> list[str]:
    flags = []
    if (before.get("temp_c") or 0) >= HOT_CELSIUS:
        flags.append(f"started hot ({before['temp_c']:.0f} C >= {HOT_CELSIUS:.0f} C)")
    fb, fa = before.get("cpu_freq_khz") or {}, after.get("cpu_freq_khz") or {}
    dropped = [c for c in fb if c in fa and fb[c] and fa[c] < 0.9 * fb[c]]
    if dropped or (after.get("thermal_status") or 0) > (before.get("thermal_status") or 0):
        flags.append("throttled during the run (CPU frequency or thermal status changed)")
    return flags


def backend_summary(delegates: list[dict]) -> dict[str, Any]:
    """What the run ran on: the backend, device and driver of its delegates that ran, else the CPU."""
    active = [d for d in delegates if d.get("active")]
    if not active:
        return {"name": "cpu", "device": "", "driver": "", "delegates": len(delegates), "active": 0}
    d = active[0]
    return {"name": d["backend"], "device": d["device"], "driver": d["driver"], "delegates": len(delegates),
            "active": len(active)}


def bench(device: Device, model: str | os.PathLike, options: BenchOptions) -> dict[str, Any]:
    """Run the model on the device and return the result (schema pockettorch.bench/1, docs/bench_result.md).

    A device lost mid-run raises, but the error carries what was measured so far (`partial`)."""
    info = device.info()
    result: dict[str, Any] = {"schema": BENCH_SCHEMA, "device": info.as_dict(), "options": dataclasses.asdict(options),
                              "model_file": os.path.basename(str(model)), "model_sha256": _sha256(model)}
    try:
        result["deploy"] = deploy(device, model, backend=options.backend)
        result["state_before"] = device.state()
        if options.cooldown > 0:
            time.sleep(options.cooldown)
            result["state_before"] = device.state()
        sampler = PowerSampler(device) if options.power else None
        if sampler:
            sampler.start()
        t0 = time.monotonic()
        try:
            run = device.run(_timed_argv(result["deploy"], options), timeout=options.timeout)
        finally:
            if sampler:
                sampler.stop()
        window = time.monotonic() - t0
        runner = json.loads(run.stdout)
        runner.pop("schema", None)  # pockettorch.run/1 fields, inside a pockettorch.bench/1 result
        result.update(runner)
        result["backend"] = backend_summary(runner.get("delegates") or [])
        result["state_after"] = device.state()
        if options.profile_ops and info.platform != "ios":  # the iOS benchmark app has no per-op profile
            result.update(_profile_once(device, result["deploy"], options))
        result["latency_ms"]["trimmed_mean"] = _trimmed_mean(runner.get("samples_ms") or [])
        result["flags"] = _flags(result["state_before"], result["state_after"])
        if sampler:
            measured = (runner.get("latency_ms", {}).get("mean") or 0) * options.iters / 1e3
            result["power"] = sampler.summary(measured or window, options.iters,
                                              result["state_before"].get("charging"))
        else:
            result["power"] = {"available": False, "reason": "not requested (use --power)"}
    except errors.PocketTorchError as exc:
        samples = _measured_so_far(exc)
        if samples:
            from pockettorch.runtime.stats import latency_stats

            result.update(samples_ms=samples, iterations_completed=len(samples),
                          latency_ms=dict(latency_stats(samples), trimmed_mean=_trimmed_mean(samples)))
        exc.partial = result
        raise
    except ValueError as exc:
        raise errors.DeviceCommandFailedError(f"the runner printed no JSON result: {exc}", serial=info.serial,
                                              partial=result) from None
    finally:
        if not options.keep:
            try:
                device.cleanup()
            except errors.PocketTorchError:
                pass  # the device may be gone; nothing left to clean
    return result


def compare_output(got: np.ndarray, want: np.ndarray, tol: float) -> tuple[bool, float, float]:
    """(pass, worst absolute error, largest reference magnitude), as the tests compare with eager: NaN must be where
    the reference has NaN, infinities equal, the finite rest within tol x the largest finite reference value."""
    if got.shape != want.shape or got.dtype != want.dtype:
        return False, float("inf"), 0.0
    if want.dtype.kind != "f":
        worst = float(np.abs(got.astype(np.float64) - want.astype(np.float64)).max()) if want.size else 0.0
        return worst == 0.0, worst, 1.0
    nan = np.isnan(want)
    if not np.array_equal(nan, np.isnan(got)):
        return False, float("nan"), 0.0
    inf = np.isinf(want)
    if not np.array_equal(got[inf], want[inf]):
        return False, float("inf"), 0.0
    finite = ~(nan | inf)
    if not finite.any():
        return True, 0.0, 0.0
    scale = float(np.abs(want[finite]).max())
    worst = float(np.abs(got[finite].astype(np.float64) - want[finite]).max())
    return bool(worst <= tol * max(scale, 1e-6)), worst, scale


def verify(device: Device, model: str | os.PathLike, tol: float = 1e-4, keep: bool = False) -> dict[str, Any]:
    """Run the reference inputs stored at export on the device; per output pass/fail and worst error."""
    from pockettorch.runtime import load
    from pockettorch.runtime.ptm_info import read_reference

    with open(model, "rb") as f:
        data = f.read()
    meta = load(data).metadata  # checked by the C loader before the reference is read
    reference = read_reference(data)
    if reference is None:
        raise errors.InvalidArgumentError(f"{model} has no reference data; export it with --reference")
    paths = deploy(device, model)
    with tempfile.TemporaryDirectory(prefix="pkt-verify-") as tmp:
        args, remote_out = [], f"{device.workdir}/verify-out"
        for i, array in enumerate(reference.inputs):
            local = os.path.join(tmp, f"input_{i}.npy")
            np.save(local, array)
            device.push(local, f"{device.workdir}/input_{i}.npy")
            args += ["--input", f"{device.workdir}/input_{i}.npy"]
        device.run(["mkdir", "-p", remote_out], timeout=30)
        device.run([paths["runner"], paths["model"], "--iters", "1", "--warmup", "0", "--output-dir", remote_out] + args,
                   timeout=600)
        outputs = []
        for i, want in enumerate(reference.outputs):
            local = os.path.join(tmp, f"output_{i}.npy")
            device.pull(f"{remote_out}/output_{i}.npy", local)
            ok, worst, scale = compare_output(np.load(local), want, tol)
            outputs.append({"index": i, "name": meta["outputs"][i]["name"], "pass": ok, "max_abs_error": worst,
                            "max_abs_reference": scale})
    if not keep:
        device.cleanup()
    return {"schema": "pockettorch.verify/1", "device": device.info().as_dict(), "model": meta.get("name"),
            "tolerance": tol, "pass": all(o["pass"] for o in outputs), "outputs": outputs}
