"""Ctrl-C: a real SIGINT to `pockettorch farm run`'s process group (a subprocess, on the host) stops the run, marks
it interrupted and keeps every finished job (the job whose runner the signal killed is not a failure but not
run); `--resume` then runs only what is left. The zoo model is
exported with its reference and every job verifies its outputs on the device."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from pockettorch.device.farm.store import ResultStore

pytestmark = pytest.mark.timeout(300)
FARM = """
models:
  - zoo: mlp
    export: {reference: true}
devices: [host]
configs:
  - {threads: [1, 2, 3], iters: 5000, warmup: 1, verify: true}
"""


def _farm(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from pockettorch.cli import main; sys.exit(main())", "farm", *args]


def test_ctrl_c_keeps_finished_jobs_and_resume_finishes_the_run(tmp_path):
    farm, db = tmp_path / "farm.yaml", tmp_path / "r.db"
    farm.write_text(FARM)
    proc = subprocess.Popen(_farm("run", str(farm), "--db", str(db)), stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("[ passed]"):
            os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the farm and the host runner it started
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 1, "".join(seen) + rest
    assert "interrupted" in rest and "--resume" in rest

    with ResultStore(db) as store:
        (run,) = store.runs()
        jobs = store.jobs(run["id"])
    assert run["status"] == "interrupted"
    assert jobs[0]["status"] == "passed" and jobs[0]["verify"]["pass"] and len(jobs[0]["samples_ms"]) == 5000
    assert jobs[-1]["status"] == "not_run"
    finished = {j["key"]: j["samples_ms"] for j in jobs if j["status"] == "passed"}

    done = subprocess.run(_farm("run", str(farm), "--db", str(db), "--resume", run["id"]), capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert f"resuming {run['id']}: {3 - len(finished)} job(s) to run" in done.stderr
    with ResultStore(db) as store:
        after = store.jobs(run["id"])
        assert store.run(run["id"])["status"] == "passed"
    assert all(j["status"] == "passed" and j["verify"]["pass"] for j in after)
    assert {j["key"]: j["samples_ms"] for j in after if j["key"] in finished} == finished
