"""`pockettorch farm submit`: plan a farm file over the devices live workers advertise, upload its models by content
hash, record the run (every job not_run, as `farm run` does), queue each job on its device's queue and return.
The jobs and their keys are those `farm run` would plan for the same devices."""
from __future__ import annotations

import dataclasses
import os

from pockettorch.device.farm import PRIORITY_DEFAULT, PRIORITY_MAX, PRIORITY_MIN, dispatch
from pockettorch.device.farm.config import load_farm_file
from pockettorch.device.farm.plan import FarmDevice, plan, select
from pockettorch.device.farm.run import _prepare
from pockettorch.device.farm.runner import Policy
from pockettorch.device.farm.store_sql import SqlResultStore


def farm_devices(live: list[dict]) -> list[FarmDevice]:
    """The devices of live workers, ids as `farm run` gives them: the serial, else server/serial, else
    worker/serial when two workers share both (each host's own `host` device)."""
    infos = [dict(d) for w in live for d in w["devices"]]
    serials = [i["serial"] for i in infos]
    pairs = [(i["server"], i["serial"]) for i in infos]
    found = []
    for i in infos:
        if serials.count(i["serial"]) == 1:
            i["id"] = i["serial"]
        elif pairs.count((i["server"], i["serial"])) == 1:
            i["id"] = f"{i['server']}/{i['serial']}"
        else:
            i["id"] = f"{i['worker']}/{i['serial']}"
        found.append(FarmDevice(i, i["id"]))
    return found


def submit(store: SqlResultStore, app, farm_file: str, out_dir: str, max_jobs: int | None,
           worker_ttl_s: float, priority: int = PRIORITY_DEFAULT) -> tuple[str, int]:
    """(run id, number of jobs queued). A device serves higher `priority` runs first, runs of equal priority in the
    order they were submitted."""
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise ValueError(f"priority must be {PRIORITY_MIN}-{PRIORITY_MAX}, not {priority}")
    cfg = load_farm_file(farm_file, max_jobs)
    live = dispatch.live_workers(store, worker_ttl_s)
    jobs = plan(cfg, select(cfg.devices, farm_devices(live)))
    paths, failures = _prepare(cfg, jobs, out_dir)
    shas = {name: dispatch.put_artifact(store, path) for name, path in paths.items()}
    run_id = store.create_run({"farm_file": os.path.abspath(farm_file), "farm": cfg.as_dict(), "submitted": True,
                               "priority": priority, "workers": [w["name"] for w in live]})
    with store.engine.begin() as con:
        for j in jobs:
            failed = failures.get(j.model.name)
            store.record_job(run_id, j.record("failed", error=failed) if failed else j.record(), con)
    policy = dataclasses.asdict(Policy.from_config(cfg))
    rows = [{"key": j.key, "queue": j.device["queue"], "artifact": shas.get(j.model.name), "policy": policy,
             "priority": priority, "state": "done" if j.model.name in failures else "queued"} for j in jobs]
    dispatch.enqueue(store, run_id, rows)
    queued = [{"run_id": run_id, **r} for r in rows if r["state"] == "queued"]
    from pockettorch.device.farm.celery_app import publish

    publish(app, queued)
    dispatch.published(store, run_id, [r["key"] for r in queued])
    dispatch.maybe_finish(store, run_id)
    return run_id, len(queued)
