"""Android devices through a real adb server (adbutils). Every call has a timeout; every command line is
quoted; adb and socket failures become the catalogue's device errors with command, output and serial."""
from __future__ import annotations

import os
import re
import socket
import stat
import struct
import time
from typing import Any, Sequence

import adbutils

from pockettorch.device.base import Backend, Device, DeviceInfo, RunResult, quote_command
from pockettorch.runtime import error_catalogue as errors

WORKDIR = "/data/local/tmp/pockettorch"
BATTERY = "/sys/class/power_supply/battery"
# On-device power monitors (e.g. Pixel ODPM), the rails Perfetto's power data source reads:
# lines like "CH0(T=123)[VSYS_PWR_SOC], 3312345" with energy in microjoules; T is when the monitor
# read the counter (ms since boot), which times the energy better than when we happened to read the file.
RAILS = "/sys/bus/iio/devices/iio:device*/energy_value"
RAIL_LINE = re.compile(r"(?:\(T=(\d+)\))?\[([^\]]+)\],\s*(\d+)")
CONNECT_TIMEOUT = 10.0


def parse_server(spec: str | None) -> tuple[str, int]:
    """'host:port', 'tcp:host:port' (ADB_SERVER_SOCKET's form) or None for 127.0.0.1:5037."""
    spec = spec or os.environ.get("ADB_SERVER_SOCKET") or ""
    spec = spec.removeprefix("tcp:")
    if not spec:
        return "127.0.0.1", int(os.environ.get("ANDROID_ADB_SERVER_PORT", "5037"))
    host, _, port = spec.rpartition(":")
    if not host or not port.isdigit():
        raise errors.InvalidArgumentError(f"adb server '{spec}' is not host:port")
    return host, int(port)


def _lost(exc: Exception) -> bool:
    text = str(exc).lower()
    return isinstance(exc, (ConnectionError, EOFError, BrokenPipeError)) or any(
        w in text for w in ("closed", "reset", "not found", "offline", "eof", "broken pipe"))


