"""The farm across hosts with real servers on loopback: a private Redis (broker) and PostgreSQL (results), three
`pockettorch farm worker` processes as three "hosts", each with its own REAL adb server and two adb device DOUBLES
(tests/fixtures/adb_device.py: the phones are the only doubles; they run the real cross-built arm64 runner under
qemu-aarch64-static). Jobs are submitted with `farm submit` and followed with `farm wait`/`farm status`.

What must hold: every job ends exactly once (no double completion, nothing dropped) through a Redis restart, a
submitter that dies before sending its jobs, a worker SIGKILLed mid-job (its job is marked lost, the run completes),
and two runs at once; the same farm file gives the same job keys and report structure through `farm run`."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from pockettorch.cli import main
from pockettorch.device.farm.store import open_store

from fixtures.adb_device import AdbDeviceDouble
from fixtures.adb_server import AdbServer, find_adb
from fixtures.farm_servers import Redis, have_servers

pytestmark = pytest.mark.timeout(900)
cross = pytest.importorskip("pockettorch.runtime.cross")
if find_adb() is None or not shutil.which("qemu-aarch64-static") or not cross.have_ziglang() or not have_servers():
    pytest.skip("needs adb, qemu-aarch64-static, ziglang, redis-server and postgresql (installed by `make install`)",
                allow_module_level=True)

BENCH = "--samples"  # only the benchmark's runner command line has it
HEARTBEAT, CLAIM_TTL = "0.5", "5"
FARM = """
models:
  - zoo: mlp
devices:
  - {platform: android}
configs:
  - {threads: [1, 2], iters: 2, warmup: 0}
