"""The per-device policy against a REAL adb server and adb device DOUBLES (tests/fixtures/adb_device.py; the
real arm64 runner under qemu): a dropped connection that adb re-establishes is retried and the job passes;
a hot phone is not benchmarked until it has cooled below the farm file's temperature."""
from __future__ import annotations

import shutil
import threading

import pytest

from pockettorch.cli import main
from pockettorch.device.farm.store import ResultStore

from fixtures.adb_device import AdbDeviceDouble
from fixtures.adb_server import AdbServer, find_adb

pytestmark = pytest.mark.timeout(300)
cross = pytest.importorskip("pockettorch.runtime.cross")
if find_adb() is None or not shutil.which("qemu-aarch64-static") or not cross.have_ziglang():
    pytest.skip("needs adb (adbutils), qemu-aarch64-static and ziglang (installed by `make install`)",
                allow_module_level=True)

BENCH = "--samples"


@pytest.fixture
def phone(tmp_path):
    cross.build_runner_for("arm64-v8a")  # cached by source hash
    with AdbServer() as server:
        double = AdbDeviceDouble(tmp_path / "phone", serial="PKTPOLICY").start()
        server.connect(double)
        try:
            yield server, double
        finally:
            double.stop()


def _run(tmp_path, server, farm: str) -> list[dict]:
    (tmp_path / "farm.yaml").write_text(farm)
    db = tmp_path / "r.db"
    assert main(["farm", "run", str(tmp_path / "farm.yaml"), "--db", str(db), "--adb-server",
                 f"127.0.0.1:{server.port}"]) == 0
    with ResultStore(db) as store:
        return store.jobs(store.runs()[-1]["id"])


def test_a_dropped_connection_is_retried(phone, tmp_path):
    """Deterministic under load: the fault is one-shot from inside the double (the cable is pulled once, when the
    first benchmark starts), not cleared by a polling thread that could clear it before the double acted on it
    (which made the job pass at its first attempt), and the retries leave the adb server ample time to
    reconnect."""
    server, double = phone
    pull_cable = double.drop_connections

    def pull_once():
        double.clear_faults()  # later benchmarks run normally; the adb server reconnects to the double by itself
        pull_cable()

    double.drop_connections = pull_once
    double.drop_on_command(BENCH, after=0.0)  # the first benchmark loses the connection at once
    (job,) = _run(tmp_path, server, "models: [zoo: mlp]\ndevices: [{platform: android}]\n"
                                    "configs: [{iters: 3, warmup: 0}]\nretry: {retries: 8, backoff_s: 0.5, max_backoff_s: 4}\n")
    assert job["status"] == "passed" and job["attempts"] >= 2 and len(job["samples_ms"]) == 3
    assert sum(BENCH in s for s in double.services_opened) >= 2  # the cut one and the one that passed


def test_a_hot_phone_cools_down_before_its_job(phone, tmp_path):
    server, double = phone
    for zone in range(4):
        double.set_thermal(zone, 30_000)
    double.set_thermal(0, 65_000)
    timer = threading.Timer(2.5, double.set_thermal, (0, 35_000))
    timer.start()
    try:
        (job,) = _run(tmp_path, server, "models: [zoo: mlp]\ndevices: [{platform: android}]\n"
                                        "configs: [{iters: 3, warmup: 0}]\ncooldown: {until_temp_c: 40, max_wait_s: 60}\n")
    finally:
        timer.cancel()
    assert job["status"] == "passed"
    assert job["result"]["state_before"]["temp_c"] <= 40  # measured only once the phone was cool
