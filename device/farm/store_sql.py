"""The results store on PostgreSQL (SQLAlchemy Core, psycopg 3), for farms whose workers run on many hosts.

Same tables, columns and behaviour as the SQLite store (store.py): runs, jobs, samples, leases; `record_job` keeps
plan order, `jobs()` adds samples and metrics, the lease makes one controller run a run. The schema is created and
upgraded by Alembic (device/farm/migrations); the distributed farm's own tables (artifacts, dispatch, workers) come
with it and are used by dispatch.py. The URL's password never appears in `path` or in errors.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from pockettorch.device.farm.store import (_CORE, _DERIVED, JOB_STATUSES, LEASE_TTL_S, LeaseHeld, LeaseHolder,
                                           _metrics, job_from_row)
from pockettorch.runtime import error_catalogue as errors

meta = sa.MetaData()
runs = sa.Table("runs", meta,
                sa.Column("id", sa.Text, primary_key=True),
                sa.Column("created", sa.Float, nullable=False),
                sa.Column("finished", sa.Float),
                sa.Column("status", sa.Text, nullable=False),
                sa.Column("config", sa.Text, nullable=False))
jobs = sa.Table("jobs", meta,
                sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id"), primary_key=True),
                sa.Column("key", sa.Text, primary_key=True),
                sa.Column("seq", sa.Integer, nullable=False),
                sa.Column("model", sa.Text, nullable=False),
                sa.Column("device", sa.Text, nullable=False),
                sa.Column("config", sa.Text, nullable=False),
                sa.Column("status", sa.Text, nullable=False),
                sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
                sa.Column("result", sa.Text), sa.Column("error", sa.Text), sa.Column("trace", sa.Text),
                sa.Column("extra", sa.Text),
                sa.Column("median_ms", sa.Float), sa.Column("p90_ms", sa.Float), sa.Column("peak_rss_kb", sa.Float),
                sa.Column("energy_mj", sa.Float), sa.Column("model_bytes", sa.BigInteger),
                sa.Column("updated", sa.Float, nullable=False),
                sa.CheckConstraint("status IN ('passed', 'failed', 'lost', 'not_run')", name="jobs_status"))
samples = sa.Table("samples", meta,
                   sa.Column("run_id", sa.Text, primary_key=True), sa.Column("key", sa.Text, primary_key=True),
                   sa.Column("i", sa.Integer, primary_key=True), sa.Column("ms", sa.Float, nullable=False))
leases = sa.Table("leases", meta,
                  sa.Column("run_id", sa.Text, primary_key=True), sa.Column("owner", sa.Text, nullable=False),
                  sa.Column("expires", sa.Float, nullable=False))
# The distributed farm (dispatch.py): models by content hash, one row per job's trip through the queues, live workers.
artifacts = sa.Table("artifacts", meta,
                     sa.Column("sha256", sa.Text, primary_key=True), sa.Column("data", sa.LargeBinary, nullable=False))
dispatch = sa.Table("dispatch", meta,
                    sa.Column("run_id", sa.Text, primary_key=True), sa.Column("key", sa.Text, primary_key=True),
                    sa.Column("queue", sa.Text, nullable=False),
                    sa.Column("artifact", sa.Text),  # sha256 of the model, NULL when its export failed
                    sa.Column("policy", sa.Text, nullable=False),  # JSON: retry and cool-down of the run
                    sa.Column("state", sa.Text, nullable=False),  # queued | running | done | lost | cancelled
                    sa.Column("published", sa.Boolean, nullable=False, server_default=sa.false()),
                    sa.Column("priority", sa.SmallInteger, nullable=False, server_default="5"),  # the run's, 1-9
                    sa.Column("worker", sa.Text), sa.Column("token", sa.Text),
                    sa.Column("claims", sa.Integer, nullable=False, server_default="0"),
                    sa.Column("updated", sa.Float, nullable=False))
workers = sa.Table("workers", meta,
                   sa.Column("name", sa.Text, primary_key=True),
                   sa.Column("heartbeat", sa.Float, nullable=False),
                   sa.Column("devices", sa.Text, nullable=False))  # JSON: device facts, queue, busy job, temperature
MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparsable database URL>"


def upgrade(engine: sa.Engine) -> None:
    """Bring the schema to Alembic's head (create it in an empty database)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as con:
        con.execute(sa.text("SELECT pg_advisory_xact_lock(7262011)"))  # workers starting at once migrate one by one
        cfg.attributes["connection"] = con
        command.upgrade(cfg, "head")


