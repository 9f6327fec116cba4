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


def _garbage(db):
    db.write_bytes(bytes(range(256)) * 64)


def _truncated(db):
    """A real store with a run of many samples (many pages), cut in half as an interrupted copy would."""
    with ResultStore(db) as store:
        run = store.create_run({"farm": "x"})
        for i in range(20):
            store.record_job(run, _job(f"m{i}@host#t=1", samples=tuple(float(k) for k in range(300))))
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = db.read_bytes()
    db.write_bytes(data[:len(data) // 2])


def _foreign(db):
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    con.execute("INSERT INTO notes (text) VALUES ('mine')")
    con.commit()
    con.close()


@pytest.mark.parametrize("damage", [_garbage, _truncated, _foreign])
def test_a_damaged_store_is_a_catalogue_error_naming_the_file_for_every_command(tmp_path, damage, capsys):
    from pockettorch import errors
    from pockettorch.cli import main

    db = tmp_path / "r.db"
    damage(db)
    before = db.read_bytes()
    with pytest.raises(errors.IoError, match=f"{db} is not a readable PocketTorch results store"):
        with ResultStore(db) as store:
            for run in store.runs():
                store.jobs(run["id"])
    farm = tmp_path / "farm.yaml"
    farm.write_text("models: [zoo: mlp]\ndevices: [host]\n")
    for argv in (["runs"], ["report", "--html", str(tmp_path / "r.html")], ["run", str(farm)],
                 ["run", str(farm), "--resume", "r1"]):
        assert main(["farm", *argv, "--db", str(db)]) == 1, argv
        err = capsys.readouterr().err
        assert err.startswith(f"Error: {db} is not a readable PocketTorch results store") and "PKT_IO" in err, (argv, err)
        assert "Traceback" not in err
    if damage is _foreign:
        assert db.read_bytes() == before  # someone else's database is left as it was


def test_a_version_1_store_is_upgraded_in_place(tmp_path):
    db = tmp_path / "r.db"
    with ResultStore(db) as store:
        run = store.create_run({"farm": "x"}, run_id="old")
        store.record_job(run, _job("a@host#t=1"))
    con = sqlite3.connect(db)
    con.executescript("DROP TABLE leases; PRAGMA user_version=1;")
    con.close()
    with ResultStore(db) as store:
        assert [j["key"] for j in store.jobs("old")] == ["a@host#t=1"]
        store.take_lease("old")


def test_one_controller_at_a_time_holds_a_run_and_an_expired_lease_is_taken_over(tmp_path):
    from pockettorch.device.farm.store import LeaseHeld

    db = tmp_path / "r.db"
    with ResultStore(db) as a, ResultStore(db) as b:
        run = a.create_run({}, run_id="r1")
        with a.lease(run):
            a.take_lease(run)  # renewing one's own lease is fine
            with pytest.raises(LeaseHeld, match=r"run r1 is being run by another controller \(.*:\d+, host:pid\)"):
                b.take_lease(run)
        b.take_lease(run)  # released
        with pytest.raises(LeaseHeld):
            a.take_lease(run)
        b.take_lease(run, ttl_s=-1.0)  # as if b had crashed a while ago: its lease is over
        a.take_lease(run)
