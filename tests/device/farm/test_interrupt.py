"""Ctrl-C: a real SIGINT to `pockettorch farm run`'s process group (a subprocess, on the host), as a terminal sends
it. The first lets the running job finish (its result and verification stored), runs nothing more and marks the run
interrupted; `--resume` then runs only what is left. A second Ctrl-C stops at once: the running job's runner is
killed (no process left behind) and the job stays not_run. The zoo model is exported with its reference and every
job verifies its outputs on the device."""
from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from pockettorch.device.farm.store import ResultStore

pytestmark = pytest.mark.timeout(300)
FARM = """
models:
  - zoo: mlp
    export: {{reference: true}}
devices: [host]
configs:
  - {{threads: [1, 2, 3], iters: {iters}, warmup: 1, verify: true}}
"""


def _farm(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from pockettorch.cli import main; sys.exit(main())", "farm", *args]


def _start(tmp_path, iters: int) -> tuple[subprocess.Popen, pathlib.Path]:
    farm, db = tmp_path / "farm.yaml", tmp_path / "r.db"
    farm.write_text(FARM.format(iters=iters))
    proc = subprocess.Popen(_farm("run", str(farm), "--db", str(db)), stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    return proc, db


def _read_until(proc, prefix: str, seen: list[str]) -> None:
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(prefix):
            return
    raise AssertionError("".join(seen))


def _host_runners(pid: int) -> list[int]:
    """Processes still running from the farm process's host work folder (its runners)."""
    mark = f"pockettorch-host-{os.getuid()}-{pid}".encode()
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if mark in f.read():
                    found.append(int(entry))
        except (OSError, ValueError):
            pass
    return found


def test_ctrl_c_lets_the_running_job_finish_and_resume_finishes_the_run(tmp_path):
    proc, db = _start(tmp_path, iters=20000)
    seen: list[str] = []
    _read_until(proc, "[  start]", seen)  # the first job's runner is measuring now
    os.killpg(proc.pid, signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 1, "".join(seen) + rest
    assert "letting the running jobs finish" in rest and "interrupted" in rest and "--resume" in rest

    with ResultStore(db) as store:
        (run,) = store.runs()
        jobs = store.jobs(run["id"])
    assert run["status"] == "interrupted"
    first = jobs[0]
    assert first["status"] == "passed" and first["verify"]["pass"] and len(first["samples_ms"]) == 20000, rest
    assert [j["status"] for j in jobs[1:]] == ["not_run", "not_run"]

    done = subprocess.run(_farm("run", str(tmp_path / "farm.yaml"), "--db", str(db), "--resume", run["id"]),
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert f"resuming {run['id']}: 2 job(s) to run" in done.stderr
    with ResultStore(db) as store:
        after = store.jobs(run["id"])
        assert store.run(run["id"])["status"] == "passed"
    assert all(j["status"] == "passed" and j["verify"]["pass"] for j in after)
    assert after[0]["samples_ms"] == first["samples_ms"]  # the finished job was not run again


def test_a_second_ctrl_c_stops_at_once(tmp_path):
    proc, db = _start(tmp_path, iters=10**7)  # minutes of work: only the second Ctrl-C can end it in time
    seen: list[str] = []
    _read_until(proc, "[  start]", seen)
    deadline = time.monotonic() + 120
    while not _host_runners(proc.pid):  # the job's runner is measuring (after the deploy)
        assert time.monotonic() < deadline, "".join(seen)
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _read_until(proc, "interrupted: letting the running jobs finish", seen)
    os.killpg(proc.pid, signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == 130, "".join(seen) + rest
    assert "abandoned the running jobs" in rest
    assert _host_runners(proc.pid) == []
    with ResultStore(db) as store:
        (run,) = store.runs()
        assert run["status"] == "interrupted"
        assert [j["status"] for j in store.jobs(run["id"])] == ["not_run"] * 3
