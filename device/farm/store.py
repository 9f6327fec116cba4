"""The farm's results store: one SQLite file holding runs, their jobs (status, attempts, the full
`pockettorch.bench/1` result, error, trace path) and every latency sample, written job by job so a crash,
Ctrl-C or a lost device loses nothing already measured. Shared by `pockettorch farm` and the pytest plugin.

One writer per process (calls are serialised by a lock, so worker threads may share the store); readers in
other processes see committed jobs at once (WAL journal). A controller running a run holds its lease, so a second
`farm run --resume` of that run is refused; the lease expires unless renewed, so a crashed controller does not
lock the run for ever. A file that is not a readable store gives a catalogue error naming it, never a traceback.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import sys
import threading
import time
import uuid
from typing import Any, Iterator

from pockettorch.runtime import error_catalogue as errors

SCHEMA_VERSION = 2  # 2: leases
JOB_STATUSES = ("passed", "failed", "lost", "not_run")
FINAL_STATUSES = ("passed", "failed")  # a resumed run does not repeat these

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL,            -- running | passed | failed | interrupted | ...
    config TEXT NOT NULL             -- JSON: the farm file and whatever the caller records
);
CREATE TABLE IF NOT EXISTS jobs (
    run_id TEXT NOT NULL REFERENCES runs(id),
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,            -- plan order, kept across updates
    model TEXT NOT NULL,
    device TEXT NOT NULL,            -- JSON: serial, platform, name, abi, server, ...
    config TEXT NOT NULL,            -- JSON
    status TEXT NOT NULL CHECK (status IN ('passed', 'failed', 'lost', 'not_run')),
    attempts INTEGER NOT NULL DEFAULT 0,
    result TEXT,                     -- JSON pockettorch.bench/1, or NULL
    error TEXT,
    trace TEXT,
    extra TEXT,                      -- JSON: verify result, model size, ... (any other job keys)
    median_ms REAL, p90_ms REAL, peak_rss_kb REAL, energy_mj REAL, model_bytes INTEGER,
    updated REAL NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE TABLE IF NOT EXISTS samples (
    run_id TEXT NOT NULL,
    key TEXT NOT NULL,
    i INTEGER NOT NULL,
    ms REAL NOT NULL,
    PRIMARY KEY (run_id, key, i)
);
CREATE TABLE IF NOT EXISTS leases (
    run_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,             -- host:pid:random of the controller running the run
    expires REAL NOT NULL            -- time.time() after which another controller may take over
);
"""
_TABLES = {"runs", "jobs", "samples", "leases"}
LEASE_TTL_S = 60.0  # a live controller renews every third of this
_CORE = ("key", "model", "device", "config", "status", "attempts", "result", "error", "trace")
_DERIVED = ("samples_ms", "median_ms", "p90_ms", "peak_rss_kb", "energy_mj")  # added by jobs(), not stored twice


def _metrics(job: dict) -> dict[str, Any]:
    """Columns extracted from the result so reports and SQL queries need not parse JSON."""
    r = job.get("result") or {}
    lat = r.get("latency_ms") or {}
    power = r.get("power") or {}
    return {"median_ms": lat.get("median"), "p90_ms": lat.get("p90"), "peak_rss_kb": r.get("peak_rss_kb"),
            "energy_mj": power.get("energy_per_inference_mj") if power.get("available") else None,
            "model_bytes": job.get("model_bytes")}


def job_from_row(r, samples_ms: list[float]) -> dict:
    """A jobs-table row (SQLite or PostgreSQL) as the job dict the reports read."""
    job = json.loads(r["extra"] or "{}")
    job.update(key=r["key"], model=r["model"], device=json.loads(r["device"]), config=json.loads(r["config"]),
               status=r["status"], attempts=r["attempts"], error=r["error"], trace=r["trace"],
               result=json.loads(r["result"]) if r["result"] else None, median_ms=r["median_ms"],
               p90_ms=r["p90_ms"], peak_rss_kb=r["peak_rss_kb"], energy_mj=r["energy_mj"],
               model_bytes=r["model_bytes"], samples_ms=samples_ms)
    return job

class LeaseHeld(errors.InvalidArgumentError):
    """Another live controller is running this run."""


