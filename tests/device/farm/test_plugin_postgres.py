"""The pytest plugin's `--pkt-db` with a postgresql:// URL (a private PostgreSQL server on loopback): an inner pytest
session (pytester) benchmarks the zoo's mlp on the host with the real runner and its results land in PostgreSQL,
where `farm report` reads them like a farm run's."""
from __future__ import annotations

import pytest

from pockettorch.cli import main
from pockettorch.device.farm.store import open_store

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.timeout(300)


@pytest.mark.slow  # an inner pytest process imports torch and exports the model: minutes on a busy 2-core machine
def test_a_session_stores_its_benchmarks_in_postgresql(pytester, pg_url, tmp_path, monkeypatch):
    from pockettorch.runtime.build import default_cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(default_cache_dir().parent))  # pytester moves HOME; keep the cache
    pytester.makepyfile("""
        def test_bench(pkt_device, pkt_bench):
            assert pkt_bench("mlp", iterations=3, warmup=0)["iters"] == 3
    """)
    pytester.runpytest_subprocess("--pkt-device", "host", "--pkt-db", pg_url).assert_outcomes(passed=1)
    with open_store(pg_url) as store:
        [run] = store.runs()
        [job] = store.jobs(run["id"])
    assert run["status"] == "passed" and job["status"] == "passed" and len(job["samples_ms"]) == 3
    assert job["device"]["serial"] == "host" and job["model"] == "mlp"
    assert main(["farm", "report", "--db", pg_url, "--html", str(tmp_path / "r.html")]) == 0
    assert "test_bench" in (tmp_path / "r.html").read_text()
