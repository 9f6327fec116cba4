"""Two controllers on one unfinished run (`farm run --resume RUN_ID` in two real processes) must not both run its
jobs: the store's lease lets the first run them, and the second is refused while the first holds it. The first
is kept busy deterministically by a long cool-down between its jobs, then stopped with Ctrl-C (which releases the
lease); a third controller then finishes the run. Every job runs exactly once."""
from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from pockettorch.device.farm import run as farm_run
from pockettorch.device.farm.store import ResultStore

pytestmark = pytest.mark.timeout(300)
FARM = """
models: [zoo: mlp]
devices: [host]
configs:
  - {threads: [1, 2], iters: 20, warmup: 1}
cooldown: {seconds: 3600}
"""


def _resume(db, run_id) -> list[str]:
    return [sys.executable, "-c", "import sys; from pockettorch.cli import main; sys.exit(main())",
            "farm", "run", "unused.yaml", "--db", str(db), "--resume", run_id]


def test_a_second_controller_is_refused_while_the_first_holds_the_run(tmp_path):
    (tmp_path / "farm.yaml").write_text(FARM)
    (tmp_path / "unused.yaml").write_text("")  # --resume reads the run's recorded configuration, not this file
    db = tmp_path / "r.db"
    with ResultStore(db) as store:  # a run planned and recorded (all not_run), as a crashed controller leaves it
        run_id, _, jobs = farm_run.start(store, str(tmp_path / "farm.yaml"), [], str(tmp_path / "runs"))
        store.finish_run(run_id, "interrupted")
    first = subprocess.Popen(_resume(db, run_id), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             cwd=tmp_path)
    seen = []
    while not (line := first.stderr.readline()).startswith("[ passed]"):  # job 1 done; resting an hour before job 2
        assert line, "".join(seen)
        seen.append(line)

    second = subprocess.run(_resume(db, run_id), capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert second.returncode == 1 and f"run {run_id} is being run by another controller" in second.stderr, second.stderr
    assert "[  start]" not in second.stderr and "Traceback" not in second.stderr

    first.send_signal(signal.SIGINT)  # stops the rest; the lease is released
    rest = first.stderr.read()
    assert first.wait(timeout=60) == 1, rest
    with ResultStore(db) as store:
        assert [j["status"] for j in store.jobs(run_id)] == ["passed", "not_run"]

    third = subprocess.run(_resume(db, run_id), capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert third.returncode == 0, third.stderr
    assert f"resuming {run_id}: 1 job(s) to run" in third.stderr, third.stderr
    assert "".join(seen).count("[  start]") + rest.count("[  start]") + third.stderr.count("[  start]") == len(jobs)