def _not_a_store(path: str, why: str) -> errors.IoError:
    return errors.IoError(f"{path} is not a readable PocketTorch results store: {why}",
                          hint="pass --db a store written by `pockettorch farm run`, or move the damaged file away "
                               "and start a new store")


class LeaseHolder:
    """`lease()` over a store's take_lease/release_lease (shared by the SQLite and the SQL server stores)."""

    @contextlib.contextmanager
    def lease(self, run_id: str, ttl_s: float = LEASE_TTL_S) -> Iterator[None]:
        """Hold the run's lease while the block runs, renewed by a thread every ttl_s / 3."""
        self.take_lease(run_id, ttl_s)
        done = threading.Event()

        def renew():
            while not done.wait(ttl_s / 3):
                try:
                    self.take_lease(run_id, ttl_s)
                except errors.PocketTorchError as exc:  # we stalled past the expiry and another controller took over
                    print(f"warning: lost the lease of run {run_id}: {exc}", file=sys.stderr, flush=True)
                    return

        renewer = threading.Thread(target=renew, name=f"lease-{run_id}", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            done.set()
            renewer.join()
            self.release_lease(run_id)


class ResultStore(LeaseHolder):
    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._lock = threading.RLock()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise _not_a_store(self.path, str(exc)) from None
        self._db.row_factory = sqlite3.Row
        try:
            with self._locked():
                self._migrate()  # first: a file that is not a store is left exactly as it was
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            self._db.close()
            raise

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise access; SQLite's errors (garbage bytes, a truncated file, a locked file) name the file."""
        with self._lock:
            try:
                yield
            except sqlite3.DatabaseError as exc:
                raise _not_a_store(self.path, str(exc)) from None

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version > SCHEMA_VERSION:
            raise _not_a_store(self.path, f"it was written by a newer PocketTorch (schema {version})")
        if (version == 0 and tables) or (version and not {"runs", "jobs", "samples"} <= tables):
            raise _not_a_store(self.path, f"an SQLite file with tables {', '.join(sorted(tables)) or 'none'}, "
                                          f"not a store's {', '.join(sorted(_TABLES))}")
        if version < SCHEMA_VERSION:
            self._db.executescript("BEGIN IMMEDIATE;" + _SCHEMA + f"PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")

    # ------------------------------------------------------------------ runs
    def create_run(self, config: dict, run_id: str | None = None) -> str:
        run_id = run_id or time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        with self._locked():
            self._db.execute("INSERT INTO runs (id, created, status, config) VALUES (?, ?, 'running', ?)",
                             (run_id, time.time(), json.dumps(config)))
        return run_id

    def reopen_run(self, run_id: str) -> None:
        """Mark a run running again (resume)."""
        with self._locked():
            self._db.execute("UPDATE runs SET status = 'running', finished = NULL WHERE id = ?", (run_id,))

    def finish_run(self, run_id: str, status: str) -> None:
        with self._locked():
            self._db.execute("UPDATE runs SET status = ?, finished = ? WHERE id = ?", (status, time.time(), run_id))

    def run(self, run_id: str) -> dict:
        with self._locked():
            row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            known = ", ".join(r["id"] for r in self.runs()[-5:]) or "none"
            raise KeyError(f"no run '{run_id}' in {self.path} (latest: {known})")
        return self._run_dict(row)

    def runs(self) -> list[dict]:
        """Every run, oldest first."""
        with self._locked():
            rows = self._db.execute("SELECT * FROM runs ORDER BY created, rowid").fetchall()
        return [self._run_dict(r) for r in rows]

    @staticmethod
    def _run_dict(row: sqlite3.Row) -> dict:
        return {"id": row["id"], "created": row["created"], "finished": row["finished"], "status": row["status"],
                "config": json.loads(row["config"])}

    # ------------------------------------------------------------------ jobs
    def record_job(self, run_id: str, job: dict) -> None:
        """Insert or replace one job (and its samples) in one transaction."""
        if job["status"] not in JOB_STATUSES:
            raise ValueError(f"job status must be one of {JOB_STATUSES}, not {job['status']!r}")
        extra = {k: v for k, v in job.items() if k not in _CORE and k not in _DERIVED}
        result = job.get("result")
        m = _metrics(job)
        with self._locked():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                seq = self._db.execute("SELECT seq FROM jobs WHERE run_id = ? AND key = ?", (run_id, job["key"])).fetchone()
                if seq is None:
                    seq = self._db.execute("SELECT COALESCE(MAX(seq) + 1, 0) FROM jobs WHERE run_id = ?",
                                           (run_id,)).fetchone()
                self._db.execute(
                    "INSERT OR REPLACE INTO jobs (run_id, key, seq, model, device, config, status, attempts, result, "
                    "error, trace, extra, median_ms, p90_ms, peak_rss_kb, energy_mj, model_bytes, updated) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run_id, job["key"], seq[0], job["model"], json.dumps(job["device"]), json.dumps(job["config"]),
                     job["status"], int(job.get("attempts") or 0), json.dumps(result) if result is not None else None,
                     job.get("error"), job.get("trace"), json.dumps(extra), m["median_ms"], m["p90_ms"],
                     m["peak_rss_kb"], m["energy_mj"], m["model_bytes"], time.time()))
                self._db.execute("DELETE FROM samples WHERE run_id = ? AND key = ?", (run_id, job["key"]))
                self._db.executemany("INSERT INTO samples (run_id, key, i, ms) VALUES (?, ?, ?, ?)",
                                     [(run_id, job["key"], i, float(ms))
                                      for i, ms in enumerate((result or {}).get("samples_ms") or [])])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def jobs(self, run_id: str) -> list[dict]:
        """The run's jobs in plan order, as recorded (plus `samples_ms`, `median_ms`, ...)."""
        with self._locked():
            rows = self._db.execute("SELECT * FROM jobs WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
        return [job_from_row(r, self.samples(run_id, r["key"])) for r in rows]

    def samples(self, run_id: str, key: str) -> list[float]:
        with self._locked():
            rows = self._db.execute("SELECT ms FROM samples WHERE run_id = ? AND key = ? ORDER BY i",
                                    (run_id, key)).fetchall()
        return [r[0] for r in rows]

    def history(self, key: str, metric: str = "median_ms") -> list[tuple[str, float]]:
        """(run id, value) of one job's metric in every run that measured it, oldest first."""
        if metric not in ("median_ms", "p90_ms", "peak_rss_kb", "energy_mj", "model_bytes"):
            raise ValueError(f"unknown metric {metric!r}")
        with self._locked():
            rows = self._db.execute(
                f"SELECT j.run_id, j.{metric} FROM jobs j JOIN runs r ON r.id = j.run_id "
                f"WHERE j.key = ? AND j.{metric} IS NOT NULL ORDER BY r.created, r.rowid", (key,)).fetchall()
        return [(r[0], r[1]) for r in rows]

    # ---------------------------------------------------------------- lease
    def take_lease(self, run_id: str, ttl_s: float = LEASE_TTL_S) -> None:
        """Become the run's only controller (or renew): atomic, so of two controllers exactly one wins."""
        now = time.time()
        with self._locked():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT owner, expires FROM leases WHERE run_id = ?", (run_id,)).fetchone()
                if row is not None and row["owner"] != self.owner and row["expires"] > now:
                    raise LeaseHeld(f"run {run_id} is being run by another controller ({row['owner'].rsplit(':', 1)[0]}, "
                                    f"host:pid) whose lease ends in {row['expires'] - now:.0f} s",
                                    hint="wait for that controller to finish; a crashed one's lease expires by itself")
                self._db.execute("INSERT OR REPLACE INTO leases (run_id, owner, expires) VALUES (?, ?, ?)",
                                 (run_id, self.owner, now + ttl_s))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def release_lease(self, run_id: str) -> None:
        with self._locked():
            self._db.execute("DELETE FROM leases WHERE run_id = ? AND owner = ?", (run_id, self.owner))

    def close(self) -> None:
        with self._locked():
            self._db.close()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_store(db: str | os.PathLike):
    """The store `--db` names: a postgresql:// URL (store_sql.py) or an SQLite file path."""
    db = os.fspath(db)
    if db.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        from pockettorch.device.farm.store_sql import SqlResultStore

        return SqlResultStore(db.replace("postgres://", "postgresql://", 1))
    return ResultStore(db)
