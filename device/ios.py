"""iOS devices through pymobiledevice3, behind the same device interface as the host and Android.

An iPhone has no shell and runs no foreign binary, so the "runner" is the benchmark app from
`sample_apps/ios` (an .ipa built with Xcode). The app contract:

    bundle id   ai.pockettorch.bench (POCKETTORCH_IOS_BUNDLE_ID overrides)
    arguments   --model NAME --iterations N --warmup N --threads N --output NAME   (names inside Documents)
    result      one `pockettorch.run/1` JSON object written to Documents/<output>, then the app exits;
                lines `pkt-sample I MS` on stdout while it runs keep partial data on a lost device.

`deploy` installs the app when missing (POCKETTORCH_IOS_APP=path/to/app.ipa) and copies the model into
its Documents folder (house_arrest); `run` launches the app through the DVT process control, waits for it
and pulls the JSON; `sample` reads the DVT energy gauge and CPU use of the running app.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import tempfile
import time
import uuid
from typing import Any, Sequence

from pockettorch.device.base import Backend, Device, DeviceInfo, RunResult, quote_command
from pockettorch.runtime import error_catalogue as errors

BUNDLE_ID = "ai.pockettorch.bench"
DOCUMENTS = "/Documents"
POLL_SECONDS = 0.2
TUNNEL_HINT = ("iOS {version} reaches its developer services (launching apps, energy) only through a RemoteXPC "
               "tunnel. In another terminal run `sudo pymobiledevice3 remote tunneld` and keep it running, then retry; "
               "PocketTorch asks a running tunneld for the tunnel but never starts one.")
# app arguments from the runner's (bench.py builds runner argv for every device)
RUNNER_TO_APP = {"--iters": "--iterations", "--warmup": "--warmup", "--threads": "--threads"}
# the app always reports samples and prints progress; per-op profiles are not in the app contract (no `ops` on iOS)
RUNNER_FLAGS_IGNORED = {"--samples", "--progress", "--profile"}


def _lost(exc: BaseException) -> bool:
    """A failure that means the phone went away (unplugged, locked out, usbmuxd lost it)."""
    name = type(exc).__name__
    return isinstance(exc, (ConnectionError, EOFError, BrokenPipeError)) or name in (
        "ConnectionTerminatedError", "StreamClosedError", "NoDeviceConnectedError", "DeviceNotFoundError",
        "ConnectionFailedError", "MuxException", "BadDevError")


def _major(version: str) -> int:
    head = (version or "0").split(".")[0]
    return int(head) if head.isdigit() else 0


class IOSDevice(Device):
    """One iPhone/iPad, known to usbmuxd by its UDID. `services`: the pymobiledevice3 adapter (or a double)."""

    workdir = DOCUMENTS

    def __init__(self, services, udid: str, connection: str = "USB", bundle_id: str | None = None,
                 app_path: str | None = None):
        self.services = services
        self.serial = udid
        self.connection = connection
        self.bundle_id = bundle_id or os.environ.get("POCKETTORCH_IOS_BUNDLE_ID") or BUNDLE_ID
        self.app_path = app_path or os.environ.get("POCKETTORCH_IOS_APP")
        self._info: DeviceInfo | None = None
        self._pid: int | None = None  # the benchmark app while it runs (sampled by `sample`)
        self._files: set[str] = set()  # what we put in Documents, removed by cleanup

    # ---- errors
    def _error(self, exc: BaseException, command: str, output: str = "") -> errors.PocketTorchError:
        if isinstance(exc, errors.PocketTorchError):
            return exc
        ctx = dict(serial=self.serial, command=command, output=output or str(exc), exit_code=None)
        if isinstance(exc, TimeoutError):
            return errors.DeviceTimeoutError(f"{self.serial}: `{command}` timed out: {exc}", **ctx)
        if _lost(exc):
            return errors.DeviceDisconnectedError(f"{self.serial} disconnected during `{command}`: "
                                                  f"{type(exc).__name__} {exc}".rstrip(), **ctx)
        if type(exc).__name__ == "AppNotInstalledError":
            return errors.DeviceToolMissingError(self._app_missing(), **ctx)
        if "no space" in str(exc).lower():
            return errors.DeviceStorageFullError(f"{self.serial}: no space left for `{command}`", **ctx)
        return errors.DeviceCommandFailedError(f"{self.serial}: `{command}` failed: {type(exc).__name__} {exc}", **ctx)

    def _call(self, command: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # pymobiledevice3's exceptions, OSError, TimeoutError: mapped onto the catalogue
            raise self._error(exc, command) from None

    def _app_missing(self) -> str:
        return (f"the benchmark app {self.bundle_id} is not installed on {self.serial}: build sample_apps/ios with "
                "Xcode (Product > Archive > export an .ipa, development signing) and set POCKETTORCH_IOS_APP to "
                "the .ipa so PocketTorch installs it")

    # ---- the interface
    def info(self) -> DeviceInfo:
        if self._info is None:
            try:
                got = self._call("lockdown GetValue", self.services.values, self.serial)
            except errors.PocketTorchError as exc:  # listed by usbmuxd but lockdown does not answer (yet)
                return DeviceInfo(serial=self.serial, platform="ios", state="unreachable",
                                  extra={"connection": self.connection, "error": str(exc)})
            v = got["values"]
            name = v.get("DeviceName") or ""
            self._info = DeviceInfo(
                serial=self.serial, platform="ios", model=v.get("ProductType", ""), soc=v.get("HardwareModel", ""),
                abi=v.get("CPUArchitecture", "arm64"), os_version=f"iOS {v.get('ProductVersion', '?')}"
                + (f" ({v['BuildVersion']})" if v.get("BuildVersion") else ""),
                state="device" if got["paired"] else "unpaired",
                extra={"name": name, "connection": self.connection, "product_version": v.get("ProductVersion", "")})
        return self._info

    def _remote(self, path: str) -> str:
        path = posixpath.normpath(path)
        if posixpath.dirname(path) != DOCUMENTS:
            raise errors.InvalidArgumentError(f"{path}: the benchmark app reads only files directly in {DOCUMENTS}")
        return path

    def push(self, local: str, remote: str, timeout: float = 120.0) -> None:
        remote = self._remote(remote)
        self._call(f"push {local} {remote}", self.services.push, self.serial, self.bundle_id, local, remote, timeout)
        self._files.add(remote)

    def pull(self, remote: str, local: str, timeout: float = 120.0) -> None:
        self._call(f"pull {remote} {local}", self.services.pull, self.serial, self.bundle_id, self._remote(remote),
                   local, timeout)

    def file_hash(self, remote: str, timeout: float = 30.0) -> str | None:
        """sha256 of a file in Documents (read back over AFC), None when it is not there."""
        with tempfile.TemporaryDirectory(prefix="pkt-ios-") as tmp:
            local = os.path.join(tmp, "f")
            try:
                self.pull(remote, local, timeout)
            except errors.DeviceCommandFailedError:
                return None  # AfcFileNotFoundError: not there yet
            with open(local, "rb") as f:
                return hashlib.sha256(f.read()).hexdigest()

    def check_ready(self) -> dict[str, Any]:
        """Pairing, Developer Mode, the developer disk image and (iOS 17+) the tunnel: each missing piece is
        an error that says what to run."""
        info = self.info()
        if info.state == "unreachable":
            raise errors.DeviceDisconnectedError(info.extra["error"], serial=self.serial)
        if info.state != "device":
            raise errors.DeviceCommandFailedError(
                f"{self.serial} is not paired with this computer: unlock it, accept 'Trust This Computer' "
                "(or run `pymobiledevice3 lockdown pair`), then retry", serial=self.serial)
        status = self._call("mobile_image_mounter status", self.services.developer_status, self.serial)
        if status.get("developer_mode") is False:
            raise errors.DeviceCommandFailedError(
                f"Developer Mode is off on {self.serial}: enable it in Settings > Privacy & Security > Developer Mode "
                "(or `pymobiledevice3 amfi enable-developer-mode`) and restart the device", serial=self.serial)
        version = info.extra.get("product_version", "")
        self._check_tunnel()
        if not status.get("image_mounted"):
            raise errors.DeviceToolMissingError(
                f"the developer disk image is not mounted on {self.serial}: run `pymobiledevice3 mounter auto-mount`"
                + (" (with tunneld running)" if _major(version) >= 17 else ""), serial=self.serial)
        return status

    def _check_tunnel(self) -> None:
        """From iOS 17 on, DVT (launch, energy) needs the RemoteXPC tunnel of a tunneld the user runs."""
        version = self.info().extra.get("product_version", "")
        if _major(version) >= 17 and not self._call("tunneld lookup", self.services.tunnel_available, self.serial):
            raise errors.DeviceToolMissingError(f"{self.serial}: " + TUNNEL_HINT.format(version=version),
                                                serial=self.serial)

    def install_app(self) -> dict[str, Any]:
        """The installed benchmark app (installing POCKETTORCH_IOS_APP when it is missing)."""
        app = self._call("installation_proxy lookup", self.services.app, self.serial, self.bundle_id)
        if app is None:
            if not self.app_path:
                raise errors.DeviceToolMissingError(self._app_missing(), serial=self.serial)
            if not os.path.isfile(self.app_path):
                raise errors.InvalidArgumentError(f"POCKETTORCH_IOS_APP={self.app_path} is not a file")
            self._call(f"install {self.app_path}", self.services.install, self.serial, self.app_path)
            app = self._call("installation_proxy lookup", self.services.app, self.serial, self.bundle_id)
            if app is None:
                raise errors.DeviceCommandFailedError(
                    f"installing {self.app_path} did not install {self.bundle_id}: is that the benchmark app's "
                    "bundle id? (POCKETTORCH_IOS_BUNDLE_ID)", serial=self.serial)
        return {"bundle_id": self.bundle_id, "version": app.get("CFBundleShortVersionString", "")}

    def _app_argv(self, argv: Sequence[str], output: str) -> list[str]:
        """The runner's argv (what bench.py builds for every device) as the app's launch arguments."""
        argv = [str(a) for a in argv]
        if argv and argv[0] == "taskset":
            raise errors.NotSupportedError("--cpus: iOS apps cannot be pinned to CPUs", serial=self.serial)
        if len(argv) < 2 or argv[0] != self.bundle_id:
            raise errors.NotSupportedError(f"iOS devices have no shell; they run only the benchmark app "
                                           f"({self.bundle_id}), not `{quote_command(argv)}`", serial=self.serial)
        args = ["--model", posixpath.basename(self._remote(argv[1]))]
        rest = iter(argv[2:])
        for a in rest:
            if a in RUNNER_TO_APP:
                args += [RUNNER_TO_APP[a], next(rest, "")]
            elif a not in RUNNER_FLAGS_IGNORED:
                raise errors.NotSupportedError(f"the iOS benchmark app has no option {a}", serial=self.serial)
        return args + ["--output", output]

    def run(self, argv: Sequence[str], timeout: float, check: bool = True) -> RunResult:
        """Launch the benchmark app with the runner's arguments, wait for it to exit, return its JSON as stdout."""
        output = f"result-{uuid.uuid4().hex[:12]}.json"
        args = self._app_argv(argv, output)
        command = f"launch {self.bundle_id} {quote_command(args)}"
        self._check_tunnel()
        t0 = time.perf_counter()
        pid = self._call(command, self.services.launch, self.serial, self.bundle_id, args)
        self._pid = pid
        self._files.add(f"{DOCUMENTS}/{output}")
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    alive = self.services.running(self.serial, pid)
                except Exception as exc:
                    raise self._stopped(self._error(exc, command), pid) from None
                if not alive:
                    break
                if time.monotonic() > deadline:
                    try:
                        self.services.kill(self.serial, pid)
                    except Exception:
                        pass  # the timeout is the error worth reporting
                    raise self._stopped(errors.DeviceTimeoutError(
                        f"{self.serial}: `{command}` did not finish within {timeout:g} s", serial=self.serial,
                        command=command, output="", exit_code=None), pid)
                time.sleep(POLL_SECONDS)
        finally:
            self._pid = None
        lines = "\n".join(self.services.output(self.serial, pid))
        with tempfile.TemporaryDirectory(prefix="pkt-ios-") as tmp:
            local = os.path.join(tmp, output)
            try:
                self.pull(f"{DOCUMENTS}/{output}", local)
            except errors.DeviceCommandFailedError:
                if check:
                    raise errors.DeviceCommandFailedError(
                        f"{self.serial}: the benchmark app exited without writing Documents/{output}: "
                        f"{lines.strip()[-500:] or 'no output (did it crash? see Xcode > Devices > logs)'}",
                        serial=self.serial, command=command, output=lines, exit_code=None) from None
                return RunResult(list(argv), 1, "", lines, time.perf_counter() - t0)
            with open(local) as f:
                text = f.read()
        return RunResult(list(argv), 0, text, lines, time.perf_counter() - t0)

    def _stopped(self, exc: errors.PocketTorchError, pid: int) -> errors.PocketTorchError:
        """Keep what the app printed before it was cut short (bench.py reads its pkt-sample lines)."""
        try:
            exc.stderr = "\n".join(self.services.output(self.serial, pid))
        except Exception:
            exc.stderr = ""
        return exc

    def sample(self) -> dict[str, float]:
        """The running app's DVT energy gauge (Xcode's Energy Impact, unitless, not mW) and CPU use."""
        pid = self._pid
        if pid is None:
            return {}
        got = self._call("dvt energy", self.services.sample, self.serial, pid)
        energy, reading = got.get("energy") or {}, {}
        for key, name in (("energy.cost", "energy_impact"), ("energy.cpu.cost", "cpu_energy_impact")):
            if isinstance(energy.get(key), (int, float)) and energy[key] >= 0:
                reading[name] = float(energy[key])
        if got.get("cpu_usage") is not None:
            reading["cpu_percent"] = float(got["cpu_usage"])
        return reading

    def state(self) -> dict[str, Any]:
        b = self._call("lockdown GetValue battery", self.services.battery, self.serial)
        level = b.get("BatteryCurrentCapacity")
        return {"cores": self.info().cores or None, "cpu_freq_khz": None, "governor": None,
                "battery_level": int(level) if isinstance(level, (int, float)) else None,
                "charging": bool(b.get("BatteryIsCharging")) if "BatteryIsCharging" in b else None,
                "external_power": b.get("ExternalConnected"), "thermal_status": None}

    def cleanup(self, timeout: float = 30.0) -> None:
        for remote in sorted(self._files):
            self._call(f"remove {remote}", self.services.remove, self.serial, self.bundle_id, remote)
        self._files.clear()

    def deploy(self, model_local: str, digest: str) -> dict[str, Any]:
        """bench.deploy for an iPhone: the app instead of a runner, the model into its Documents by content hash."""
        self.check_ready()
        app = self.install_app()
        target = f"{DOCUMENTS}/model-{digest[:16]}.ptm"
        if self.file_hash(target) == digest:
            self._files.add(target)
            pushed, skipped = [], [target]
        else:
            self.push(model_local, target)
            pushed, skipped = [target], []
        return {"runner": self.bundle_id, "model": target, "pushed": pushed, "skipped": skipped, "app": app}


class IOSBackend(Backend):
    """Devices usbmuxd lists; none (not an error) when there is no usbmuxd or no pymobiledevice3."""

    name = "ios"

    def __init__(self, services=None):
        self._services = services

    @property
    def services(self):
        if self._services is None:
            from pockettorch.device.ios_services import PymobiledeviceServices

            self._services = PymobiledeviceServices()
        return self._services

    def devices(self) -> list[Device]:
        try:
            found = self.services.list_devices()
        except Exception as exc:  # a broken usbmuxd (or no pymobiledevice3) must not hide the host and Android devices
            self.note = f"iOS devices not listed: {type(exc).__name__}: {exc}"
            return []
        self.note = getattr(self.services, "usbmux_error", None)
        return [IOSDevice(self.services, d["udid"], d.get("connection", "USB")) for d in found]
