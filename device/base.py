"""The device interface every backend implements, and the typed results it returns.

A backend answers list / info / push / pull / run-with-timeout / sample / clean-up; errors are the
catalogue's device errors carrying `command`, `output`, `exit_code` and `serial`.
"""
from __future__ import annotations

import abc
import shlex
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence


@dataclass
class DeviceInfo:
    serial: str
    platform: str  # "host" | "android" | "ios"
    model: str = ""
    soc: str = ""
    abi: str = ""  # arm64-v8a, armeabi-v7a, x86_64, x86
    os_version: str = ""
    state: str = "device"  # adb states: device, offline, unauthorized, ...
    cores: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunResult:
    argv: list[str]
    exit_code: int
    stdout: str
    stderr: str
    seconds: float


def quote_command(argv: Sequence[str]) -> str:
    """One shell-safe command line: no model or file name can inject shell syntax."""
    return " ".join(shlex.quote(str(a)) for a in argv)


class Device(abc.ABC):
    """One device. `workdir` is where the runner and models go (created on first push)."""

    serial: str
    workdir: str

    @abc.abstractmethod
    def info(self) -> DeviceInfo: ...

    @abc.abstractmethod
    def push(self, local: str, remote: str, timeout: float = 120.0) -> None: ...

    @abc.abstractmethod
    def pull(self, remote: str, local: str, timeout: float = 120.0) -> None: ...

    @abc.abstractmethod
    def run(self, argv: Sequence[str], timeout: float, check: bool = True) -> RunResult:
        """Run argv on the device; DeviceTimeoutError past `timeout`, DeviceCommandFailedError on a non-zero
        exit when `check`."""

    @abc.abstractmethod
    def sample(self) -> dict[str, float]:
        """An instantaneous reading of whatever the device exposes: battery current (uA) and voltage (uV),
        power (mW), temperatures (C), CPU frequencies (kHz). Keys absent when unavailable; never invented."""

    @abc.abstractmethod
    def state(self) -> dict[str, Any]:
        """Device state worth recording before and after a run: cores and frequencies, governor,
        temperatures, battery level and charging, thermal status."""

    def file_hash(self, remote: str, timeout: float = 30.0) -> str | None:
        """sha256 of a device file, or None when it does not exist (deploy skips files already there)."""
        r = self.run(["sha256sum", remote], timeout=timeout, check=False)
        return r.stdout.split()[0] if r.exit_code == 0 and r.stdout.split() else None

    def cleanup(self, timeout: float = 30.0) -> None:
        self.run(["rm", "-rf", self.workdir], timeout=timeout, check=False)


class Backend(abc.ABC):
    name: str
    note: str | None = None  # after devices(): why it could list none (no adb server, no usbmuxd), for the user

    @abc.abstractmethod
    def devices(self) -> list[Device]: ...