retry: {retries: 0, backoff_s: 0.1, max_backoff_s: 0.1}
"""


class Lab:
    """Three hosts (or `hosts`): an adb server, two phone doubles (or `phones`) and a `farm worker` process each."""

    def __init__(self, root, pg_url: str, redis: Redis, hosts: int = 3, phones: int = 2):
        self.root, self.db, self.redis, self.phones_per_host = root, pg_url, redis, phones
        self.env = dict(os.environ, POCKETTORCH_DB=pg_url, POCKETTORCH_BROKER=redis.url,
                        POCKETTORCH_FARM_CACHE=str(root / "worker-cache"),
                        USBMUXD_SOCKET_ADDRESS="/nonexistent/usbmuxd")  # no iOS devices
        self.servers, self.phones, self.workers, self.logs = [], [], {}, {}
        for h in range(hosts):
            server = AdbServer().__enter__()
            self.servers.append(server)
            for p in range(phones):
                phone = AdbDeviceDouble(root / f"h{h}p{p}", serial=f"H{h}P{p}",
                                        props={"ro.product.model": f"Double {h}.{p}",
                                               "ro.product.cpu.abi": "arm64-v8a"}).start()
                server.connect(phone)
                self.phones.append(phone)
        for h in range(hosts):
            self.start_worker(h)
        self.wait_live(hosts)

    def start_worker(self, h: int) -> None:
        log = open(self.root / f"worker{h}.log", "ab")
        self.logs[h] = self.root / f"worker{h}.log"
        self.workers[h] = subprocess.Popen(
            [sys.executable, "-m", "pockettorch.cli", "farm", "worker", "--name", f"host{h}", "--no-host-device",
             "--adb-server", f"127.0.0.1:{self.servers[h].port}", "--heartbeat", HEARTBEAT, "--claim-ttl", CLAIM_TTL],
            env=self.env, stdout=log, stderr=log, start_new_session=True)

    def wait_live(self, n: int, timeout: float = 120) -> None:
        from pockettorch.device.farm import dispatch

        deadline = time.monotonic() + timeout
        with open_store(self.db) as store:
            while time.monotonic() < deadline:
                live = dispatch.live_workers(store, float(CLAIM_TTL) / 2)
                if len(live) == n and all(len(w["devices"]) == self.phones_per_host for w in live):
                    return
                time.sleep(0.2)
        raise AssertionError(f"{n} workers did not come up: " + self.worker_logs())

    def worker_logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self.logs.values())

    def kill(self, h: int) -> None:
        os.killpg(self.workers[h].pid, signal.SIGKILL)
        self.workers[h].wait()

    def close(self) -> None:
        for p in self.workers.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.workers.values():
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        for phone in self.phones:
            phone.stop()
        for s in self.servers:
            s.__exit__(None, None, None)

    def submit(self, farm_text: str, *options: str) -> str:
        farm = self.root / "farm.yaml"
        farm.write_text(farm_text)
        r = subprocess.run([sys.executable, "-m", "pockettorch.cli", "farm", "submit", str(farm),
                            "--out", str(self.root / "models"), "--worker-ttl", "2", *options],
                           env=self.env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        assert self.redis.password not in r.stdout + r.stderr
        return r.stdout.strip().splitlines()[-1]

    def wait(self, run_id: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pockettorch.cli", "farm", "wait", run_id, "--poll", "0.2",
                               "--timeout", str(timeout)], env=self.env, capture_output=True, text=True,
                              timeout=timeout + 60)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, postgres):
    cross.build_runner_for("arm64-v8a")  # cached by source hash, before any job's clock starts
    redis = Redis().start()
    lab = Lab(tmp_path_factory.mktemp("lab"), postgres.database(), redis)
    yield lab
    lab.close()
    redis.close()


@pytest.fixture
def one_phone(tmp_path, postgres):
    """One host with one phone: it runs one job at a time, in the order its queue hands them out."""
    cross.build_runner_for("arm64-v8a")
    redis = Redis().start()
    lab = Lab(tmp_path, postgres.database(), redis, hosts=1, phones=1)
    yield lab
    lab.close()
    redis.close()


def _bench_runs(phone) -> int:
    return sum(BENCH in s for s in phone.services_opened)


def _jobs(lab: Lab, run_id: str) -> dict[str, dict]:
    with open_store(lab.db) as store:
        return {j["key"]: j for j in store.jobs(run_id)}


def test_two_runs_at_once_share_the_devices_through_a_redis_restart(lab):
    before = [_bench_runs(p) for p in lab.phones]
    first, second = lab.submit(FARM), lab.submit(FARM)
    assert first != second
    while sum(_bench_runs(p) for p in lab.phones) - sum(before) < 3:  # some jobs ran, most still queued
        time.sleep(0.05)
    lab.redis.restart()  # the queued and the unacknowledged messages are in its append-only file
    for run_id in (first, second):
        r = lab.wait(run_id)
        assert r.returncode == 0, r.stderr + lab.worker_logs()
        assert r.stdout.strip() == f"run {run_id} passed"
        jobs = _jobs(lab, run_id)
        assert len(jobs) == 12 and all(j["status"] == "passed" and len(j["samples_ms"]) == 2 for j in jobs.values())
        assert {j["device"]["serial"] for j in jobs.values()} == {p.adb_serial for p in lab.phones}
    # each of the 24 jobs ran its benchmark once: two per phone per run
    assert [_bench_runs(p) - b for p, b in zip(lab.phones, before)] == [4] * 6
    logs = lab.worker_logs()
    assert lab.redis.password not in logs and lab.db.split("@")[0].split(":")[-1] not in logs  # no password in logs


def test_a_submitter_that_dies_before_sending_leaves_a_run_the_workers_finish(lab, monkeypatch, tmp_path):
    """The submitter records the run and its jobs, then dies before publishing a message: the workers' reaper
    publishes the planned jobs and the run completes."""
    from pockettorch.device.farm import celery_app

    def die(app, rows):
        raise KeyboardInterrupt  # killed between recording the run and sending its messages

    monkeypatch.setattr(celery_app, "publish", die)
    monkeypatch.setenv("POCKETTORCH_DB", lab.db)
    monkeypatch.setenv("POCKETTORCH_BROKER", lab.redis.url)
    farm = tmp_path / "farm.yaml"
    farm.write_text(FARM)
    assert main(["farm", "submit", str(farm), "--out", str(tmp_path / "models"), "--worker-ttl", "2"]) == 130
    with open_store(lab.db) as store:
        run_id = store.runs()[-1]["id"]
    r = lab.wait(run_id)
    assert r.returncode == 0, r.stderr + lab.worker_logs()
    assert all(j["status"] == "passed" and j["attempts"] == 1 for j in _jobs(lab, run_id).values())


def test_the_same_farm_file_gives_the_same_job_keys_and_report_through_run_and_submit(lab, tmp_path, capsys):
    run_id = lab.submit(FARM)
    assert lab.wait(run_id).returncode == 0
    farm, db = tmp_path / "farm.yaml", tmp_path / "local.db"
    farm.write_text(FARM)
    servers = [a for s in lab.servers for a in ("--adb-server", f"127.0.0.1:{s.port}")]
    assert main(["farm", "run", str(farm), "--db", str(db), *servers]) == 0, capsys.readouterr().err
    with open_store(db) as store:
        local_id = store.runs()[-1]["id"]
        local = {j["key"]: j for j in store.jobs(local_id)}
    remote = _jobs(lab, run_id)
    assert set(local) == set(remote) and len(local) == 12
    for k in local:
        assert set(local[k]) == set(remote[k]) and local[k]["config"] == remote[k]["config"]
    structure = []
    for store_db, rid in ((str(db), local_id), (lab.db, run_id)):
        html = tmp_path / "r.html"
        assert main(["farm", "report", "--db", store_db, "--run", rid, "--html", str(html)]) == 0
        from test_farm_run import _svgs

        structure.append(sorted((a.get("class"), a.get("data-device"), a["bars"] > 0) for a in _svgs(html.read_text())
                                if a.get("class") != "history-plot"))  # the shared database holds earlier runs too
    assert structure[0] == structure[1]


def test_a_worker_killed_mid_job_marks_that_job_lost_and_the_run_completes(lab):
    victim = lab.phones[0]  # on host0
    victim.hang_command(BENCH, 600)
    before = [_bench_runs(p) for p in lab.phones]
    run_id = lab.submit(FARM)
    while _bench_runs(victim) == before[0]:
        time.sleep(0.05)
    lab.kill(0)  # the whole host: supervisor and device processes, SIGKILL
    r = lab.wait(run_id)
    assert r.returncode == 1 and f"run {run_id} incomplete" in r.stdout, r.stderr
    jobs = _jobs(lab, run_id)
    host0 = {p.adb_serial for p in lab.phones[:2]}
    hung = sorted((j for j in jobs.values() if j["device"]["serial"] == victim.adb_serial), key=lambda j: j["status"])
    assert [j["status"] for j in hung] == ["lost", "not_run"], [(j["key"], j["status"], j["error"]) for j in hung]
    assert "the worker host0 running it stopped answering" in hung[0]["error"] and "lost" in hung[1]["error"]
    # host0's other phone: what it finished before the kill is kept, the rest is lost or not run
    assert {j["status"] for j in jobs.values() if j["device"]["serial"] == lab.phones[1].adb_serial} <= {
        "passed", "lost", "not_run"}
    assert all(j["status"] == "passed" for j in jobs.values() if j["device"]["serial"] not in host0)
    # the host comes back: its redelivered or still-queued messages find their jobs ended and do nothing
    victim.clear_faults()
    lab.start_worker(0)
    lab.wait_live(3)
    time.sleep(2)
    assert _jobs(lab, run_id) == jobs
    assert [_bench_runs(p) - b for p, b in zip(lab.phones[2:], before[2:])] == [2] * 4


def _iters_farm(iters: str) -> str:
    """FARM with one job per phone for each of `iters`."""
    return FARM.replace("{threads: [1, 2], iters: 2, warmup: 0}", f"{{iters: [{iters}], warmup: 0}}")


def test_a_higher_priority_run_overtakes_the_queued_jobs_of_a_lower_one(one_phone):
    import sqlalchemy as sa

    from pockettorch.device.farm.store_sql import jobs as table

    lab, phone = one_phone, one_phone.phones[0]
    gate = phone.hold_command(BENCH)  # the low run's first job keeps the phone busy until the high run is queued
    low = lab.submit(_iters_farm("1, 2, 3"), "--priority", "2")
    while _bench_runs(phone) == 0:
        time.sleep(0.05)
    high = lab.submit(_iters_farm("4, 5"), "--priority", "8")
    gate.set()
    for run_id in (low, high):
        r = lab.wait(run_id)
        assert r.returncode == 0, r.stderr + lab.worker_logs()
    # one phone, one job at a time: the order the store recorded the jobs ending in is the order they started in
    with open_store(lab.db) as store, store.engine.connect() as con:
        order = con.execute(sa.select(table.c.run_id, table.c.config).where(table.c.run_id.in_([low, high]))
                            .order_by(table.c.updated)).all()
    assert [(run_id, json.loads(config)["iters"]) for run_id, config in order] == [
        (low, 1), (high, 4), (high, 5), (low, 2), (low, 3)]  # FIFO within each run's priority
    r = subprocess.run([sys.executable, "-m", "pockettorch.cli", "farm", "status", high], env=lab.env,
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.startswith(f"run {high} passed, priority 8: 0 queued, 0 running, 2 done"), r.stdout + r.stderr


def test_jobs_whose_messages_the_broker_lost_are_published_again_and_run_once(one_phone):
    """Redis loses the queued messages (here deleted while the phone runs the first job, as a broker that died
    between a pop and its unacknowledged record or lost its data would): the store still has the jobs queued, the
    phone's worker finds its queue empty and idle, publishes them again, and each job runs once."""
    import redis

    lab, phone = one_phone, one_phone.phones[0]
    gate = phone.hold_command(BENCH)
    run_id = lab.submit(_iters_farm("1, 2, 3"))
    while _bench_runs(phone) == 0:
        time.sleep(0.05)
    client = redis.Redis.from_url(lab.redis.url)
    lost = [k for k in client.keys("pkt.*") if client.type(k) == b"list"]
    assert lost and client.delete(*lost)  # the two queued messages are gone
    gate.set()
    r = lab.wait(run_id)
    assert r.returncode == 0, r.stderr + lab.worker_logs()
    assert all(j["status"] == "passed" and j["attempts"] == 1 for j in _jobs(lab, run_id).values())
    assert _bench_runs(phone) == 3 and "published 2 job(s) again" in lab.worker_logs()


