"""`farm run` end to end: plan a new run (or reload an unfinished one), prepare the models, record every job
as not_run first (so even a crash leaves the full plan in the store), run, and set the run's status."""
from __future__ import annotations

import os
from typing import TextIO

import click

from pockettorch.device.farm import models
from pockettorch.device.farm.config import DeviceFilter, FarmConfig, ModelSpec, load_farm_file
from pockettorch.device.farm.plan import Job, discover, find, plan, select
from pockettorch.device.farm.runner import Policy, Progress, RunContext, execute, run_jobs
from pockettorch.device.farm.store import FINAL_STATUSES, ResultStore
from pockettorch.runtime import error_catalogue as errors


def _config_from_dict(d: dict) -> FarmConfig:
    return FarmConfig(**{**d, "models": [ModelSpec(**m) for m in d["models"]],
                         "devices": [DeviceFilter(**f) for f in d["devices"]]})


def _status(jobs: list[dict], interrupted: bool) -> str:
    if interrupted:
        return "interrupted"
    states = {j["status"] for j in jobs}
    return "passed" if states == {"passed"} else "incomplete" if states & {"lost", "not_run"} else "failed"


def start(store: ResultStore, farm_file: str, servers: list[str], out_root: str,
          run_id: str | None = None, max_jobs: int | None = None) -> tuple[str, FarmConfig, list[Job]]:
    """Create a run for the farm file and record its planned jobs (all not_run)."""
    cfg = load_farm_file(farm_file, max_jobs)
    jobs = plan(cfg, select(cfg.devices, discover(servers)))
    run_id = store.create_run({"farm_file": os.path.abspath(farm_file), "farm": cfg.as_dict(), "servers": servers,
                               "out_root": os.path.abspath(out_root)}, run_id)
    for job in jobs:
        store.record_job(run_id, job.record())
    return run_id, cfg, jobs


def pending(store: ResultStore, run_id: str) -> tuple[FarmConfig, list[Job]]:
    """The run's configuration and its jobs that did not finish (not passed or failed)."""
    run = store.run(run_id)
    if "farm" not in run["config"]:
        raise errors.InvalidArgumentError(f"run {run_id} was not recorded by `farm run`, so it cannot be resumed")
    cfg = _config_from_dict(run["config"]["farm"])  # the run's own configuration, whatever the file says now
    by_name = {m.name: m for m in cfg.models}
    jobs = [Job(j["key"], by_name[j["model"]], j["device"]["id"], j["device"], j["config"])
            for j in store.jobs(run_id) if j["status"] not in FINAL_STATUSES]
    return cfg, jobs


def _prepare(cfg: FarmConfig, jobs: list[Job], out_dir: str) -> tuple[dict[str, str], dict[str, str]]:
    """The .ptm path of every model the jobs use, and the error of each model that could not be exported."""
    paths, failures = {}, {}
    for m in cfg.models:
        if any(j.model.name == m.name for j in jobs):
            try:
                paths[m.name] = models.prepare(m, out_dir)
            except Exception as exc:  # a builder's bug, an unsupported op, ...: that model's jobs fail, not the run
                why = str(exc) if isinstance(exc, click.ClickException) else f"{type(exc).__name__}: {exc}"
                failures[m.name] = f"exporting model {m.name} ({m.source}) failed: {why}"
    return paths, failures


def execute_jobs(store: ResultStore, run_id: str, cfg: FarmConfig, jobs: list[Job], out: TextIO | None = None) -> str:
    """Prepare models, run the jobs on their devices, set and return the run's final status (`interrupted`
    when Ctrl-C or an error stopped it: the run can be resumed). A model that fails to export fails its jobs."""
    store.reopen_run(run_id)
    status = "interrupted"
    try:
        out_dir = os.path.join(store.run(run_id)["config"]["out_root"], run_id)
        progress = Progress(jobs, out)
        paths, failures = _prepare(cfg, jobs, os.path.join(out_dir, "models"))
        for j in jobs:
            if j.model.name in failures:
                store.record_job(run_id, j.record("failed", error=failures[j.model.name]))
                progress.update(j, "failed", failures[j.model.name], started=False)
        jobs = [j for j in jobs if j.model.name not in failures]
        devices = {}
        for j in jobs:
            if j.device_id not in devices:
                devices[j.device_id] = find(j.device["server"], j.device["serial"])
        trace_dir = os.path.join(out_dir, "traces")
        ctx = RunContext(store=store, run_id=run_id, policy=Policy.from_config(cfg), progress=progress,
                         execute=lambda device, job: execute(device, job, paths[job.model.name], trace_dir),
                         model_paths=paths)
        run_jobs(ctx, jobs, devices)
        status = _status(store.jobs(run_id), ctx.stop.is_set())
    finally:
        store.finish_run(run_id, status)
    return status


def summary(store: ResultStore, run_id: str) -> dict[str, int]:
    counts = dict.fromkeys(("passed", "failed", "lost", "not_run"), 0)
    for j in store.jobs(run_id):
        counts[j["status"]] += 1
    return counts

