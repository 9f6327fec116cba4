"""Run a farm's jobs: one worker thread per device, jobs on a device one after another with the cool-down
policy, every finished job written to the store at once. Transient device errors (disconnect, timeout) are
retried with bounded exponential back-off; a device still gone after the retries is lost: its job is marked
`lost` and its remaining jobs stay `not_run` for `farm run --resume`. The first Ctrl-C lets the running jobs
finish and be stored (host runners run in their own session, so the terminal's SIGINT does not kill them); a
second one kills them and stops at once, leaving them `not_run`."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, TextIO

from pockettorch.device.base import Device
from pockettorch.device.farm.plan import Job, find
from pockettorch.device.farm.store import ResultStore
from pockettorch.runtime import error_catalogue as errors

TRANSIENT = (errors.DeviceDisconnectedError, errors.DeviceTimeoutError, errors.DeviceNotFoundError)
TEMP_POLL_S = 1.0


@dataclasses.dataclass
class Policy:
    """Retry and cool-down settings of a run (defaults and validation live in config.FarmConfig)."""
    retries: int
    backoff_s: float
    max_backoff_s: float
    cooldown_s: float
    until_temp_c: float | None
    max_wait_s: float

    @classmethod
    def from_config(cls, cfg) -> "Policy":
        return cls(**{f.name: getattr(cfg, f.name) for f in dataclasses.fields(cls)})

    def backoff(self, attempt: int) -> float:
        return min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s)


def execute(device: Device, job: Job, model_path: str, trace_dir: str) -> dict[str, Any]:
    """One job through the device harness: bench (and verify when asked); returns the store's job fields."""
    from pockettorch.device.bench import BenchOptions, bench, verify
    from pockettorch.device.trace import build_trace

    c = job.config
    result = bench(device, model_path, BenchOptions(iters=c["iters"], warmup=c["warmup"], threads=c["threads"],
                                                    cpus=c["cpus"], profile_ops=c["profile_ops"], power=c["power"],
                                                    timeout=c["timeout_s"]))
    os.makedirs(trace_dir, exist_ok=True)
    trace = os.path.join(trace_dir, _file_name(job.key) + ".trace.json")
    with open(trace, "w") as f:
        json.dump(build_trace(result), f)
    fields: dict[str, Any] = {"status": "passed", "result": result, "trace": trace}
    if c["verify"]:
        check = verify(device, model_path)
        fields["verify"] = check
        if not check["pass"]:
            bad = [o["name"] for o in check["outputs"] if not o["pass"]]
            fields.update(status="failed", error=f"verification failed for output(s) {', '.join(bad)}")
    return fields


