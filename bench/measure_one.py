"""Measure one runtime on one zoo model in this (fresh) process and print JSON.

    python bench/measure_one.py --runtime ort --model mlp --threads 1 [--iters 50] [--warmup 5]
    python bench/measure_one.py --runtime ort --model mlp --export        # only write the artifact
    python bench/measure_one.py --runtime ort --model mlp --threads 1 --serve
    python bench/measure_one.py --runtime pockettorch --model onnx-net --onnx net.onnx --export

The default mode exports the artifact in a child process if it is missing (so this process's load time and
peak RSS never include an export), loads it, checks the outputs against eager, times --iters runs after
--warmup and prints one JSON object. --serve is what compare.py uses to interleave runtimes: after loading it
prints a JSON line, then answers `warmup N`, `run N [W]` and `quit` lines on stdin with one JSON line each.
Library chatter written to stdout is moved to stderr, so stdout carries only the JSON.
A failure is a JSON object {"status": "failed"|"missing", "reason": ...} and exit status 1 (missing: 3).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import peers  # noqa: E402

_out = sys.stdout


def _private_stdout() -> None:
    """Keep the real stdout for JSON only; everything else (C libraries included) goes to stderr."""
    global _out
    sys.stdout.flush()
    _out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr


def emit(obj: dict) -> None:
    _out.write(json.dumps(obj) + "\n")
    _out.flush()


def reason_of(exc: BaseException) -> str:
    """One line: the exception's own message (PocketTorch's say 'unsupported op ...') with its type."""
    msg = str(exc).strip().splitlines()
    first = msg[0] if msg else ""
    kind = "unsupported op" if type(exc).__name__ == "UnsupportedOpError" else type(exc).__name__
    return f"{kind}: {first}"[:500]


def cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def check_installed(name: str) -> dict:
    """The adapter's package versions; raises ImportError (reported as 'missing') if the peer is not installed."""
    return peers.adapter(name).versions()


def do_export(args) -> dict:
    check_installed(args.runtime)
    if args.onnx:  # an ONNX file: PocketTorch imports it, ONNX Runtime runs it as it is
        import onnx_input

        path = peers.artifact_path(args.workdir, args.model, args.runtime)
        path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        tmp = path.with_name(path.name + ".tmp" + path.suffix)
        onnx_input.export(args.onnx, args.runtime, str(tmp))
        os.replace(tmp, path)
        return {"status": "ok", "export_s": time.perf_counter() - t0, "file_bytes": path.stat().st_size}
    import torch  # noqa: F401

    import models

    common.ensure_inputs(args.model, args.workdir)
    path = peers.artifact_path(args.workdir, args.model, args.runtime)
    path.parent.mkdir(parents=True, exist_ok=True)
    module, inputs, _ = models.build(args.model)
    t0 = time.perf_counter()
    tmp = path.with_name(path.name + ".tmp" + path.suffix)
    peers.adapter(args.runtime).export(args.model, module, inputs, str(tmp))
    os.replace(tmp, path)
    return {"status": "ok", "export_s": time.perf_counter() - t0, "file_bytes": path.stat().st_size}


def open_runner(args):
    """Load the artifact in this process; returns (runner, info) with load time, RSS and the output check."""
    versions = check_installed(args.runtime)
    path = peers.artifact_path(args.workdir, args.model, args.runtime)
    inputs = common.load_arrays(args.model, args.workdir, "inputs")
    reference = common.load_arrays(args.model, args.workdir, "reference")
    rss_before = common.rss_kb()
    t0 = time.perf_counter()
    runner = peers.adapter(args.runtime).load(str(path), args.model, inputs, args.threads)
    load_ms = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    outputs = runner.run()
    first_ms = (time.perf_counter() - t0) * 1e3
    info = {"status": "ok", "runtime": args.runtime, "model": args.model, "threads": args.threads,
            "versions": versions, "notes": runner.notes, "file_bytes": path.stat().st_size,
            "load_ms": load_ms, "first_inference_ms": first_ms, "rss_before_load_kb": rss_before,
            "rss_after_load_kb": common.rss_kb(), "max_abs_err": common.max_abs_err(outputs, reference),
            "sqnr_db": common.sqnr_db(outputs, reference)}
    return runner, info


def time_runs(runner, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        runner.run()
        samples.append((time.perf_counter() - t0) * 1e3)
    return samples


def warm(runner, n: int, seconds: float) -> None:
    """At least n runs and at least `seconds` of running: a thread pool that sat idle takes a few
    milliseconds of work to be scheduled as fast again, which a few runs of a 0.05 ms model do not give it."""
    t0 = time.perf_counter()
    done = 0
    while done < n or (n > 0 and time.perf_counter() - t0 < seconds):
        runner.run()
        done += 1


def serve(runner) -> None:
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "warmup":
            warm(runner, int(arg), common.WARMUP_S)
            emit({"cpu_s": cpu_s()})
        elif cmd == "run":  # run N [W]: W untimed runs first (caches are cold after another process ran)
            n, _, w = arg.partition(" ")
            before = cpu_s()
            warm(runner, int(w or 0), common.REWARM_S)
            emit({"samples_ms": time_runs(runner, int(n)), "cpu_before_s": before, "cpu_s": cpu_s()})
        elif cmd == "quit":
            emit({"peak_rss_kb": common.peak_rss_kb()})
            return
        else:
            emit({"status": "failed", "reason": f"unknown command {line.strip()!r}"})


def ensure_artifact(args) -> None:
    if peers.artifact_path(args.workdir, args.model, args.runtime).exists() and \
            common.load_arrays(args.model, args.workdir, "reference"):
        return
    cmd = [sys.executable, os.path.abspath(__file__), "--runtime", args.runtime, "--model", args.model,
           "--workdir", str(args.workdir), "--export"]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else {
        "status": "failed", "reason": f"export exited with status {proc.returncode}"}
    if result.get("status") != "ok":
        raise _Reported(result)


class _Reported(Exception):
    def __init__(self, result: dict):
        super().__init__(result.get("reason"))
        self.result = result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runtime", required=True, choices=peers.ORDER)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--workdir", default=str(common.DEFAULT_WORKDIR))
    ap.add_argument("--onnx", help="with --export: the ONNX file --model stands for (compare.py --onnx)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--export", action="store_true", help="only export the artifact")
    mode.add_argument("--serve", action="store_true", help="load, then answer warmup/run/quit on stdin")
    args = ap.parse_args(argv)
    _private_stdout()
    try:
        if args.export:
            emit(do_export(args))
            return 0
        if not args.serve:
            ensure_artifact(args)  # in a child: this process stays free of torch unless the runtime needs it
        runner, info = open_runner(args)
        if args.serve:
            emit(info)
            serve(runner)
            return 0
        time_runs(runner, args.warmup)
        samples = time_runs(runner, args.iters)
        from pockettorch.runtime.stats import latency_stats

        info.update(iters=args.iters, warmup=args.warmup, latency_ms=latency_stats(samples),
                    peak_rss_kb=common.peak_rss_kb())
        emit(info)
        return 0
    except _Reported as exc:
        emit(exc.result)
        return 1
    except ImportError as exc:
        emit({"status": "missing", "reason": f"not installed ({reason_of(exc)}); pip install '.[bench]'"})
        return 3
    except Exception as exc:  # noqa: BLE001  -- any peer failure is reported, never raised
        traceback.print_exc()
        emit({"status": "failed", "reason": f"{args.runtime}: {reason_of(exc)}"})
        return 1


if __name__ == "__main__":
    sys.exit(main())
