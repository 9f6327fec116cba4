"""The numerical debugger on an Android phone: the adb device double in tests/fixtures (arm64-v8a, running pushed
aarch64 binaries under qemu-aarch64-static) behind a REAL adb server. The runner is really cross-built, as a test
build with fault injection (PKT_FAULT_INJECTION): its `--dump` output is pulled back through adb and compared with
eager, and the perturbed op must be named first with its source line. Only the phone is a double."""
from __future__ import annotations

import pathlib
import shutil
import sys

import pytest

import pockettorch
from pockettorch.device.android import AndroidBackend

from fixtures.adb_device import AdbDeviceDouble  # noqa: E402
from fixtures.adb_server import AdbServer, find_adb  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "debug"))
from debug_support import assert_first_divergence, build  # noqa: E402

pytestmark = pytest.mark.timeout(900)
cross = pytest.importorskip("pockettorch.runtime.cross")
if find_adb() is None or not shutil.which("qemu-aarch64-static") or not cross.have_ziglang():
    pytest.skip("needs adb (adbutils), qemu-aarch64-static and ziglang (installed by `make install`)",
                allow_module_level=True)

PHONE = {"ro.product.manufacturer": "Pocket", "ro.product.model": "Double 9", "ro.product.cpu.abi": "arm64-v8a"}


@pytest.fixture(scope="module")
def fault_runner():
    return str(cross.build_runner_for("arm64-v8a", fault_injection=True))


@pytest.fixture(scope="module")
def phone(tmp_path_factory):
    with AdbServer() as server:
        double = AdbDeviceDouble(tmp_path_factory.mktemp("phone"), props=PHONE).start()
        server.connect(double)
        try:
            backend = AndroidBackend(f"127.0.0.1:{server.port}")
            yield double, next(d for d in backend.devices() if d.serial == double.adb_serial)
        finally:
            server.disconnect(double)
            double.stop()


def test_fault_on_the_phone_is_named_first_with_its_line(phone, fault_runner):
    double, device = phone
    model, inputs = build()
    report = pockettorch.debug(model, inputs, device=device, runner=fault_runner,
                               env={"PKT_FAULT_INJECT": "layer_norm"})
    assert report.where == double.adb_serial and report.isa == "neon"
    assert_first_divergence(report, "layer_norm", "NORM_LINE", "h = self.norm(h)")
    assert not any(pathlib.Path(double.root, "data/local/tmp/pockettorch").glob("*"))  # cleaned up


def test_no_fault_on_the_phone_no_divergence(phone, fault_runner):
    _, device = phone
    model, inputs = build()
    report = pockettorch.debug(model, inputs, device=device, runner=fault_runner, isa="portable")
    assert report.first is None and all(r["compared"] for r in report.rows), report.table()
    assert report.isa == "portable"  # --isa reaches the phone's runner (PKT_MAX_ISA)
