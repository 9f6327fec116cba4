"""`pockettorch inspect`, `run` and `size`: look inside a .ptm, time it on the host's C runtime, measure the runtime
it needs on a device ABI."""
from __future__ import annotations

import json
import pathlib
import time
from collections import Counter
from typing import TYPE_CHECKING

import click

from pockettorch.runtime.stats import RUN_SCHEMA, latency_stats

if TYPE_CHECKING:
    import numpy as np


def _load(path: str, threads: int, backend: str | None = None):
    """backend: None, each delegate's own backend when it can run (else its fallback); "cpu": every fallback; a
    name: only that backend, and its delegates must run on it."""
    from pockettorch.runtime import load  # the binding and numpy: only once a command runs

    if backend is None:
        return load(path, num_threads=threads)
    return load(path, num_threads=threads, backends=[] if backend == "cpu" else [backend],
                strict_backends=backend != "cpu")


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def describe(path: str) -> dict:
    """Everything `inspect` shows, as a dict."""
    from pockettorch.runtime.ptm_info import read_layout, read_reference

    module = _load(path, 1)  # the C loader checks the file before the readers below look at it
    data = pathlib.Path(path).read_bytes()
    layout = read_layout(data)
    reference = read_reference(data)
    hist = Counter(op for op, _ in module.instructions())
    plan = module.metadata.get("plan", {})
    return {
        "name": module.name,
        "format": layout["format"],
        "file_bytes": layout["file_bytes"],
        "constants_bytes": layout["sections"].get("constants", 0),
        "arena_bytes": module.arena_bytes,
        "naive_bytes": plan.get("naive_bytes"),
        "lower_bound_bytes": plan.get("lower_bound_bytes"),
        "instructions": sum(hist.values()),
        "ops": dict(hist.most_common()),
        "inputs": [s._asdict() for s in module.input_specs],
        "outputs": [s._asdict() for s in module.output_specs],
        "delegation": module.metadata.get("delegation"),
        "delegates": module.delegates,
        "user_metadata": module.metadata.get("user", {}),
        "exporter": module.metadata.get("exporter", {}),
        "source": module.source,
        "quantization": module.metadata.get("quantization"),
        "dtypes": dict(Counter(spec.dtype for specs in module.instruction_outputs() for spec in specs).most_common()),
        "reference": None if reference is None else {
            "section_bytes": layout["sections"]["reference"],
            "inputs": [_array_info(a) for a in reference.inputs],
            "outputs": [_array_info(a) for a in reference.outputs]},
    }


def _array_info(array) -> dict:
    return {"dtype": array.dtype.name, "shape": list(array.shape), "bytes": array.nbytes}


@click.command("inspect")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def inspect_command(model, as_json):
    """Show a .ptm's inputs, outputs, op histogram, sizes, stored reference and format version."""
    from pockettorch.runtime import provenance
    from pockettorch.runtime.run_outputs import printable

    info = describe(model)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"{info['name']}  (format {info['format']}, {_human(info['file_bytes'])}, "
               f"exported with torch {info['exporter'].get('torch', '?')})")
    click.echo(f"source: {provenance.describe(info['source'])}")
    for kind in ("inputs", "outputs"):
        click.echo(f"{kind}:")
        for s in info[kind]:
            click.echo(f"  {printable(s['name']):<20} {s['dtype']:<8} {list(s['shape'])}")
    click.echo(f"instructions: {info['instructions']}")
    click.echo(f"quantization: {printable(str(info['quantization'] or 'none'))}; instruction outputs by dtype: "
               + ", ".join(f"{d} {k}" for d, k in info["dtypes"].items()))
    for op, n in info["ops"].items():
        click.echo(f"  {op:<20} {n}")
    click.echo(f"constants: {_human(info['constants_bytes'])}")
    arena = f"arena: {_human(info['arena_bytes'])} planned"
    if info["naive_bytes"]:
        saved = 100.0 * (1 - info["arena_bytes"] / info["naive_bytes"])
        arena += f" (naive sum {_human(info['naive_bytes'])}, {saved:.0f}% saved; "
        arena += f"lower bound {_human(info['lower_bound_bytes'])})"
    click.echo(arena)
    _echo_delegation(info)
    ref = info["reference"]
    if ref:
        tensors = ref["inputs"] + ref["outputs"]
        click.echo(f"reference: {len(ref['inputs'])} input(s), {len(ref['outputs'])} output(s), "
                   f"{_human(sum(t['bytes'] for t in tensors))} of tensors "
                   f"({_human(ref['section_bytes'])} section; left out of SDKs unless --with-reference)")
    else:
        click.echo("reference: none (export with --reference to store inputs and outputs for `verify`)")
    if info["user_metadata"]:
        click.echo("metadata keys: " + ", ".join(printable(k) for k in sorted(info["user_metadata"])))