def _file_name(key: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.=," else "_" for ch in key)


class Progress:
    """Jobs done, running and failed per device, one line per change (a log CI can read, not a redraw)."""

    def __init__(self, jobs: list[Job], out: TextIO | None = None):
        self.out = out or sys.stderr
        self.lock = threading.Lock()
        self.counts = {d: {"total": 0, "done": 0, "running": 0, "failed": 0} for d in dict.fromkeys(j.device_id for j in jobs)}
        for j in jobs:
            self.counts[j.device_id]["total"] += 1

    def update(self, job: Job, event: str, detail: str = "", started: bool = True) -> None:
        """`started`: the job had a "start" event (a job whose model failed to export never starts)."""
        with self.lock:
            c = self.counts[job.device_id]
            if event == "start":
                c["running"] += 1
            elif event in ("passed", "failed", "lost"):
                c["running"] -= started
                c["done" if event == "passed" else "failed"] += 1
            summary = "  ".join(f"{d}: {v['done']}/{v['total']} done, {v['running']} running, {v['failed']} failed"
                                for d, v in self.counts.items())
            print(f"[{event:>7}] {job.key}{' ' + detail if detail else ''}\n          {summary}", file=self.out, flush=True)


class DeviceWorker(threading.Thread):
    def __init__(self, device_id: str, device: Device | None, jobs: list[Job], ctx: "RunContext"):
        super().__init__(name=f"farm-{device_id}", daemon=True)
        self.device_id, self.device, self.jobs, self.ctx = device_id, device, jobs, ctx
        self.lost: str | None = None if device is not None else "not connected when the run started"

    def run(self) -> None:
        for i, job in enumerate(self.jobs):
            if self.ctx.stop.is_set():
                return  # Ctrl-C: this and the remaining jobs stay not_run
            if self.lost:
                reason = f"device {self.device_id} lost: {self.lost}"
                self.ctx.store.record_job(self.ctx.run_id, job.record("not_run", error=reason))
                self.ctx.progress.update(job, "not_run", reason)
                continue
            self._cool_down(rest=i > 0)
            if self.ctx.stop.is_set():
                return  # Ctrl-C during the cool-down
            self._run_job(job)

    def _cool_down(self, rest: bool) -> None:
        """Rest between jobs, then (before every job) wait until the device is cooler than until_temp_c,
        at most max_wait_s: a job that starts hot measures throttling, not the model."""
        p = self.ctx.policy
        if rest and p.cooldown_s:
            self.ctx.stop.wait(p.cooldown_s)
        if p.until_temp_c is None:
            return
        deadline = time.monotonic() + p.max_wait_s
        while time.monotonic() < deadline and not self.ctx.stop.is_set():
            try:
                temp = self.device.sample().get("temp_c")
            except errors.PocketTorchError:
                return  # the job itself will find out what is wrong with the device
            if temp is None or temp <= p.until_temp_c:
                return
            self.ctx.stop.wait(TEMP_POLL_S)

    def _run_job(self, job: Job) -> None:
        ctx, p = self.ctx, self.ctx.policy
        ctx.progress.update(job, "start")
        attempt = 0
        while True:
            attempt += 1
            try:
                fields = ctx.execute(self.device, job)
                break
            except TRANSIENT as exc:
                partial = getattr(exc, "partial", None)
                if attempt > p.retries or ctx.stop.is_set():
                    present = self._reconnect()
                    status = "failed" if present else "lost"
                    if not present:
                        self.lost = str(exc)
                    fields = {"status": status, "result": partial, "error": f"{type(exc).__name__}: {exc}"}
                    break
                ctx.stop.wait(p.backoff(attempt))
                self._reconnect()
            except Exception as exc:  # the runner failed, disk full, a bad model, ...: final, and the worker goes on
                fields = {"status": "failed", "result": getattr(exc, "partial", None),
                          "error": f"{type(exc).__name__}: {exc}"}
                break
        if ctx.abandoned.is_set():
            return  # a second Ctrl-C killed the runner: not a failure; the job stays not_run for --resume
        record = job.record(attempts=attempt, model_bytes=ctx.model_bytes(job), **fields)
        ctx.store.record_job(ctx.run_id, record)
        ctx.progress.update(job, record["status"], _detail(record))

    def _reconnect(self) -> bool:
        """Whether the device is back (adb lists it ready again); the worker then uses the fresh handle."""
        device = find(self.jobs[0].device["server"], self.jobs[0].device["serial"])
        if device is not None:
            self.device = device
        return device is not None


def _detail(record: dict) -> str:
    if record["status"] == "passed":
        lat = (record["result"] or {}).get("latency_ms") or {}
        return f"median {lat.get('median', float('nan')):.3f} ms"
    return (record.get("error") or "")[:200]


@dataclasses.dataclass
class RunContext:
    store: ResultStore
    run_id: str
    policy: Policy
    progress: Progress
    execute: Callable[[Device, Job], dict]
    model_paths: dict[str, str]
    stop: threading.Event = dataclasses.field(default_factory=threading.Event)  # first Ctrl-C: no new jobs
    abandoned: threading.Event = dataclasses.field(default_factory=threading.Event)  # second: running jobs killed

    def model_bytes(self, job: Job) -> int | None:
        path = self.model_paths.get(job.model.name)
        return os.path.getsize(path) if path and os.path.exists(path) else None


def run_jobs(ctx: RunContext, jobs: list[Job], devices: dict[str, Device | None]) -> None:
    """Run `jobs` with one worker per device and wait. Ctrl-C sets ctx.stop, lets running jobs finish and returns;
    a second Ctrl-C kills the running jobs and raises KeyboardInterrupt at once. A SIGINT handler, not
    KeyboardInterrupt, takes the first: it may come at any instant (even while the workers start), and a join()
    cut short by KeyboardInterrupt can leave a live thread looking finished."""
    by_device: dict[str, list[Job]] = {}
    for j in jobs:
        by_device.setdefault(j.device_id, []).append(j)
    workers = [DeviceWorker(d, devices.get(d), js, ctx) for d, js in by_device.items()]

    def on_sigint(signum, frame):
        if not ctx.stop.is_set():
            ctx.stop.set()
            print("interrupted: letting the running jobs finish (Ctrl-C again to abandon them)", file=ctx.progress.out,
                  flush=True)
            return
        from pockettorch.device.host import stop_all

        ctx.abandoned.set()  # before the kill: the workers must not record the killed jobs as failed
        stop_all()
        print("abandoned the running jobs (left not_run)", file=ctx.progress.out, flush=True)
        raise KeyboardInterrupt

    main = threading.current_thread() is threading.main_thread()  # only the main thread may handle signals
    previous = signal.signal(signal.SIGINT, on_sigint) if main else None
    try:
        for w in workers:
            w.start()
        for w in workers:
            while w.is_alive():
                w.join(0.2)
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
