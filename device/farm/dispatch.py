"""The distributed farm's bookkeeping in the PostgreSQL store: models by content hash, each job's trip through its
device's queue (the `dispatch` table), the live workers and their devices (the `workers` table).

Celery carries only (run id, job key); the database decides who may run and who may finish a job, so a message
delivered twice (a worker died, Redis restarted, the reaper republished) never completes a job twice:
- `claim` turns a `queued` job `running` with a fresh token, atomically: of two deliveries one wins;
- the running worker renews the claim; `complete` stores the result only while its token still holds the claim;
- `reap` (every worker, every heartbeat) puts a job whose claim expired back in its queue when another live worker
  serves that device, else marks it `lost` (and the device's queued jobs `not_run`), and publishes jobs that a
  killed submitter planned but never sent; the last job to end finishes the run;
- `stalled` finds the jobs whose message the broker lost: still queued on a device whose queue is empty and which
  runs nothing; its worker publishes them again (a second delivery of one that was not lost is skipped by `claim`).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
from typing import Any, Iterable

import sqlalchemy as sa

from pockettorch.device.farm import PRIORITY_DEFAULT
from pockettorch.device.farm.store_sql import SqlResultStore, artifacts, dispatch, jobs, workers

ACTIVE = ("queued", "running")
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_KEY = 512
TASK = "pockettorch.farm.run_job"


class BadMessage(ValueError):
    """A queue message that is not a PocketTorch job reference."""


def validate_message(message: Any) -> tuple[str, str]:
    """(run id, job key) from a message, which must be exactly {"run_id": ..., "key": ...}: nothing in a message
    is run, only looked up in the store."""
    if not isinstance(message, dict) or set(message) != {"run_id", "key"}:
        raise BadMessage(f"a job message holds exactly run_id and key, not {sorted(message) if isinstance(message, dict) else type(message).__name__}")
    run_id, key = message["run_id"], message["key"]
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        raise BadMessage("run_id must be 1-64 letters, digits, '.', '_' or '-'")
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY or not key.isprintable():
        raise BadMessage(f"key must be printable text of 1-{MAX_KEY} characters")
    return run_id, key


def queue_name(info: dict) -> str:
    """The Celery queue of one device: its server and serial, reduced to safe characters."""
    safe = lambda s: re.sub(r"[^A-Za-z0-9.-]", "_", s)  # noqa: E731
    return f"pkt.{safe(info['server'])}.{safe(info['serial'])}"


# ------------------------------------------------------------------ artifacts
def put_artifact(store: SqlResultStore, path: str) -> str:
    """Upload a model once (by its SHA-256) and return the hash."""
    with open(path, "rb") as f:
        data = f.read()
    sha = hashlib.sha256(data).hexdigest()
    from sqlalchemy.dialects import postgresql as pg

    with store.engine.begin() as con:
        con.execute(pg.insert(artifacts).values(sha256=sha, data=data).on_conflict_do_nothing())
    return sha


def get_artifact(store: SqlResultStore, sha: str, cache_dir: str) -> str:
    """The model's local path: downloaded once per host, checked against its hash."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise BadMessage("artifact hashes are 64 hex digits")
    path = os.path.join(cache_dir, f"{sha}.ptm")
    if os.path.isfile(path):
        return path
    with store.engine.connect() as con:
        data = con.execute(sa.select(artifacts.c.data).where(artifacts.c.sha256 == sha)).scalar()
    if data is None or hashlib.sha256(data).hexdigest() != sha:
        raise FileNotFoundError(f"model {sha[:12]} is missing from the artifact store or damaged")
    os.makedirs(cache_dir, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------ workers
def heartbeat(store: SqlResultStore, name: str, devices: list[dict]) -> None:
    from sqlalchemy.dialects import postgresql as pg

    ins = pg.insert(workers).values(name=name, heartbeat=time.time(), devices=json.dumps(devices))
    with store.engine.begin() as con:
        con.execute(ins.on_conflict_do_update(index_elements=["name"], set_={"heartbeat": ins.excluded.heartbeat,
                                                                              "devices": ins.excluded.devices}))


def leave(store: SqlResultStore, name: str) -> None:
    with store.engine.begin() as con:
        con.execute(workers.delete().where(workers.c.name == name))


def live_workers(store: SqlResultStore, ttl_s: float) -> list[dict]:
    """Workers whose heartbeat is younger than ttl_s, with their devices (each with `queue` and `worker`)."""
    with store.engine.connect() as con:
        rows = con.execute(workers.select().where(workers.c.heartbeat > time.time() - ttl_s)
                           .order_by(workers.c.name)).mappings().all()
    return [{"name": r["name"], "heartbeat": r["heartbeat"], "devices": json.loads(r["devices"])} for r in rows]


def all_workers(store: SqlResultStore) -> list[dict]:
    with store.engine.connect() as con:
        rows = con.execute(workers.select().order_by(workers.c.name)).mappings().all()
    return [{"name": r["name"], "heartbeat": r["heartbeat"], "devices": json.loads(r["devices"])} for r in rows]


# ------------------------------------------------------------------ jobs
def enqueue(store: SqlResultStore, run_id: str, rows: Iterable[dict]) -> None:
    """Dispatch rows for planned jobs: {key, queue, artifact, policy[, state, priority]}; unpublished until
    `published`."""
    now = time.time()
    with store.engine.begin() as con:
        con.execute(dispatch.insert(), [dict(run_id=run_id, key=r["key"], queue=r["queue"], artifact=r["artifact"],
                                             policy=json.dumps(r["policy"]), state=r.get("state", "queued"),
                                             priority=r.get("priority", PRIORITY_DEFAULT), published=False,
                                             updated=now) for r in rows])


def published(store: SqlResultStore, run_id: str, keys: list[str]) -> None:
    with store.engine.begin() as con:
        con.execute(dispatch.update().where(dispatch.c.run_id == run_id, dispatch.c.key.in_(keys))
                    .values(published=True))


def claim(store: SqlResultStore, run_id: str, key: str, worker: str) -> dict | None:
    """Take a queued job: its dispatch row (with the new token), or None when another delivery has it, it ended
    or was cancelled."""
    token = secrets.token_hex(8)
    with store.engine.begin() as con:
        row = con.execute(dispatch.update().where(dispatch.c.run_id == run_id, dispatch.c.key == key,
                                                  dispatch.c.state == "queued")
                          .values(state="running", worker=worker, token=token, claims=dispatch.c.claims + 1,
                                  updated=time.time())
                          .returning(*dispatch.c)).mappings().first()
    return dict(row, policy=json.loads(row["policy"])) if row else None


def renew(store: SqlResultStore, run_id: str, key: str, token: str) -> bool:
    with store.engine.begin() as con:
        return con.execute(dispatch.update().where(dispatch.c.run_id == run_id, dispatch.c.key == key,
                                                   dispatch.c.token == token, dispatch.c.state == "running")
                           .values(updated=time.time())).rowcount == 1


def complete(store: SqlResultStore, run_id: str, record: dict, token: str) -> bool:
    """Store a finished job's record if `token` still holds its claim (one transaction); then finish the run if
    it was the last. False: the claim was lost (reaped), nothing is written."""
    with store.engine.begin() as con:
        won = con.execute(dispatch.update().where(dispatch.c.run_id == run_id, dispatch.c.key == record["key"],
                                                  dispatch.c.token == token, dispatch.c.state == "running")
                          .values(state="done", updated=time.time())).rowcount == 1
        if won:
            store.record_job(run_id, record, con)
    if won:
        maybe_finish(store, run_id)
    return won


def job_record(store: SqlResultStore, run_id: str, key: str) -> dict:
    """One planned job as the store holds it."""
    with store.engine.connect() as con:
        r = con.execute(jobs.select().where(jobs.c.run_id == run_id, jobs.c.key == key)).mappings().one()
    return {"key": r["key"], "model": r["model"], "device": json.loads(r["device"]), "config": json.loads(r["config"])}


def run_status(store: SqlResultStore, run_id: str) -> str:
    with store.engine.connect() as con:
        states = set(con.execute(sa.select(dispatch.c.state).where(dispatch.c.run_id == run_id).distinct()).scalars())
        statuses = set(con.execute(sa.select(jobs.c.status).where(jobs.c.run_id == run_id).distinct()).scalars())
    if "cancelled" in states:
        return "cancelled"
    return "passed" if statuses == {"passed"} else "incomplete" if statuses & {"lost", "not_run"} else "failed"


def maybe_finish(store: SqlResultStore, run_id: str) -> None:
    """Finish the run when none of its jobs is queued or running (idempotent: the first finisher sets it)."""
    with store.engine.connect() as con:
        active = con.execute(sa.select(sa.func.count()).select_from(dispatch)
                             .where(dispatch.c.run_id == run_id, dispatch.c.state.in_(ACTIVE))).scalar()
    if not active:
        store.finish_run(run_id, run_status(store, run_id), only_if_running=True)


def counts(store: SqlResultStore, run_id: str) -> dict[str, int]:
    """Jobs per dispatch state (queued, running, done, lost, cancelled)."""
    with store.engine.connect() as con:
        rows = con.execute(sa.select(dispatch.c.state, sa.func.count()).where(dispatch.c.run_id == run_id)
                           .group_by(dispatch.c.state)).all()
    return {s: n for s, n in rows}


def cancel(store: SqlResultStore, run_id: str) -> int:
    """Cancel the run's queued jobs (running ones finish); they stay not_run. Returns how many."""
    with store.engine.begin() as con:
        keys = list(con.execute(dispatch.update().where(dispatch.c.run_id == run_id, dispatch.c.state == "queued")
                                .values(state="cancelled", updated=time.time()).returning(dispatch.c.key)).scalars())
        con.execute(jobs.update().where(jobs.c.run_id == run_id, jobs.c.key.in_(keys))
                    .values(error="cancelled", updated=time.time()))
    maybe_finish(store, run_id)
    return len(keys)


def reap(store: SqlResultStore, claim_ttl_s: float, worker_ttl_s: float) -> list[dict]:
    """Recover from dead workers and submitters (see the module's docstring). Returns the rows to publish."""
    now = time.time()
    served = {d["queue"] for w in live_workers(store, worker_ttl_s) for d in w["devices"]}
    touched: set[str] = set()
    republish: list[dict] = []
    with store.engine.begin() as con:
        expired = con.execute(dispatch.select().where(dispatch.c.state == "running",
                                                      dispatch.c.updated < now - claim_ttl_s)).mappings().all()
        for r in expired:
            served_now = r["queue"] in served
            done = con.execute(dispatch.update().where(dispatch.c.run_id == r["run_id"], dispatch.c.key == r["key"],
                                                       dispatch.c.token == r["token"], dispatch.c.state == "running")
                               .values(state="queued" if served_now else "lost", token=None, updated=now)).rowcount
            if done and served_now:  # another worker serves the device: run it again there
                republish.append({k: r[k] for k in ("run_id", "key", "queue", "priority")})
            elif done:
                _mark(con, r["run_id"], r["key"], "lost", f"the worker {r['worker']} running it stopped answering")
            touched.add(r["run_id"])
        orphans = con.execute(dispatch.select().where(dispatch.c.state == "queued",
                                                      dispatch.c.updated < now - claim_ttl_s)).mappings().all()
        for r in orphans:
            if r["queue"] in served:
                continue
            if con.execute(dispatch.update().where(dispatch.c.run_id == r["run_id"], dispatch.c.key == r["key"],
                                                   dispatch.c.state == "queued")
                           .values(state="lost", updated=now)).rowcount:
                _mark(con, r["run_id"], r["key"], "not_run", f"device queue {r['queue']} lost: no live worker serves it")
                touched.add(r["run_id"])
        republish += list(con.execute(dispatch.update().where(dispatch.c.state == "queued",
                                                             dispatch.c.published.is_(False),
                                                             dispatch.c.updated < now - claim_ttl_s)
                                     .values(published=True)
                                     .returning(dispatch.c.run_id, dispatch.c.key, dispatch.c.queue,
                                                dispatch.c.priority)).mappings())
    for run_id in touched:
        maybe_finish(store, run_id)
    return [dict(r) for r in republish]


def stalled(store: SqlResultStore, empty_queues: list[str], older_than_s: float) -> list[dict]:
    """Published jobs queued for older_than_s on device queues that hold no message and run no job: their
    messages are gone. Returns them to publish again (their clock restarts, so each is sent once per period)."""
    if not empty_queues:
        return []
    now = time.time()
    with store.engine.begin() as con:
        busy = set(con.execute(sa.select(dispatch.c.queue).where(dispatch.c.queue.in_(empty_queues),
                                                                  dispatch.c.state == "running")).scalars())
        idle = [q for q in empty_queues if q not in busy]
        if not idle:
            return []
        rows = con.execute(dispatch.update().where(dispatch.c.queue.in_(idle), dispatch.c.state == "queued",
                                                   dispatch.c.published.is_(True),
                                                   dispatch.c.updated < now - older_than_s)
                           .values(updated=now)
                           .returning(dispatch.c.run_id, dispatch.c.key, dispatch.c.queue, dispatch.c.priority))
        return [dict(r) for r in rows.mappings()]


def _mark(con: sa.Connection, run_id: str, key: str, status: str, error: str) -> None:
    con.execute(jobs.update().where(jobs.c.run_id == run_id, jobs.c.key == key)
                .values(status=status, error=error, updated=time.time()))