def _echo_delegation(info: dict) -> None:
    """The partition the exporter made (ops per backend, partitions, transfers) and where each delegate runs here."""
    from pockettorch.runtime.ptm_info import delegation_summary
    from pockettorch.runtime.run_outputs import printable

    if info["delegation"]:
        click.echo(delegation_summary(info["delegation"]).strip())
    stored = (info["delegation"] or {}).get("delegates", [])
    for k, d in enumerate(info["delegates"]):
        ops = f", {stored[k]['ops']} ops" if k < len(stored) else ""
        where = f"runs on {d['device']} ({d['driver']})" if d["active"] else f"inactive here ({d['reason']})"
        click.echo(printable(f"delegate {k}: {d['backend']}{ops}, {where}"))


def make_inputs(module, files: tuple[str, ...], seed: int = 0) -> list[np.ndarray]:
    """Inputs from .npy files (checked by the runtime), else deterministic random data of the right dtypes."""
    import numpy as np

    if files:
        if len(files) != len(module.input_specs):
            raise click.BadParameter(f"the model takes {len(module.input_specs)} input(s), {len(files)} --input given",
                                     param_hint="--input")
        arrays = []
        for f in files:
            try:
                arrays.append(np.load(f, allow_pickle=False))
            except (OSError, ValueError) as exc:
                raise click.BadParameter(f"cannot read {f} as .npy: {exc}", param_hint="--input") from None
        return arrays
    rng = np.random.default_rng(seed)
    arrays = []
    for spec in module.input_specs:
        dt = spec.numpy_dtype
        shape = tuple(spec.ranges[d][2] if n is None else n for d, n in enumerate(spec.shape))  # dynamic: the max
        if dt.kind == "f":
            arrays.append(rng.uniform(-1, 1, shape).astype(dt))
        elif dt.kind == "b":
            arrays.append(rng.integers(0, 2, shape).astype(dt))
        else:
            arrays.append(rng.integers(0, 10, shape).astype(dt))  # small ids stay inside embeddings
    return arrays


def measure(path: str, inputs_from: tuple[str, ...], iters: int, warmup: int, threads: int,
            profile: bool = False, backend: str | None = None) -> tuple[dict, list[tuple[str, np.ndarray]]]:
    """The run's results (`pockettorch.run/1`) and the (name, array) outputs of its first inference."""
    t0 = time.perf_counter()
    module = _load(path, threads, backend)
    load_ms = (time.perf_counter() - t0) * 1e3
    inputs = make_inputs(module, inputs_from)
    t0 = time.perf_counter()
    outputs = module.run_numpy(inputs)
    first_ms = (time.perf_counter() - t0) * 1e3
    for _ in range(warmup):
        module.run_numpy(inputs)
    samples = []
    for _ in range(iters):
        t0 = time.perf_counter()
        module.run_numpy(inputs)
        samples.append((time.perf_counter() - t0) * 1e3)
    result = {
        "schema": RUN_SCHEMA, "model": module.name, "runtime": "python", "threads": module.num_threads,
        "iters": iters, "warmup": warmup, "load_ms": load_ms, "first_inference_ms": first_ms,
        "latency_ms": latency_stats(samples), "arena_bytes": module.arena_bytes,
        "packed_bytes": module.packed_bytes, "isa": module.isa, "delegates": module.delegates,
    }
    if profile:
        module.set_profiling(True)
        module.run_numpy(inputs)
        times = module.profile_ns()
        module.set_profiling(False)
        per_op: dict[str, list[float]] = {}
        for op, ns in _profile_slices(module, times):
            per_op.setdefault(op, []).append(ns / 1e6)
        total = sum(sum(v) for v in per_op.values()) or 1.0
        result["ops"] = sorted(({"op": op, "calls": len(v), "total_ms": sum(v), "avg_ms": sum(v) / len(v),
                                 "share": sum(v) / total} for op, v in per_op.items()),
                               key=lambda r: -r["total_ms"])
    return result, list(zip((s.name for s in module.output_specs), outputs))


