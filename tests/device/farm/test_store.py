"""The SQLite results store: jobs written one at a time survive a reopen, updates keep plan order, samples
and metrics are queryable, bad statuses are refused."""
from __future__ import annotations

import sqlite3

import pytest

from pockettorch.device.farm.store import ResultStore


def _job(key, status="passed", samples=(1.0, 2.0, 3.0), **extra):
    result = {"schema": "pockettorch.bench/1", "latency_ms": {"median": sorted(samples)[len(samples) // 2], "p90": max(samples)},
              "samples_ms": list(samples), "peak_rss_kb": 1000, "power": {"available": True, "energy_per_inference_mj": 0.5}}
    return {"key": key, "model": key.split("@")[0], "device": {"serial": "host", "platform": "host", "name": "h", "abi": "x86_64"},
            "config": {"threads": 1}, "status": status, "attempts": 1, "result": result if status == "passed" else None,
            "error": None if status == "passed" else "boom", "trace": None, **extra}


def test_jobs_survive_reopen_and_updates_keep_plan_order(tmp_path):
    db = tmp_path / "r.db"
    with ResultStore(db) as store:
        run = store.create_run({"farm": "x"})
        store.record_job(run, _job("b@host#t=1", status="not_run"))
        store.record_job(run, _job("a@host#t=1", model_bytes=1234, verify={"pass": True}))
    with ResultStore(db) as store:  # a second process would see the same
        store.record_job(run, _job("b@host#t=1", samples=(4.0, 5.0, 6.0)))
        jobs = store.jobs(run)
        assert [j["key"] for j in jobs] == ["b@host#t=1", "a@host#t=1"]
        assert jobs[0]["status"] == "passed" and jobs[0]["samples_ms"] == [4.0, 5.0, 6.0] and jobs[0]["median_ms"] == 5.0
        assert jobs[1]["model_bytes"] == 1234 and jobs[1]["verify"] == {"pass": True} and jobs[1]["energy_mj"] == 0.5
        assert jobs[1]["device"]["serial"] == "host" and jobs[1]["result"]["schema"] == "pockettorch.bench/1"
        store.finish_run(run, "passed")
        assert [(r["id"], r["status"], r["config"]) for r in store.runs()] == [(run, "passed", {"farm": "x"})]
        assert store.history("b@host#t=1") == [(run, 5.0)]
    rows = sqlite3.connect(db).execute("SELECT COUNT(*) FROM samples").fetchone()[0]
    assert rows == 6


def test_bad_status_and_unknown_run_are_refused(tmp_path):
    with ResultStore(tmp_path / "r.db") as store:
        run = store.create_run({}, run_id="r1")
        assert run == "r1"
        with pytest.raises(ValueError, match="status"):
            store.record_job(run, _job("a@host", status="done"))
        with pytest.raises(KeyError, match="no run 'nope'"):
            store.run("nope")
