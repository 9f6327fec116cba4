"""The iOS backend behind the device interface.

Real: pymobiledevice3 11.45.0 (usbmux listing and lockdown against a unix-socket usbmuxd double), the bench
harness, the host pkt_runner that the double's app runs. Doubles: the iPhone (tests/fixtures/ios_services.py).
No mDNS, no `doctor`, no tunneld: the tunnel lookup is pointed at a loopback port where nothing listens."""
from __future__ import annotations

import json
import pathlib
import socket

import jsonschema
import pytest
import torch
from torch import nn

import pockettorch
from pockettorch import errors
from pockettorch.cli import main
from pockettorch.device.bench import BenchOptions, bench
from pockettorch.device.ios import IOSBackend, IOSDevice
from pockettorch.device.ios_services import PymobiledeviceServices

from fixtures.ios_services import PHONE_VALUES, IOSServicesDouble, UsbmuxdDouble  # noqa: E402

SCHEMA = json.loads((pathlib.Path(pockettorch.device.__file__).parent / "schemas/bench.schema.json").read_text())
UDID = "00008110-000A1B2C3D4E5F60"
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.ptm"
    pockettorch.export(nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4)), (torch.randn(1, 16),),
                       name="tiny").save(path)
    return path


@pytest.fixture(scope="module")
def runner():
    from pockettorch.runtime.build import build_runner

    return build_runner()


@pytest.fixture
def services(tmp_path, runner):
    double = IOSServicesDouble(tmp_path / "phones", runner)
    yield double
    double.close()


def _device(services, **kw) -> IOSDevice:
    services.add(UDID, **kw)
    return IOSDevice(services, UDID)


@pytest.fixture
def mux_path(tmp_path_factory):
    # AF_UNIX paths are limited to ~100 bytes; pytest's tmp paths can be longer
    return tmp_path_factory.getbasetemp() / "mux.sock"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the real adapter on a usbmuxd double
def test_real_pymobiledevice3_lists_and_reads_lockdown_through_the_usbmuxd_socket(mux_path, tmp_path):
    """Real: pymobiledevice3's usbmux.list_devices and create_using_usbmux. Double: usbmuxd + lockdownd socket."""
    with UsbmuxdDouble(mux_path, {UDID: dict(PHONE_VALUES, UniqueDeviceID=UDID)}) as mux:
        svc = PymobiledeviceServices(usbmux_address=str(mux_path), pairing_records_folder=tmp_path / "pairs",
                                     tunneld_address=("127.0.0.1", _free_port()), timeout=10)
        try:
            [device] = IOSBackend(svc).devices()
            info = device.info()
            assert (info.serial, info.platform, info.model, info.os_version) == (
                UDID, "ios", "iPhone16,1", "iOS 16.7.2 (20H115)")
            assert info.state == "unpaired" and info.extra["name"] == "Pocket iPhone"  # no pair record: never paired
            assert {"ListDevices", "Connect", "lockdown:QueryType", "lockdown:GetValue"} <= set(mux.requests)
            assert svc.tunnel_available(UDID) is False  # nothing listens where tunneld would: asked, not started
            with pytest.raises(errors.DeviceCommandFailedError, match="Trust This Computer"):
                device.check_ready()
        finally:
            svc.close()


def test_no_usbmuxd_means_no_ios_devices(tmp_path):
    svc = PymobiledeviceServices(usbmux_address=str(tmp_path / "no-such-socket"))
    try:
        assert svc.list_devices() == [] and IOSBackend(svc).devices() == []
    finally:
        svc.close()


