"""`pockettorch farm run` over the host and three adb device DOUBLES (tests/fixtures/adb_device.py) attached to
two REAL adb servers on loopback (adbutils' bundled adb, mDNS and USB off), the way a device lab shares phones
between hosts. The doubles run the real cross-built arm64 runner under qemu-aarch64-static; only the phones
are doubles. One double disappears in the middle of its first benchmark and comes back before `--resume`;
the report of the finished run has a latency plot per model x device and the phones' energy per inference
(battery current x voltage that the doubles report)."""
from __future__ import annotations

import html.parser
import shutil
import threading
import time

import pytest

from pockettorch.cli import main
from pockettorch.device.farm.store import ResultStore

from fixtures.adb_device import AdbDeviceDouble
from fixtures.adb_server import AdbServer, find_adb

pytestmark = pytest.mark.timeout(600)
cross = pytest.importorskip("pockettorch.runtime.cross")
if find_adb() is None or not shutil.which("qemu-aarch64-static") or not cross.have_ziglang():
    pytest.skip("needs adb (adbutils), qemu-aarch64-static and ziglang (installed by `make install`)",
                allow_module_level=True)

BENCH = "--samples"  # only the benchmark's runner command line has it (verify's does not)
FARM = """
models:
  - zoo: mlp
devices:
  - host
  - {platform: android, abi: arm64-v8a}
configs:
  - {threads: [1, 2], iters: 4, warmup: 1, power: true}
retry: {retries: 1, backoff_s: 0.2, max_backoff_s: 1}
"""


def _phone(root, name):
    return AdbDeviceDouble(root, serial=name, props={"ro.product.model": f"Double {name}",
                                                     "ro.product.cpu.abi": "arm64-v8a"}).start()


def _bench_runs(double) -> int:
    return sum(BENCH in s for s in double.services_opened)


def _vanish_during_first_bench(double) -> threading.Thread:
    """The phone hangs in its first benchmark (the runner never answers), then leaves: cable pulled."""
    double.hang_command(BENCH, 120)

    def watch():
        deadline = time.monotonic() + 300
        while _bench_runs(double) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        double.stop()

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    return t


def _svgs(text: str) -> list[dict]:
    """Each <svg> element's attributes, with the number of bars (<rect class="bar">) inside it."""
    class Parser(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.svgs: list[dict] = []

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "svg":
                self.svgs.append(dict(a, bars=0))
            elif tag == "rect" and a.get("class") == "bar":
                self.svgs[-1]["bars"] += 1

    p = Parser()
    p.feed(text)
    return p.svgs


def test_lost_device_is_marked_and_resume_finishes_without_repeating_jobs(tmp_path, capsys):
    cross.build_runner_for("arm64-v8a")  # cached by source hash; built before the clock of any job starts
    with AdbServer() as lab_a, AdbServer() as lab_b:
        phones = [_phone(tmp_path / f"p{i}", f"PKT{i}") for i in range(3)]
        try:
            for p, server in zip(phones, (lab_a, lab_a, lab_b)):
                server.connect(p)
            flaky = phones[1]
            watcher = _vanish_during_first_bench(flaky)
            farm, db = tmp_path / "farm.yaml", tmp_path / "results.db"
            farm.write_text(FARM)
            servers = ["--adb-server", f"127.0.0.1:{lab_a.port}", "--adb-server", f"127.0.0.1:{lab_b.port}"]
            code = main(["farm", "run", str(farm), "--db", str(db), *servers])
            watcher.join(5)
            err = capsys.readouterr().err
            assert code == 1 and "incomplete" in err and "--resume" in err, err
            assert "[   lost]" in err and "running" in err  # the progress display

            with ResultStore(db) as store:
                (run,) = store.runs()
                assert run["status"] == "incomplete"
                jobs = {j["key"]: j for j in store.jobs(run["id"])}
            assert len(jobs) == 8  # (host + 3 phones) x threads 1, 2
            by_device = {}
            for j in jobs.values():
                by_device.setdefault(j["device"]["serial"], []).append(j)
            assert set(by_device) == {"host", *(p.adb_serial for p in phones)}
            assert {by_device[phones[2].adb_serial][0]["device"]["server"]} == {f"127.0.0.1:{lab_b.port}"}
            for serial, js in by_device.items():
                if serial == flaky.adb_serial:
                    continue
                for j in js:  # everything the other devices measured is stored
                    assert j["status"] == "passed" and len(j["samples_ms"]) == 4 and j["result"]["iters"] == 4, j
                    assert j["trace"] and j["model_bytes"] > 0
            lost = sorted(by_device[flaky.adb_serial], key=lambda j: j["status"])
            assert [j["status"] for j in lost] == ["lost", "not_run"]
            assert lost[0]["attempts"] == 2 and "Disconnected" in lost[0]["error"]
            assert "lost" in lost[1]["error"]
            before = {k: j["samples_ms"] for k, j in jobs.items() if j["status"] == "passed"}

            # the phone is plugged in again: same port, same serial, same command log
            flaky.clear_faults()
            flaky.start(port=flaky.port)
            lab_a.connect(flaky)
            code = main(["farm", "run", str(farm), "--db", str(db), "--resume", run["id"], *servers])
            out = capsys.readouterr()
            assert code == 0, out.err
            assert "resuming" in out.err and "2 job(s) to run" in out.err

            with ResultStore(db) as store:
                assert [r["status"] for r in store.runs()] == ["passed"]
                after = {j["key"]: j for j in store.jobs(run["id"])}
            assert all(j["status"] == "passed" for j in after.values())
            assert {k: after[k]["samples_ms"] for k in before} == before  # finished jobs were not re-run
            # no job ran twice: one benchmark per job on each phone, plus the one cut short on the flaky one
            assert [_bench_runs(p) for p in phones] == [2, 3, 2]

            report = tmp_path / "report.html"
            assert main(["farm", "report", "--db", str(db), "--html", str(report)]) == 0
            svgs = _svgs(report.read_text())
            assert sorted(a["data-device"] for a in svgs if a.get("class") == "latency-plot") == sorted(by_device)
            energy = [a for a in svgs if a.get("class") == "energy-plot"]
            assert len(energy) == 1 and energy[0]["bars"] >= 6  # 3 phones x 2 configs (+ the host where RAPL is readable)
        finally:
            for p in phones:
                p.stop()
