"""The host as a device: the runner runs as a subprocess on this machine, in its own session, so a terminal's
Ctrl-C reaches the controller (which lets a running job finish) and not the runner; `stop_all` ends them at once."""
from __future__ import annotations

import glob
import os
import platform
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from typing import Any, Sequence

from pockettorch.device.base import Backend, Device, DeviceInfo, RunResult, quote_command
from pockettorch.runtime import error_catalogue as errors

ABI_OF_MACHINE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64-v8a", "arm64": "arm64-v8a",
                  "armv7l": "armeabi-v7a", "i686": "x86", "i386": "x86"}


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _cpu_model() -> str:
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        if line.lower().startswith(("model name", "hardware", "cpu model")):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its session: the runner and anything it started (taskset's child)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all() -> None:
    """Kill every command the host devices of this process are running (a second Ctrl-C: stop at once)."""
    with _RUNNING_LOCK:
        procs = list(_RUNNING)
    for proc in procs:
        _kill(proc)


class RaplMeter:
    """Package energy from Linux powercap (RAPL) when readable; otherwise unavailable."""

    def __init__(self):
        self.paths = [p for p in glob.glob("/sys/class/powercap/intel-rapl:*/energy_uj") if os.access(p, os.R_OK)]

    @property
    def available(self) -> bool:
        return bool(self.paths)

    def energy_uj(self) -> float | None:
        values = [_read(p) for p in self.paths]
        return sum(float(v) for v in values if v) if self.paths and all(values) else None


class HostDevice(Device):
    serial = "host"

    def __init__(self, workdir: str | None = None):
        # per process: two benchmarks on one host must not clean up each other's files
        self.workdir = workdir or os.path.join(tempfile.gettempdir(), f"pockettorch-host-{os.getuid()}-{os.getpid()}")
        self.rapl = RaplMeter()

    def info(self) -> DeviceInfo:
        return DeviceInfo(serial="host", platform="host", model=platform.node(), soc=_cpu_model(),
                          abi=ABI_OF_MACHINE.get(platform.machine().lower(), platform.machine()),
                          os_version=f"{platform.system()} {platform.release()}", cores=os.cpu_count() or 1)

    def push(self, local: str, remote: str, timeout: float = 120.0) -> None:
        os.makedirs(os.path.dirname(remote) or ".", exist_ok=True)
        try:
            shutil.copyfile(local, remote)
            shutil.copymode(local, remote)
        except OSError as exc:
            cls = errors.DeviceStorageFullError if exc.errno == 28 else errors.DeviceCommandFailedError
            raise cls(f"copying {local} to {remote} failed: {exc.strerror}", serial="host", command=f"copy {local}",
                      output=str(exc), exit_code=None) from None

    def pull(self, remote: str, local: str, timeout: float = 120.0) -> None:
        self.push(remote, local, timeout)

    def run(self, argv: Sequence[str], timeout: float, check: bool = True) -> RunResult:
        argv = [str(a) for a in argv]
        t0 = time.perf_counter()
        try:
            p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        except FileNotFoundError:
            raise errors.DeviceCommandFailedError(f"{argv[0]} not found on the host", serial="host",
                                                  command=quote_command(argv), output="", exit_code=127) from None
        with _RUNNING_LOCK:
            _RUNNING.add(p)
        try:
            stdout, stderr = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(p)
            stdout, stderr = p.communicate()
            raise errors.DeviceTimeoutError(f"`{quote_command(argv)}` did not finish within {timeout:g} s", serial="host",
                                            command=quote_command(argv), output=stdout, stderr=stderr,
                                            exit_code=None) from None
        except BaseException:  # KeyboardInterrupt in a single `bench`: the runner must not outlive us
            _kill(p)
            p.wait()
            raise
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(p)
        result = RunResult(argv, p.returncode, stdout, stderr, time.perf_counter() - t0)
        if check and p.returncode != 0:
            raise errors.DeviceCommandFailedError(
                f"`{quote_command(argv)}` exited with {p.returncode}: {(stderr or stdout).strip()[-500:]}",
                serial="host", command=quote_command(argv), output=stdout + stderr, exit_code=p.returncode)
        return result

    def sample(self) -> dict[str, float]:
        reading: dict[str, float] = {}
        energy = self.rapl.energy_uj()
        if energy is not None:
            reading["energy_uj"] = energy
        temps = [float(v) / 1000 for v in (_read(p) for p in glob.glob("/sys/class/thermal/thermal_zone*/temp")) if v]
        if temps:
            reading["temp_c"] = max(temps)
        return reading

    def state(self) -> dict[str, Any]:
        freqs = {}
        for path in sorted(glob.glob("/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_cur_freq")):
            freqs[path.split("/")[5]] = int(_read(path) or 0)
        governor = _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
        load = os.getloadavg() if hasattr(os, "getloadavg") else None
        out: dict[str, Any] = {"cores": os.cpu_count(), "cpu_freq_khz": freqs or None, "governor": governor,
                               "load_average": list(load) if load else None}
        out.update(self.sample())
        return out

    def file_hash(self, remote: str, timeout: float = 30.0) -> str | None:
        import hashlib

        try:
            with open(remote, "rb") as f:
                return hashlib.sha256(f.read()).hexdigest()
        except OSError:
            return None


class HostBackend(Backend):
    name = "host"

    def devices(self) -> list[Device]:
        return [HostDevice()]