class AndroidDevice(Device):
    workdir = WORKDIR

    def __init__(self, client: adbutils.AdbClient, serial: str, state: str = "device"):
        self.client = client
        self.serial = serial
        self.adb_state = state
        self._info: DeviceInfo | None = None

    def _device(self) -> adbutils.AdbDevice:
        return self.client.device(self.serial)

    def _error(self, exc: Exception, command: str, output: str = "", lost: bool = False) -> errors.PocketTorchError:
        """The catalogue error for an adb failure; `lost`: the failure cut a running command short."""
        if isinstance(exc, (socket.timeout, TimeoutError, adbutils.AdbTimeout)):
            return errors.DeviceTimeoutError(f"{self.serial}: `{command}` timed out", serial=self.serial,
                                             command=command, output=output, exit_code=None)
        if "no space left" in str(exc).lower() or "no space left" in output.lower():
            return errors.DeviceStorageFullError(f"{self.serial}: no space left on the device for `{command}`",
                                                 serial=self.serial, command=command, output=str(exc), exit_code=None)
        if _lost(exc) or lost:
            return errors.DeviceDisconnectedError(f"{self.serial} disconnected during `{command}`: {exc}",
                                                  serial=self.serial, command=command, output=output, exit_code=None)
        return errors.DeviceCommandFailedError(f"{self.serial}: `{command}` failed: {exc}", serial=self.serial,
                                               command=command, output=output, exit_code=None)

    def _shell_v2(self, command: str, timeout: float) -> tuple[int | None, bytes, bytes, Exception | None]:
        """Shell protocol v2, read packet by packet so the output received before a lost transport or a
        timeout is kept: (exit code or None, stdout, stderr, the error that cut it short or None)."""
        out, err = bytearray(), bytearray()
        deadline = time.monotonic() + timeout  # the socket timeout is per read; this bounds the whole command
        try:
            c = self._device().open_transport(timeout=timeout)
        except (adbutils.AdbError, OSError, EOFError) as exc:
            return None, b"", b"", exc
        try:
            c.send_command(f"shell,v2:{command}")
            c.check_okay()
            while True:
                header = c.read_exact(5)
                kind, length = header[0], struct.unpack("<I", header[1:5])[0]
                data = c.read_exact(length) if length else b""
                if kind == 1:
                    out += data
                elif kind == 2:
                    err += data
                elif kind == 3:
                    return data[0] if data else 0, bytes(out), bytes(err), None
                if time.monotonic() > deadline:
                    return None, bytes(out), bytes(err), TimeoutError(f"still running after {timeout:g} s")
        except (adbutils.AdbError, OSError, EOFError) as exc:
            return None, bytes(out), bytes(err), exc
        finally:
            c.close()

    def run(self, argv: Sequence[str], timeout: float, check: bool = True) -> RunResult:
        command = quote_command(argv)
        t0 = time.perf_counter()
        code, out_b, err_b, exc = self._shell_v2(command, timeout)
        out, err = out_b.decode("utf-8", "replace"), err_b.decode("utf-8", "replace")
        if exc is not None:
            # a shell stream that ends without adbd's exit packet means the transport went away
            e = self._error(exc, command, out, lost=True)
            e.stderr = err  # what the command printed before it was cut short
            raise e from None
        result = RunResult(list(map(str, argv)), code, out, err, time.perf_counter() - t0)
        if check and code != 0:
            text = out + err
            if "no space left" in text.lower():
                raise errors.DeviceStorageFullError(f"{self.serial}: no space left on the device", serial=self.serial,
                                                    command=command, output=text, exit_code=code)
            raise errors.DeviceCommandFailedError(f"{self.serial}: `{command}` exited with {code}: {text.strip()[-500:]}",
                                                  serial=self.serial, command=command, output=text, exit_code=code)
        return result

    def _shell(self, command: str, timeout: float = 20.0) -> str:
        return self.run(["sh", "-c", command], timeout=timeout, check=False).stdout

    def push(self, local: str, remote: str, timeout: float = 120.0) -> None:
        command = f"push {local} {remote}"
        self.run(["mkdir", "-p", os.path.dirname(remote)], timeout=30)
        try:
            reason = self._send(local, remote)
        except (adbutils.AdbError, OSError, EOFError) as exc:
            raise self._error(exc, command) from None
        if reason is not None:  # adbd's own words, e.g. "write failed: No space left on device"
            raise self._error(adbutils.AdbError(reason), command, reason)

    def _send(self, local: str, remote: str) -> str | None:
        """The sync SEND exchange (adbutils' push drops adbd's FAIL reason, which we need to report).
        Returns None on success or the device's failure message."""
        with self._device().sync._prepare_sync(f"{remote},{stat.S_IFREG | 0o755}", "SEND") as c, open(local, "rb") as f:
            for chunk in iter(lambda: f.read(64 * 1024), b""):
                c.conn.sendall(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
            c.conn.sendall(b"DONE" + struct.pack("<I", int(time.time())))
            status = c.read_string(4)
            if status == "OKAY":
                c.read_exact(4)
                return None
            length = struct.unpack("<I", c.read_exact(4))[0]
            return c.read_exact(length).decode("utf-8", "replace") if status == "FAIL" else f"unexpected reply {status!r}"

    def pull(self, remote: str, local: str, timeout: float = 120.0) -> None:
        command = f"pull {remote} {local}"
        try:
            self._device().sync.pull(remote, local)
        except (adbutils.AdbError, OSError, EOFError) as exc:
            raise self._error(exc, command) from None

    def _props(self, names: Sequence[str]) -> dict[str, str]:
        out = self._shell("; ".join(f"echo {n}=$(getprop {n})" for n in names))
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def info(self) -> DeviceInfo:
        if self._info is None:
            p = self._props(["ro.product.manufacturer", "ro.product.model", "ro.soc.model", "ro.board.platform",
                             "ro.hardware", "ro.product.cpu.abi", "ro.build.version.release", "ro.build.version.sdk"])
            cores = self._shell("ls -d /sys/devices/system/cpu/cpu[0-9]* | wc -l").strip()
            model = " ".join(v for v in (p.get("ro.product.manufacturer"), p.get("ro.product.model")) if v)
            self._info = DeviceInfo(
                serial=self.serial, platform="android", model=model, state=self.adb_state,
                soc=p.get("ro.soc.model") or p.get("ro.board.platform") or p.get("ro.hardware", ""),
                abi=p.get("ro.product.cpu.abi", ""), cores=int(cores) if cores.isdigit() else 0,
                os_version=f"Android {p.get('ro.build.version.release', '?')} (SDK {p.get('ro.build.version.sdk', '?')})")
        return self._info

    def sample(self) -> dict[str, float]:
        out = self._shell(f"cat {BATTERY}/current_now {BATTERY}/voltage_now 2>/dev/null; echo ---; "
                          f"cat /sys/class/thermal/thermal_zone*/temp 2>/dev/null; echo ---; cat {RAILS} 2>/dev/null",
                          timeout=10)
        battery, _, rest = out.partition("---")
        temps, _, rails = rest.partition("---")
        values = [float(v) for v in battery.split() if v.lstrip("-").isdigit()]
        reading: dict[str, float] = {}
        if len(values) == 2:
            reading["current_ua"], reading["voltage_uv"] = values
        t = [float(v) / 1000 for v in temps.split() if v.lstrip("-").isdigit() and 0 < float(v) < 200000]
        if t:
            reading["temp_c"] = max(t)
        found = RAIL_LINE.findall(rails)
        rail_uj = {name: float(v) for _, name, v in found}
        if rail_uj:  # measured energy beats battery current x voltage when the device has power rails
            reading.update({f"rail_{name}_uj": v for name, v in rail_uj.items()})
            reading["energy_uj"] = sum(rail_uj.values())
            stamps = [float(t) for t, _, _ in found if t]
            if stamps:
                reading["energy_t_s"] = max(stamps) / 1000
        return reading

    def state(self) -> dict[str, Any]:
        out = self._shell(
            "for c in /sys/devices/system/cpu/cpu[0-9]*; do echo freq ${c##*/} $(cat $c/cpufreq/scaling_cur_freq "
            "2>/dev/null); done; echo governor $(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null); "
            f"echo level $(cat {BATTERY}/capacity 2>/dev/null); echo status $(cat {BATTERY}/status 2>/dev/null); "
            "echo thermal $(dumpsys thermalservice 2>/dev/null | grep -m1 'Thermal Status' | tr -dc 0-9)", timeout=30)
        freqs, st = {}, {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "freq" and parts[2].isdigit():
                freqs[parts[1]] = int(parts[2])
            elif len(parts) == 2:
                st[parts[0]] = parts[1]
        result: dict[str, Any] = {
            "cores": len(freqs) or self.info().cores, "cpu_freq_khz": freqs or None, "governor": st.get("governor"),
            "battery_level": int(st["level"]) if st.get("level", "").isdigit() else None,
            "battery_status": st.get("status"), "charging": st.get("status") in ("Charging", "Full"),
            "thermal_status": int(st["thermal"]) if st.get("thermal", "").isdigit() else None,
        }
        result.update(self.sample())
        return result


class AndroidBackend(Backend):
    name = "android"

    def __init__(self, server: str | None = None, socket_timeout: float = CONNECT_TIMEOUT):
        self.host, self.port = parse_server(server)
        self.client = adbutils.AdbClient(host=self.host, port=self.port, socket_timeout=socket_timeout)

    def server_running(self) -> bool:
        """Probe the server ourselves: adbutils would otherwise start a local server as a side effect."""
        try:
            socket.create_connection((self.host, self.port), timeout=2.0).close()
            return True
        except OSError:
            return False

    def devices(self) -> list[Device]:
        """Every device the adb server knows; none (not an error) when no server answers."""
        if not self.server_running():
            self.note = (f"no adb server at {self.host}:{self.port}: start one with `adb start-server` "
                         f"to list Android devices")
            return []
        try:
            return [AndroidDevice(self.client, d.serial, d.state) for d in self.client.list()]
        except (adbutils.AdbError, OSError) as exc:
            self.note = f"the adb server at {self.host}:{self.port} did not list its devices: {exc}"
            return []