@pytest.mark.slow
def test_load_504_small_jobs_over_six_phones_on_three_workers_each_stored_once(lab):
    """Two minutes or more on a busy 2-core machine: every job runs the real runner under qemu."""
    import sqlalchemy as sa

    from pockettorch.device.farm.store_sql import dispatch

    before = [_bench_runs(p) for p in lab.phones]
    iters = ", ".join(str(i) for i in range(1, 85))  # 84 configs x 6 phones
    run_id = lab.submit(FARM.replace("{threads: [1, 2], iters: 2, warmup: 0}", f"{{iters: [{iters}], warmup: 0}}"))
    r = lab.wait(run_id, timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:] + lab.worker_logs()
    jobs = _jobs(lab, run_id)
    assert len(jobs) == 504 and all(j["status"] == "passed" and j["attempts"] == 1 for j in jobs.values())
    assert all(len(j["samples_ms"]) == j["config"]["iters"] for j in jobs.values())
    with open_store(lab.db) as store, store.engine.connect() as con:
        claims = con.execute(sa.select(dispatch.c.claims, sa.func.count()).where(dispatch.c.run_id == run_id)
                             .group_by(dispatch.c.claims)).all()
    assert claims == [(1, 504)]  # every job was claimed once and completed once
    assert [_bench_runs(p) - b for p, b in zip(lab.phones, before)] == [84] * 6
