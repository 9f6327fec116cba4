"""`pockettorch farm serve` over a real PostgreSQL store (private server on loopback), driven in headless Debian
chromium through Playwright (executablePath: /usr/bin/chromium; Playwright downloads no browser). The store is
filled through its own API (runs, jobs, the dispatch states and worker heartbeats that workers would write), so the
pages show real rows: the runs list, a running run's live progress, the report's plots, device status, the comparison
of two runs, and cancel refused without the API token and done with it. A screenshot of a run page is checked."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from pockettorch.device.farm import dispatch
from pockettorch.device.farm.store import open_store

from fixtures.farm_servers import free_port
from test_store import _job

pytestmark = pytest.mark.timeout(300)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TOKEN = "t0ken-for-the-dashboard-test"


def _device(serial: str) -> dict:
    return {"serial": serial, "platform": "android", "name": serial, "model": f"Pixel {serial}", "abi": "arm64-v8a",
            "server": "127.0.0.1:5037", "id": serial}


def _fill(url: str) -> tuple[str, str]:
    """A finished baseline and a running run on two phones; one job still queued, one phone busy."""
    with open_store(url) as store:
        base = store.create_run({}, run_id="base-run")
        for serial in ("P1", "P2"):
            store.record_job(base, dict(_job(f"mlp@{serial}#t=1", samples=(1.0, 1.1, 1.2)), device=_device(serial)))
        store.finish_run(base, "passed")
        new = store.create_run({"submitted": True, "priority": 7}, run_id="new-run")
        store.record_job(new, dict(_job("mlp@P1#t=1", samples=(3.0, 3.1, 3.2)), device=_device("P1")))
        store.record_job(new, dict(_job("mlp@P2#t=1", status="not_run"), device=_device("P2")))
        policy = {"retries": 0, "backoff_s": 1, "max_backoff_s": 1, "cooldown_s": 0, "until_temp_c": None,
                  "max_wait_s": 0}
        dispatch.enqueue(store, new, [{"key": "mlp@P1#t=1", "queue": "pkt.q.P1", "artifact": None, "policy": policy,
                                       "state": "done"},
                                      {"key": "mlp@P2#t=1", "queue": "pkt.q.P2", "artifact": None, "policy": policy}])
        dispatch.heartbeat(store, "lab-1", [dict(_device("P1"), queue="pkt.q.P1", worker="lab-1", temp_c=31.5),
                                            dict(_device("P2"), queue="pkt.q.P2", worker="lab-1", temp_c=None)])
        assert dispatch.claim(store, new, "mlp@P2#t=1", "lab-1") is not None  # P2 is busy with it
    return base, new


@pytest.fixture
def dashboard(pg_url, tmp_path):
    if not CHROMIUM:
        pytest.skip("needs Debian's chromium (make chromium)")
    pytest.importorskip("playwright")
    _fill(pg_url)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "pockettorch.cli", "farm", "serve", "--port", str(port),
                             "--api-token-file", str(token_file)], env=dict(os.environ, POCKETTORCH_DB=pg_url),
                            stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/", timeout=5).read()
            break
        except (urllib.error.URLError, ConnectionError):
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
    yield base, pg_url
    proc.terminate()
    proc.wait(30)


def test_dashboard_pages_in_headless_chromium(dashboard, tmp_path):
    from PIL import Image
    from playwright.sync_api import sync_playwright

    base, url = dashboard
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(base + "/")
        rows = page.locator("#runs tr")
        assert rows.count() == 3
        assert rows.nth(1).inner_text().split()[:3] == ["new-run", "running", "7"]  # its priority
        assert rows.nth(2).inner_text().split("\t")[1:3] == ["passed", ""]  # a `farm run` run has none

        page.click("text=new-run")
        assert page.locator("#status").inner_text() == "running: 1 of 2 job(s) ended"
        assert page.locator("meta[http-equiv=refresh]").count() == 1  # live while running
        assert page.locator("#priority").inner_text() == "priority 7"
        jobs = page.locator("#jobs tr")
        assert jobs.count() == 3 and "running" in jobs.nth(2).inner_text()
        frame = page.frame_locator("#report")
        frame.locator("svg.latency-plot").first.wait_for()
        plots = frame.locator("svg.latency-plot")  # the report's plots: P1's (P2's job has not run yet)
        assert plots.count() == 1 and plots.first.get_attribute("data-device") == "P1"
        shot = page.screenshot(full_page=False)
        with Image.open(io.BytesIO(shot)) as img:
            rgb = img.convert("RGB")
            assert rgb.size == (1100, 900)
            bar = page.locator("#progress div").bounding_box()
            assert bar["width"] > 100  # half of the 30em bar
            assert rgb.getpixel((int(bar["x"] + 5), int(bar["y"] + bar["height"] / 2))) == (0x2e, 0x7d, 0x32)
            assert len(rgb.getcolors(maxcolors=1 << 24)) > 20  # text, tables and the report were drawn, not a blank page

        # the job ends on the worker: the page shows it on its next refresh
        with open_store(url) as store:
            token = dispatch.claim(store, "new-run", "mlp@P2#t=1", "x")  # already running: no second claim
            assert token is None
            import sqlalchemy as sa

            from pockettorch.device.farm.store_sql import dispatch as table

            with store.engine.connect() as con:
                held = con.execute(sa.select(table.c.token).where(table.c.key == "mlp@P2#t=1")).scalar()
            assert dispatch.complete(store, "new-run", dict(_job("mlp@P2#t=1"), device=_device("P2")), held)
        page.wait_for_function("document.querySelector('#status').innerText.startsWith('passed')", timeout=20000)
        assert page.locator("meta[http-equiv=refresh]").count() == 0

        page.goto(base + "/devices")
        devices = [page.locator("#devices tr").nth(i).inner_text().split("\t") for i in (1, 2)]
        assert [d[1] for d in devices] == ["P1", "P2"] and [d[5] for d in devices] == ["idle", "idle"]
        assert devices[0][6] == "31.5"

        page.goto(base + "/")
        page.select_option("select[name=base]", "base-run")
        page.select_option("select[name=run]", "new-run")
        page.click("button:text('compare')")
        assert "regressed" in page.locator("#verdict").inner_text()
        assert "mlp@P1#t=1\t1.100\t3.100\t+181.8%" in page.locator("#compare").inner_text()  # 1.1 ms -> 3.1 ms
        browser.close()


def test_cancel_needs_the_api_token(dashboard):
    base, url = dashboard
    with open_store(url) as store:
        store.create_run({}, run_id="queued-run")
        store.record_job("queued-run", dict(_job("mlp@P1#t=2", status="not_run"), device=_device("P1")))
        dispatch.enqueue(store, "queued-run", [{"key": "mlp@P1#t=2", "queue": "pkt.q.P1", "artifact": None,
                                                "policy": {}}])
    for token in ("", "wrong"):
        req = urllib.request.Request(base + "/runs/queued-run/cancel", data=f"token={token}".encode(), method="POST")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        assert err.value.code == 403
    with open_store(url) as store:
        assert store.run("queued-run")["status"] == "running"
    req = urllib.request.Request(base + "/runs/queued-run/cancel", data=b"", method="POST",
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    urllib.request.urlopen(req, timeout=10).read()
    with open_store(url) as store:
        assert store.run("queued-run")["status"] == "cancelled"
        assert [j["error"] for j in store.jobs("queued-run")] == ["cancelled"]
