"""The Android backend end to end: `pockettorch` talks to a REAL adb server (adbutils' bundled adb on a
private loopback port, mDNS and USB off) that is connected to the adb device double in tests/fixtures,
which reports arm64-v8a and runs the pushed, really cross-built aarch64 runner under qemu-aarch64-static.
Only the phone is a double; the runner, the adb server and the client are the real ones."""
from __future__ import annotations

import json
import pathlib
import shutil

import jsonschema
import pytest
import torch
from torch import nn

import pockettorch
from pockettorch import errors, quant
from pockettorch.cli import main
from pockettorch.device.android import AndroidBackend
from pockettorch.device.bench import BenchOptions, bench, verify

from fixtures.adb_device import AdbDeviceDouble  # noqa: E402
from fixtures.adb_server import AdbServer, find_adb  # noqa: E402
from support import QuantNet  # noqa: E402

pytestmark = pytest.mark.timeout(300)
cross = pytest.importorskip("pockettorch.runtime.cross")
if find_adb() is None or not shutil.which("qemu-aarch64-static") or not cross.have_ziglang():
    pytest.skip("needs adb (adbutils), qemu-aarch64-static and ziglang (installed by `make install`)",
                allow_module_level=True)

SCHEMA = json.loads((pathlib.Path(pockettorch.device.__file__).parent / "schemas/bench.schema.json").read_text())
PHONE = {"ro.product.manufacturer": "Pocket", "ro.product.model": "Double 9", "ro.soc.model": "SM8650",
         "ro.product.cpu.abi": "arm64-v8a", "ro.build.version.release": "15", "ro.build.version.sdk": "35"}


@pytest.fixture(scope="module")
def server():
    with AdbServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def runner():
    return cross.build_runner_for("arm64-v8a")  # cached by source hash after the first (~45 s) build


@pytest.fixture
def phone(server, tmp_path, monkeypatch, runner):
    made = []

    def make(**kw):
        dev = AdbDeviceDouble(tmp_path / f"phone{len(made)}", props=PHONE, **kw).start()
        made.append(dev)
        server.connect(dev)
        return dev

    monkeypatch.setenv("ADB_SERVER_SOCKET", f"tcp:127.0.0.1:{server.port}")
    monkeypatch.delenv("ANDROID_SERIAL", raising=False)
    yield make
    for dev in made:
        server.disconnect(dev)
        dev.stop()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 5))
    path = tmp_path_factory.mktemp("model") / "tiny.ptm"
    pockettorch.export(m, (torch.randn(1, 3, 8, 8),), name="tiny", reference=True).save(path)
    return path