def _profile_slices(module, times: list[int]) -> list[tuple[str, int]]:
    """(op, ns) per instruction that ran: a delegate that ran on its backend is one slice, "delegate:<backend>",
    and its fallback instructions (which did not run) are left out."""
    skipped, names = set(), {}
    for d in module.delegates:
        if d["active"]:
            skipped.update(range(d["instruction"] + 1, d["instruction"] + 1 + d["fallback"]))
            names[d["instruction"]] = f"delegate:{d['backend']}"
    return [(names.get(i, op), ns) for i, ((op, _), ns) in enumerate(zip(module.instructions(), times))
            if i not in skipped]


@click.command("run")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("--iters", default=50, show_default=True, type=click.IntRange(1), help="Measured iterations.")
@click.option("--warmup", default=5, show_default=True, type=click.IntRange(0), help="Unmeasured iterations first.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(0), help="Threads (0: one per core).")
@click.option("--input", "inputs", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="An .npy file per model input, in order (default: seeded random data).")
@click.option("--profile", is_flag=True, help="Also time each op once.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, writable=True), help="Write the results as JSON.")
@click.option("--output", "output_dir", type=click.Path(file_okay=False),
              help="Folder to write each output to, as <output name>.npy (created when missing).")
@click.option("--backend", metavar="NAME",
              help="Run delegates on backend NAME only and fail unless they do (e.g. vulkan); 'cpu': every "
                   "delegate's CPU fallback. Default: each delegate's backend when this runtime has it, else the CPU.")
def run_command(model, iters, warmup, threads, inputs, profile, json_path, output_dir, backend):
    """Run a .ptm on the host's C runtime, report latency statistics and summarise (or save) the outputs."""
    from pockettorch.runtime import run_outputs

    r, outputs = measure(model, inputs, iters, warmup, threads, profile, backend)
    lat = r["latency_ms"]
    click.echo(f"{r['model']}: {r['threads']} thread(s), {r['isa']}, {iters} iterations after {warmup} warm-up")
    for k, d in enumerate(r["delegates"]):
        where = f"{d['device']} ({d['driver']})" if d["active"] else f"the CPU: {d['reason']}"
        click.echo(run_outputs.printable(f"  delegate {k} ({d['backend']}) runs on {where}"))
    click.echo(f"  load {r['load_ms']:.2f} ms, first inference {r['first_inference_ms']:.3f} ms")
    click.echo("  latency ms: " + "  ".join(f"{k} {lat[k]:.3f}" for k in ("min", "median", "p90", "p99", "mean", "std")))
    for row in r.get("ops", [])[:15]:
        click.echo(f"  {row['op']:<18} x{row['calls']:<4} {row['total_ms']:8.3f} ms {100 * row['share']:5.1f}%")
    click.echo("outputs:")
    for name, array in outputs:
        click.echo("  " + run_outputs.summary(name, array))
    if output_dir:
        for path in run_outputs.save(output_dir, outputs):
            click.echo(f"  wrote {run_outputs.printable(path)}")
    if json_path:
        pathlib.Path(json_path).write_text(json.dumps(r, indent=2) + "\n")
        click.echo(f"  wrote {json_path}")


@click.command("size")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("--abi", type=click.Choice(["arm64-v8a", "armeabi-v7a", "x86_64"]), default="arm64-v8a",
              show_default=True, help="Device ABI (arm: zig cc; x86_64: the host C compiler).")
@click.option("--opt", type=click.Choice(["Os", "O3"]), default="Os", show_default=True,
              help="Optimization level the runtime is compiled with.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def size_command(model, abi, opt, as_json):
    """Stripped size of the runtime core and of MODEL's selective build (its kernels and their compute groups)."""
    from pockettorch.runtime.size import model_report

    report = model_report(model, abi, opt)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"{report['model']} ({report['file']}) for {report['abi']}, {report['opt']}: {report['compiler']}")
    rows = [("core (load, session, platform, kernel table, reshape)", report["core_bytes"]),
            (f"selective build ({len(report['kernels'])} kernels)", report["selective_build_bytes"])]
    rows += [(f"  {p['part']}", p["bytes"]) for p in report["parts"]]
    width = max(len(name) for name, _ in rows)
    click.echo(f"{'':{width}}  {'bytes':>9}")
    for name, nbytes in rows:
        click.echo(f"{name:{width}}  {nbytes:>9,}")
    click.echo(f"\nMeasured: {report['method']}")


COMMANDS = [inspect_command, run_command, size_command]
