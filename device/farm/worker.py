"""`pockettorch farm worker`: serve one host's devices to the distributed farm.

The supervisor discovers the host's devices (the host, adb servers' phones, iPhones), starts one Celery worker
process per device that consumes only that device's queue with concurrency 1 (a phone runs one job at a time), and
every heartbeat writes the devices' facts (model, SoC, ABI, OS, temperature) to the store, restarts a device process
that died and runs the reaper (dispatch.reap). Credentials reach the device processes through their environment.

A device process runs each message's job with the same code and policy as `farm run` (runner.DeviceWorker: the
cool-down before a job, retries with back-off, lost devices), holding the job's claim in the store while it runs.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from typing import Any, TextIO

import sqlalchemy as sa

from pockettorch.device.farm import dispatch
from pockettorch.device.farm.celery_app import BROKER_ENV, VISIBILITY_ENV, make_app, publish, waiting
from pockettorch.device.farm.config import ModelSpec
from pockettorch.device.farm.plan import HOST_SERVER, Job, discover, find
from pockettorch.device.farm.runner import Policy, Progress, RunContext, DeviceWorker, execute
from pockettorch.device.farm.store_sql import SqlResultStore

DB_ENV = "POCKETTORCH_FARM_DB"
DEVICE_ENV = "POCKETTORCH_FARM_DEVICE"  # JSON: the device's facts, queue and worker name
CLAIM_TTL_ENV = "POCKETTORCH_FARM_CLAIM_TTL_S"
CACHE_ENV = "POCKETTORCH_FARM_CACHE"
log = logging.getLogger("pockettorch.farm.worker")


@dataclasses.dataclass
class Settings:
    heartbeat_s: float = 10.0
    claim_ttl_s: float = 90.0  # a claim not renewed for this long belongs to a dead worker (half: a dead host)
    visibility_s: float = 4 * 3600.0
    temp_every_s: float = 30.0


def worst_case_s(config: dict, policy: Policy) -> float:
    """How long one job may hold its message: every attempt timing out, every back-off, the longest cool-down."""
    tries = policy.retries + 1
    return (tries * config["timeout_s"] + sum(policy.backoff(a) for a in range(1, tries)) + policy.cooldown_s
            + (policy.max_wait_s if policy.until_temp_c is not None else 0.0))


# ---------------------------------------------------------------- device process (inside Celery)
class _DeviceProcess:
    """What a device's Celery process knows: its store, device, name; set once from the environment."""
    current: "_DeviceProcess | None" = None

    def __init__(self):
        self.store = SqlResultStore(os.environ[DB_ENV])
        self.info = json.loads(os.environ[DEVICE_ENV])
        self.claim_ttl_s = float(os.environ.get(CLAIM_TTL_ENV) or Settings.claim_ttl_s)
        self.visibility_s = float(os.environ.get(VISIBILITY_ENV) or Settings.visibility_s)
        self.cache = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "pockettorch", "farm")
        self.ran_before = False

    @classmethod
    def get(cls) -> "_DeviceProcess":
        if cls.current is None:
            cls.current = cls()
        return cls.current


class _ClaimedStore:
    """The store as DeviceWorker sees it: a job's record is written only while this process holds its claim."""

    def __init__(self, store: SqlResultStore, token: str):
        self.store, self.token = store, token

    def record_job(self, run_id: str, record: dict) -> None:
        if not dispatch.complete(self.store, run_id, record, self.token):
            log.warning("job %s of run %s: the claim was taken over, its result is dropped", record["key"], run_id)


def handle_message(message: Any) -> None:
    """Run the job a message names, if this process can claim it. Bad messages are logged and dropped."""
    try:
        run_id, key = dispatch.validate_message(message)
    except dispatch.BadMessage as exc:
        log.error("refused a message: %s", exc)
        return
    proc = _DeviceProcess.get()
    row = dispatch.claim(proc.store, run_id, key, proc.info["worker"])
    if row is None:
        log.info("job %s of run %s: already claimed, finished or cancelled; skipped", key, run_id)
        return
    done = threading.Event()

    def keep_claim():
        while not done.wait(proc.claim_ttl_s / 3):
            dispatch.renew(proc.store, run_id, key, row["token"])

    renewer = threading.Thread(target=keep_claim, daemon=True)
    renewer.start()
    try:
        _run(proc, row, run_id, key)
    finally:
        done.set()
        renewer.join()