class KeywordSpotter(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm, self.fc = nn.LSTM(16, 32, batch_first=True), nn.Linear(32, 4)

    def forward(self, x):
        return self.fc(self.lstm(x)[0][:, -1])


def _quantized_cases():
    """name -> (module, inputs, scheme, an op the program must hold)."""
    g = torch.Generator().manual_seed(2)
    torch.manual_seed(2)
    return {
        "int8": (QuantNet(), (torch.randn(1, 2, 6, 6, generator=g),),
                 quant.int8([(torch.randn(1, 2, 6, 6, generator=g),) for _ in range(4)]), "qconv2d"),
        "int8_dynamic": (KeywordSpotter(), (torch.randn(2, 7, 16, generator=g),), quant.int8_dynamic(),
                         "qlstm_dynamic"),
        "w4": (nn.Sequential(nn.Linear(64, 96), nn.GELU(), nn.Linear(96, 8)), (torch.randn(3, 64, generator=g),),
               quant.weight_only(bits=4, group_size=32), "linear_wo"),
    }


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    """name -> (program path, the op it must run): each program's REFERENCE section holds the Python runtime's
    outputs on the host (not eager's), so `verify` on the phone checks the arm64 runner against them."""
    out = {}
    folder = tmp_path_factory.mktemp("quantized")
    for name, (module, inputs, scheme, op) in _quantized_cases().items():
        program = pockettorch.export(module.eval(), inputs, name=name, reference=True, quantization=scheme)
        with pockettorch.load(program.to_bytes()) as host:
            outputs = host.run_numpy([t.numpy() for t in inputs])
        program.reference = (program.reference[0], outputs)
        program._bytes = None
        program.save(folder / f"{name}.ptm")
        out[name] = (folder / f"{name}.ptm", op)
    return out


@pytest.mark.parametrize("name", ["int8", "int8_dynamic", "w4"])
def test_quantized_programs_run_unchanged_on_the_phone(server, phone, quantized, name):
    """Static int8, dynamic int8 (an LSTM) and int4 weight-only programs through the harness like any model: the
    arm64 runner on the double (NEON int8 / weight-only kernels) gives the host Python runtime's outputs."""
    path, op = quantized[name]
    device = _device(server, phone())
    r = verify(device, path, tol=1e-5)
    assert r["pass"] and r["model"] == name, r
    b = bench(device, path, BenchOptions(iters=3, warmup=1, profile_ops=True))
    assert b["isa"] == "neon" and op in {o["op"] for o in b["ops"]}, b["ops"]


def _device(server, double):
    backend = AndroidBackend(f"127.0.0.1:{server.port}")
    return next(d for d in backend.devices() if d.serial == double.adb_serial)


def test_devices_lists_the_phone_with_its_details(server, phone, capsys):
    double = phone()
    assert main(["devices", "--json"]) == 0
    rows = {r["serial"]: r for r in json.loads(capsys.readouterr().out)}
    r = rows[double.adb_serial]
    assert (r["platform"], r["abi"], r["model"], r["soc"]) == ("android", "arm64-v8a", "Pocket Double 9", "SM8650")
    assert r["os_version"] == "Android 15 (SDK 35)" and r["state"] == "device" and r["cores"] == 8
    assert "host" in rows


def test_bench_runs_the_arm64_runner_and_measures_power(server, phone, model, tmp_path):
    double = phone()
    double.play_battery([{"current_now": -400_000, "voltage_now": 3_900_000, "status": "Discharging"},
                         {"current_now": -600_000, "voltage_now": 3_880_000, "status": "Discharging"}],
                        interval=0.05, loop=True)
    device = _device(server, double)
    r = bench(device, model, BenchOptions(iters=20, warmup=2, profile_ops=True, power=True))
    jsonschema.validate(r, SCHEMA)
    assert r["isa"] == "neon" and r["device"]["abi"] == "arm64-v8a" and r["model"] == "tiny"
    assert len(r["samples_ms"]) == 20 and {o["op"] for o in r["ops"]} >= {"conv2d", "linear"}
    p = r["power"]
    assert p["available"] and 1500 <= p["average_mw"] <= 2400  # between 0.4 A x 3.9 V and 0.6 A x 3.88 V
    assert p["energy_per_inference_mj"] > 0 and p["sample_rate_hz"] > 0 and "caveat" not in p
    assert r["state_before"]["battery_status"] == "Discharging"
    assert not double.disk_usage() or not any(pathlib.Path(double.root, "data/local/tmp/pockettorch").glob("*"))


def test_power_rails_are_preferred_and_traced(server, phone, model):
    """A device with on-device power monitors (Pixel ODPM files, which Perfetto's power rails read): energy
    counters that grow at 700 mW (SoC) + 300 mW (DDR) give ~1000 mW, and the trace carries power counters."""
    import threading
    import time

    from pockettorch.device.trace import build_trace

    double = phone(battery={"status": "Charging"})  # rails measure consumption even while charging
    stop = threading.Event()

    def rails():
        t0 = time.monotonic()
        while not stop.is_set():
            t = time.monotonic() - t0
            double.write_file("/sys/bus/iio/devices/iio:device0/energy_value",
                              f"t={int(t * 1000)}\nCH0(T={int(t * 1000)})[VSYS_PWR_SOC], {int(700_000 * t)}\n"
                              f"CH1(T={int(t * 1000)})[VSYS_PWR_DDR], {int(300_000 * t)}\n")
            stop.wait(0.01)

    writer = threading.Thread(target=rails, daemon=True)
    writer.start()
    try:
        r = bench(_device(server, double), model, BenchOptions(iters=300, warmup=2, power=True))
    finally:
        stop.set()
        writer.join()
    p = r["power"]
    # timed by the counters' own T stamps, so a late reader (a loaded host) does not skew the power
    assert p["source"].startswith("energy counters") and 980 <= p["average_mw"] <= 1020 and "caveat" not in p
    assert any(k.startswith("rail_VSYS_PWR_SOC") for k in p["samples"][0])
    counters = [e for e in build_trace(r)["traceEvents"] if e["ph"] == "C"]
    assert {e["name"] for e in counters} >= {"power (mW)"}


def test_charging_adds_the_caveat(server, phone, model):
    double = phone(battery={"status": "Charging", "current_now": 500_000})
    r = bench(_device(server, double), model, BenchOptions(iters=5, warmup=0, power=True))
    assert "charging" in r["power"]["caveat"]


def test_verify_on_the_phone(server, phone, model):
    double = phone()
    r = verify(_device(server, double), model)
    assert r["pass"] and r["device"]["abi"] == "arm64-v8a"


def test_disconnect_mid_run_keeps_what_was_measured(server, phone, model, tmp_path, capsys):
    double = phone()
    double.drop_on_command("--iters", after=0.5)  # the measured run, not the deploy's chmod
    out = tmp_path / "r.json"
    code = main(["bench", str(model), "--device", double.adb_serial, "--iters", "100000", "--json", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "disconnected" in err
    partial = json.loads(out.read_text())
    assert partial["device"]["serial"] == double.adb_serial and "state_before" in partial and partial["error"]
    # the latencies the runner streamed before the drop are kept, with their statistics
    assert partial["iterations_completed"] == len(partial["samples_ms"]) > 0
    assert partial["latency_ms"]["min"] <= partial["latency_ms"]["median"]


def test_a_run_past_its_timeout_is_stopped_and_keeps_its_samples(server, phone, model):
    double = phone()
    with pytest.raises(errors.DeviceTimeoutError) as info:
        bench(_device(server, double), model, BenchOptions(iters=1_000_000, warmup=0, timeout=2))
    assert info.value.partial["iterations_completed"] > 0


def test_a_hung_run_times_out(server, phone, model):
    double = phone()
    double.hang_command("--iters", 60)
    with pytest.raises(errors.DeviceTimeoutError) as info:
        bench(_device(server, double), model, BenchOptions(iters=1, warmup=0, timeout=3))
    assert info.value.serial == double.adb_serial and "pkt_runner" in info.value.command


def test_a_full_disk_is_reported(server, phone, model):
    double = phone(quota_bytes=200_000)  # the runner alone is larger
    with pytest.raises(errors.DeviceStorageFullError, match="no space left"):
        bench(_device(server, double), model, BenchOptions(iters=1, warmup=0))


def test_android_serial_selects_the_phone_and_unknown_serials_list_devices(server, phone, model, monkeypatch, capsys):
    double = phone()
    monkeypatch.setenv("ANDROID_SERIAL", double.adb_serial)
    assert main(["verify", str(model)]) == 0
    assert double.adb_serial in capsys.readouterr().out
    assert main(["bench", str(model), "--device", "emulator-5554"]) == 1
    err = capsys.readouterr().err
    assert "no device 'emulator-5554'" in err and double.adb_serial in err


def test_shell_metacharacters_in_model_names_do_not_reach_the_shell(server, phone, model, tmp_path):
    double = phone()
    evil = tmp_path / "x'; touch pwned; echo $(touch pwned2) `touch pwned3` '.ptm"
    evil.write_bytes(model.read_bytes())
    r = bench(_device(server, double), evil, BenchOptions(iters=2, warmup=0, keep=True))
    assert r["model"] == "tiny"
    assert not list(pathlib.Path(double.root).rglob("pwned*"))