def test_pockettorch_devices_lists_what_usbmuxd_lists(mux_path, monkeypatch, capsys):
    """Real: the CLI's discovery and pymobiledevice3 (through $USBMUXD_SOCKET_ADDRESS). Double: usbmuxd, whose
    phone refuses lockdownd (e.g. locked right after plugging in): listed as unreachable, not a crash."""
    with UsbmuxdDouble(mux_path, {UDID: None}):
        monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", str(mux_path))
        monkeypatch.delenv("ADB_SERVER_SOCKET", raising=False)
        monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(_free_port()))  # no adb server there
        assert main(["devices", "--json"]) == 0
    rows = {r["serial"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(rows) == {"host", UDID}
    assert rows[UDID]["platform"] == "ios" and rows[UDID]["state"] == "unreachable"


# ---------------------------------------------------------------- the backend on the service double
def test_bench_on_an_iphone_end_to_end(services, model):
    """Double: the iPhone (its app runs the real host runner). Real: deploy/bench/power/schema code."""
    device = _device(services, min_samples=2)
    r = bench(device, model, BenchOptions(iters=15, warmup=2, threads=1, power=True))
    jsonschema.validate(r, SCHEMA)
    assert r["device"]["platform"] == "ios" and r["model"] == "tiny" and len(r["samples_ms"]) == 15
    assert r["deploy"]["runner"] == "ai.pockettorch.bench" and r["deploy"]["model"].startswith("/Documents/model-")
    [(bundle, args)] = services.phones[UDID].launches
    model_name = r["deploy"]["model"].rsplit("/", 1)[1]
    assert bundle == "ai.pockettorch.bench" and args[:8] == ["--model", model_name, "--iterations", "15",
                                                            "--warmup", "2", "--threads", "1"]
    assert args[8] == "--output" and args[9].endswith(".json") and len(args) == 10
    p = r["power"]  # no mW on iOS: never invented; the DVT energy gauge is reported as what it is
    assert p["available"] is False and "Energy Impact" in p["reason"]
    assert 400 <= p["energy_impact_mean"] <= 500 and p["cpu_percent_mean"] == 99.0
    assert r["state_before"]["battery_level"] == 81
    assert not any(services.phones[UDID].documents("ai.pockettorch.bench").iterdir())  # cleaned up


def test_deploy_skips_a_model_already_in_documents(services, model):
    from pockettorch.device.bench import deploy

    device = _device(services)
    first, second = deploy(device, model), deploy(device, model)
    assert len(first["pushed"]) == 1 and second["pushed"] == [] and second["skipped"] == first["pushed"]


def test_missing_app_is_installed_from_the_ipa_or_explained(services, model, tmp_path, monkeypatch):
    ipa = tmp_path / "PocketTorchBench.ipa"
    ipa.write_bytes(b"PK")
    device = _device(services, apps={}, installable={str(ipa): "ai.pockettorch.bench"})
    with pytest.raises(errors.DeviceToolMissingError, match="sample_apps/ios.*POCKETTORCH_IOS_APP"):
        bench(device, model, BenchOptions(iters=2, warmup=0))
    monkeypatch.setenv("POCKETTORCH_IOS_APP", str(ipa))
    r = bench(IOSDevice(services, UDID), model, BenchOptions(iters=2, warmup=0))
    assert r["deploy"]["app"]["bundle_id"] == "ai.pockettorch.bench" and r["iters"] == 2


@pytest.mark.parametrize("phone, message", [
    (dict(values={"ProductVersion": "17.5.1"}, tunnel=False), "sudo pymobiledevice3 remote tunneld"),
    (dict(developer_mode=False), "Developer Mode is off"),
    (dict(image_mounted=False), "pymobiledevice3 mounter auto-mount"),
    (dict(paired=False), "Trust This Computer"),
])
def test_missing_prerequisites_say_what_to_run(services, model, phone, message):
    with pytest.raises(errors.PocketTorchError, match=message) as info:
        bench(_device(services, **phone), model, BenchOptions(iters=2, warmup=0))
    assert info.value.serial == UDID and not services.phones[UDID].launches


def test_ios17_with_a_tunnel_runs(services, model):
    r = bench(_device(services, values={"ProductVersion": "17.5.1"}, tunnel=True), model, BenchOptions(iters=3, warmup=0))
    assert r["device"]["os_version"].startswith("iOS 17.5.1")


def test_unplugged_mid_run_keeps_what_was_measured(services, model):
    device = _device(services)
    services.unplug(UDID, after=1.0)
    with pytest.raises(errors.DeviceDisconnectedError) as info:
        bench(device, model, BenchOptions(iters=10_000_000, warmup=0))
    partial = info.value.partial
    assert partial["device"]["serial"] == UDID and "state_before" in partial
    assert partial["iterations_completed"] == len(partial["samples_ms"]) > 0  # from the app's pkt-sample lines


def test_a_run_past_its_timeout_is_killed(services, model):
    device = _device(services, app_behaviour="hang")
    with pytest.raises(errors.DeviceTimeoutError) as info:
        bench(device, model, BenchOptions(iters=1, warmup=0, timeout=1.5))
    assert info.value.serial == UDID and "launch ai.pockettorch.bench" in info.value.command
    [proc] = services.phones[UDID].procs.values()
    assert proc.wait(timeout=10) is not None  # the app was killed through process control


def test_an_app_that_exits_without_a_result_is_reported(services, model):
    with pytest.raises(errors.DeviceCommandFailedError, match="without writing Documents/.*Fatal error"):
        bench(_device(services, app_behaviour="crash"), model, BenchOptions(iters=1, warmup=0))


def test_what_an_iphone_cannot_do_is_a_clear_error(services, model):
    device = _device(services)
    with pytest.raises(errors.NotSupportedError, match="pinned"):
        bench(device, model, BenchOptions(iters=1, warmup=0, cpus="4-7"))
    with pytest.raises(errors.NotSupportedError, match="no shell"):
        device.run(["ls", "/"], timeout=5)
    with pytest.raises(errors.InvalidArgumentError, match="directly in /Documents"):
        device.push(str(model), "/Documents/../Library/x.ptm")