def _run(proc: _DeviceProcess, row: dict, run_id: str, key: str) -> None:
    planned = dispatch.job_record(proc.store, run_id, key)
    policy = Policy(**row["policy"])
    job = Job(key, ModelSpec(planned["model"], f"artifact:{row['artifact']}", {}), planned["device"]["id"],
              planned["device"], planned["config"])
    store = _ClaimedStore(proc.store, row["token"])
    if row["queue"] != proc.info["queue"]:
        store.record_job(run_id, job.record("failed", error=f"routed to {proc.info['queue']}, not {row['queue']}"))
        return
    if worst_case_s(job.config, policy) > 0.9 * proc.visibility_s:
        store.record_job(run_id, job.record("failed", error=(
            f"the job may hold its device for {worst_case_s(job.config, policy):.0f} s, longer than this worker's "
            f"visibility timeout allows ({proc.visibility_s:.0f} s); start workers with a longer --visibility-timeout")))
        return
    try:
        model_path = dispatch.get_artifact(proc.store, row["artifact"], proc.cache)
    except (FileNotFoundError, dispatch.BadMessage) as exc:
        store.record_job(run_id, job.record("failed", error=str(exc)))
        return
    device = _locate(proc.info)
    if device is None:
        store.record_job(run_id, job.record("lost", error=f"device {proc.info['serial']} is not connected to "
                                                          f"worker {proc.info['worker']}"))
        return
    trace_dir = os.path.join(proc.cache, "traces", run_id)
    ctx = RunContext(store=store, run_id=run_id, policy=policy, progress=Progress([job]),
                     execute=lambda d, j: execute(d, j, model_path, trace_dir), model_paths={job.model.name: model_path})
    worker = DeviceWorker(job.device_id, device, [job], ctx)
    worker._cool_down(rest=proc.ran_before)
    proc.ran_before = True
    worker._run_job(job)


def _locate(info: dict):
    return find(HOST_SERVER if info["server"] == HOST_SERVER else info["server"], info["serial"])


# ---------------------------------------------------------------- supervisor
def device_facts(servers: list[str], name: str, host_device: bool) -> list[dict]:
    found = [f.info for f in discover(servers) if host_device or f.info["server"] != HOST_SERVER]
    for info in found:
        info["worker"] = name
        info["queue"] = dispatch.queue_name(info if info["server"] != HOST_SERVER else {**info, "server": f"host-{name}"})
    return found


class Supervisor:
    def __init__(self, broker: str, db: str, servers: list[str], name: str, host_device: bool, settings: Settings,
                 out: TextIO | None = None):
        self.broker, self.db, self.name, self.settings = broker, db, name, settings
        self.out = out or sys.stderr
        self.store = SqlResultStore(db)
        self.devices = device_facts(servers, name, host_device)
        self.procs: dict[str, subprocess.Popen] = {}
        self.stop = threading.Event()
        self.temps: dict[str, float | None] = {}
        self.app = make_app(broker, settings.visibility_s)

    def say(self, text: str) -> None:
        print(f"[worker {self.name}] {text}", file=self.out, flush=True)

    def _spawn(self, info: dict) -> subprocess.Popen:
        env = dict(os.environ, **{BROKER_ENV: self.broker, DB_ENV: self.db, DEVICE_ENV: json.dumps(info),
                                  CLAIM_TTL_ENV: str(self.settings.claim_ttl_s),
                                  VISIBILITY_ENV: str(self.settings.visibility_s)})
        argv = [sys.executable, "-m", "celery", "-A", "pockettorch.device.farm.celery_app", "worker",
                "-Q", info["queue"], "-P", "solo", "-c", "1", "-n", f"{info['queue']}@{self.name}",
                "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"]
        return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL)

    def _beat(self) -> None:
        """Heartbeat with the devices' facts, restart dead device processes, reap, publish again."""
        dispatch.heartbeat(self.store, self.name, [dict(info, temp_c=self.temps.get(info["queue"]))
                                                    for info in self.devices])
        for info in self.devices:
            if self.procs[info["queue"]].poll() is not None:
                self.say(f"the process of {info['queue']} ended ({self.procs[info['queue']].returncode}); restarting it")
                self.procs[info["queue"]] = self._spawn(info)
        again = dispatch.reap(self.store, self.settings.claim_ttl_s, self.settings.claim_ttl_s / 2)
        sizes = waiting(self.app, [info["queue"] for info in self.devices])
        if sizes is not None:  # each worker looks after its own devices' queues
            again += dispatch.stalled(self.store, [q for q, n in sizes.items() if n == 0], self.settings.claim_ttl_s)
        if again:
            publish(self.app, again)
            self.say(f"published {len(again)} job(s) again")

    def _sample_temperatures(self) -> None:
        """A thread: a slow or busy phone must not delay the heartbeat."""
        while not self.stop.is_set():
            for info in self.devices:
                try:
                    device = _locate(info)
                    self.temps[info["queue"]] = device.sample().get("temp_c") if device else None
                except Exception:  # a device busy or gone: its temperature is unknown this time
                    self.temps[info["queue"]] = None
            self.stop.wait(self.settings.temp_every_s)

    def serve(self) -> None:
        self.say(f"serving {len(self.devices)} device(s): " + ", ".join(
            f"{d['serial']} ({d['platform']}, {d['abi']}) on {d['queue']}" for d in self.devices))
        for info in self.devices:
            self.procs[info["queue"]] = self._spawn(info)
        threading.Thread(target=self._sample_temperatures, daemon=True).start()
        try:
            while not self.stop.is_set():
                try:
                    self._beat()
                except sa.exc.OperationalError as exc:  # the database restarts: keep the devices, try again
                    self.say(f"database unreachable: {str(exc.orig or exc).splitlines()[0]}")
                self.stop.wait(self.settings.heartbeat_s)
        finally:
            for p in self.procs.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)  # Celery's warm shutdown: the running job finishes
            for p in self.procs.values():
                p.wait()
            try:
                dispatch.leave(self.store, self.name)
            except sa.exc.OperationalError:
                pass  # the database is gone: the heartbeat ages out by itself
            self.store.close()
            self.say("stopped")