class SqlResultStore(LeaseHolder):
    def __init__(self, url: str):
        self.path = redact(url)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lock = threading.RLock()
        try:
            self.engine = sa.create_engine(sa.engine.make_url(url).set(drivername="postgresql+psycopg"),
                                           pool_pre_ping=True, pool_size=4)
            with self._lock:
                upgrade(self.engine)
        except (sa.exc.SQLAlchemyError, sa.exc.ArgumentError) as exc:
            raise errors.IoError(f"cannot open the results database {self.path}: {type(exc).__name__}: "
                                 f"{str(getattr(exc, 'orig', None) or exc).splitlines()[0]}",
                                 hint="check the database URL (POCKETTORCH_DB / --db) and that the server is up") from None

    # ------------------------------------------------------------------ runs
    def create_run(self, config: dict, run_id: str | None = None) -> str:
        run_id = run_id or time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        with self.engine.begin() as con:
            con.execute(runs.insert().values(id=run_id, created=time.time(), status="running",
                                             config=json.dumps(config)))
        return run_id

    def reopen_run(self, run_id: str) -> None:
        with self.engine.begin() as con:
            con.execute(runs.update().where(runs.c.id == run_id).values(status="running", finished=None))

    def finish_run(self, run_id: str, status: str, only_if_running: bool = False) -> bool:
        """Set the run's final status; `only_if_running`: only the first of several finishers does."""
        q = runs.update().where(runs.c.id == run_id)
        if only_if_running:
            q = q.where(runs.c.status == "running")
        with self.engine.begin() as con:
            return con.execute(q.values(status=status, finished=time.time())).rowcount == 1

    def run(self, run_id: str) -> dict:
        with self.engine.connect() as con:
            row = con.execute(runs.select().where(runs.c.id == run_id)).mappings().first()
        if row is None:
            known = ", ".join(r["id"] for r in self.runs()[-5:]) or "none"
            raise KeyError(f"no run '{run_id}' in {self.path} (latest: {known})")
        return self._run_dict(row)

    def runs(self) -> list[dict]:
        with self.engine.connect() as con:
            rows = con.execute(runs.select().order_by(runs.c.created, runs.c.id)).mappings().all()
        return [self._run_dict(r) for r in rows]

    @staticmethod
    def _run_dict(row) -> dict:
        return {"id": row["id"], "created": row["created"], "finished": row["finished"], "status": row["status"],
                "config": json.loads(row["config"])}

    # ------------------------------------------------------------------ jobs
    def record_job(self, run_id: str, job: dict, con: sa.Connection | None = None) -> None:
        """Insert or replace one job and its samples in one transaction (`con`: the caller's transaction)."""
        if job["status"] not in JOB_STATUSES:
            raise ValueError(f"job status must be one of {JOB_STATUSES}, not {job['status']!r}")
        if con is None:
            with self.engine.begin() as con:
                return self.record_job(run_id, job, con)
        extra = {k: v for k, v in job.items() if k not in _CORE and k not in _DERIVED}
        result = job.get("result")
        seq = con.execute(sa.select(jobs.c.seq).where(jobs.c.run_id == run_id, jobs.c.key == job["key"])).scalar()
        if seq is None:
            seq = con.execute(sa.select(sa.func.coalesce(sa.func.max(jobs.c.seq) + 1, 0))
                              .where(jobs.c.run_id == run_id)).scalar()
        values = dict(run_id=run_id, key=job["key"], seq=seq, model=job["model"], device=json.dumps(job["device"]),
                      config=json.dumps(job["config"]), status=job["status"], attempts=int(job.get("attempts") or 0),
                      result=json.dumps(result) if result is not None else None, error=job.get("error"),
                      trace=job.get("trace"), extra=json.dumps(extra), updated=time.time(), **_metrics(job))
        ins = pg.insert(jobs).values(**values)
        con.execute(ins.on_conflict_do_update(index_elements=["run_id", "key"],
                                              set_={k: ins.excluded[k] for k in values if k not in ("run_id", "key")}))
        con.execute(samples.delete().where(samples.c.run_id == run_id, samples.c.key == job["key"]))
        rows = [{"run_id": run_id, "key": job["key"], "i": i, "ms": float(ms)}
                for i, ms in enumerate((result or {}).get("samples_ms") or [])]
        if rows:
            con.execute(samples.insert(), rows)

    def jobs(self, run_id: str) -> list[dict]:
        with self.engine.connect() as con:
            rows = con.execute(jobs.select().where(jobs.c.run_id == run_id).order_by(jobs.c.seq)).mappings().all()
            points = con.execute(sa.select(samples.c.key, samples.c.ms).where(samples.c.run_id == run_id)
                                 .order_by(samples.c.key, samples.c.i)).all()
        by_key: dict[str, list[float]] = {}
        for key, ms in points:
            by_key.setdefault(key, []).append(ms)
        return [job_from_row(r, by_key.get(r["key"], [])) for r in rows]

    def samples(self, run_id: str, key: str) -> list[float]:
        with self.engine.connect() as con:
            return list(con.execute(sa.select(samples.c.ms).where(samples.c.run_id == run_id, samples.c.key == key)
                                    .order_by(samples.c.i)).scalars())

    def history(self, key: str, metric: str = "median_ms") -> list[tuple[str, float]]:
        if metric not in ("median_ms", "p90_ms", "peak_rss_kb", "energy_mj", "model_bytes"):
            raise ValueError(f"unknown metric {metric!r}")
        col = jobs.c[metric]
        with self.engine.connect() as con:
            rows = con.execute(sa.select(jobs.c.run_id, col).join(runs, runs.c.id == jobs.c.run_id)
                               .where(jobs.c.key == key, col.is_not(None)).order_by(runs.c.created, runs.c.id)).all()
        return [(r[0], r[1]) for r in rows]

    # ---------------------------------------------------------------- lease
    def take_lease(self, run_id: str, ttl_s: float = LEASE_TTL_S) -> None:
        """One atomic upsert that only replaces our own or an expired lease: of two controllers exactly one wins."""
        now = time.time()
        ins = pg.insert(leases).values(run_id=run_id, owner=self.owner, expires=now + ttl_s)
        with self.engine.begin() as con:
            took = con.execute(ins.on_conflict_do_update(
                index_elements=["run_id"], set_={"owner": ins.excluded.owner, "expires": ins.excluded.expires},
                where=(leases.c.owner == self.owner) | (leases.c.expires <= now)).returning(leases.c.run_id)).first()
            if not took:
                row = con.execute(leases.select().where(leases.c.run_id == run_id)).mappings().one()
                raise LeaseHeld(f"run {run_id} is being run by another controller ({row['owner'].rsplit(':', 1)[0]}, "
                                f"host:pid) whose lease ends in {row['expires'] - now:.0f} s",
                                hint="wait for that controller to finish; a crashed one's lease expires by itself")

    def release_lease(self, run_id: str) -> None:
        with self.engine.begin() as con:
            con.execute(leases.delete().where(leases.c.run_id == run_id, leases.c.owner == self.owner))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "SqlResultStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
