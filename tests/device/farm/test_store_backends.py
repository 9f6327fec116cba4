"""The results store behaves the same on SQLite and on a real PostgreSQL server (private, on loopback): plan order
kept across updates, samples and metrics, history across runs, bad statuses and unknown runs refused, one controller
per run through the lease; `farm report` (HTML, JUnit, gate) and `farm runs` work with either `--db`."""
from __future__ import annotations

import pytest

from pockettorch.cli import main
from pockettorch.device.farm.store import LeaseHeld, open_store

from test_store import _job


def test_jobs_metrics_history_and_plan_order_on_either_store(store_db):
    with open_store(store_db) as store:
        first = store.create_run({"farm": "x"}, run_id="r1")
        store.record_job(first, _job("b@host#t=1", status="not_run"))
        store.record_job(first, _job("a@host#t=1", model_bytes=1234, verify={"pass": True}))
        store.finish_run(first, "failed")
    with open_store(store_db) as store:  # another process sees the same
        second = store.create_run({"farm": "x"}, run_id="r2")
        store.record_job(first, _job("b@host#t=1", samples=(4.0, 5.0, 6.0)))
        store.record_job(second, _job("b@host#t=1", samples=(7.0, 8.0, 9.0)))
        jobs = store.jobs(first)
        assert [j["key"] for j in jobs] == ["b@host#t=1", "a@host#t=1"]
        assert jobs[0]["status"] == "passed" and jobs[0]["samples_ms"] == [4.0, 5.0, 6.0] and jobs[0]["median_ms"] == 5.0
        assert jobs[1]["model_bytes"] == 1234 and jobs[1]["verify"] == {"pass": True} and jobs[1]["energy_mj"] == 0.5
        assert jobs[1]["samples_ms"] == [1.0, 2.0, 3.0] and jobs[1]["result"]["schema"] == "pockettorch.bench/1"
        assert store.samples(first, "a@host#t=1") == [1.0, 2.0, 3.0]
        assert [(r["id"], r["status"], r["config"]) for r in store.runs()] == [
            ("r1", "failed", {"farm": "x"}), ("r2", "running", {"farm": "x"})]
        assert store.history("b@host#t=1") == [("r1", 5.0), ("r2", 8.0)]
        with pytest.raises(ValueError, match="status"):
            store.record_job(first, _job("c@host", status="done"))
        with pytest.raises(KeyError, match="no run 'nope'"):
            store.run("nope")
        with pytest.raises(ValueError, match="metric"):
            store.history("b@host#t=1", "bogus")


def test_one_controller_per_run_on_either_store(store_db):
    with open_store(store_db) as a, open_store(store_db) as b:
        run = a.create_run({}, run_id="r1")
        with a.lease(run):
            a.take_lease(run)
            with pytest.raises(LeaseHeld, match=r"run r1 is being run by another controller"):
                b.take_lease(run)
        b.take_lease(run)
        with pytest.raises(LeaseHeld):
            a.take_lease(run)
        b.take_lease(run, ttl_s=-1.0)
        a.take_lease(run)


def test_report_junit_gate_and_runs_commands_on_either_store(store_db, tmp_path, capsys):
    with open_store(store_db) as store:
        base = store.create_run({}, run_id="base")
        store.record_job(base, _job("m@host#t=1", samples=(1.0, 1.0, 1.0)))
        store.finish_run(base, "passed")
        new = store.create_run({}, run_id="new")
        store.record_job(new, _job("m@host#t=1", samples=(3.0, 3.0, 3.0)))
        store.finish_run(new, "passed")
    html, junit = tmp_path / "r.html", tmp_path / "j.xml"
    assert main(["farm", "report", "--db", store_db, "--run", "base", "--html", str(html), "--junit", str(junit)]) == 0
    assert 'class="latency-plot"' in html.read_text() and "<testsuite" in junit.read_text()
    assert main(["farm", "report", "--db", store_db, "--run", "new", "--html", str(html),
                 "--baseline", "base"]) == 1
    out = capsys.readouterr()
    assert "REGRESSION m@host#t=1" in out.out and "regressed against base" in out.err
    assert main(["farm", "runs", "--db", store_db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[:2] for ln in lines] == [["base", "passed"], ["new", "passed"]]


def test_a_bad_password_is_a_catalogue_error_that_does_not_show_it(postgres, capsys):
    url = postgres.url().replace(postgres.password, "not-the-password-42")
    assert main(["farm", "runs", "--db", url]) == 1
    err = capsys.readouterr().err
    assert "PKT_IO" in err and "cannot open the results database" in err and "Traceback" not in err
    assert "not-the-password-42" not in err and "***" in err
