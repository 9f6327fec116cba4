"""Find the farm's devices (the host, every adb server's devices and the iPhones usbmuxd lists) and turn models x devices x configs
into jobs with stable keys such as `mlp@emulator-5554#threads=1,iters=20,power=off`."""
from __future__ import annotations

import dataclasses
from typing import Any

from pockettorch.device.base import Device
from pockettorch.device.farm.config import (CONFIG_DEFAULTS, DeviceFilter, FarmConfig, ModelSpec, check_matrix,
                                             config_label)
from pockettorch.runtime import error_catalogue as errors

HOST_SERVER = "local"  # the `server` of the host device
IOS_SERVER = "usbmux"  # the `server` of iOS devices (this machine's usbmuxd)


@dataclasses.dataclass
class FarmDevice:
    info: dict[str, Any]  # DeviceInfo.as_dict() plus "server" and "id"
    id: str = ""  # the serial, or server/serial when two servers share a serial


@dataclasses.dataclass
class Job:
    key: str
    model: ModelSpec
    device_id: str
    device: dict[str, Any]
    config: dict[str, Any]

    def record(self, status: str = "not_run", **fields) -> dict[str, Any]:
        """The job as the store records it."""
        return {"key": self.key, "model": self.model.name, "device": self.device, "config": self.config,
                "status": status, "attempts": 0, "result": None, "error": None, "trace": None, **fields}


def _server_name(backend) -> str:
    return f"{backend.host}:{backend.port}"


def discover(servers: list[str | None], ios=None) -> list[FarmDevice]:
    """The host, every device that answers on the given adb servers (None: the default server) and the
    iPhones usbmuxd lists (`ios`: an IOSBackend, by default on this machine's usbmuxd)."""
    from pockettorch.device.host import HostBackend

    found = [FarmDevice(dict(d.info().as_dict(), server=HOST_SERVER)) for d in HostBackend().devices()]
    from pockettorch.device.android import AndroidBackend
    from pockettorch.device.ios import IOSBackend

    seen = set()
    for spec in servers or [None]:
        backend = AndroidBackend(spec)
        if _server_name(backend) in seen:
            continue
        seen.add(_server_name(backend))
        for d in backend.devices():
            if getattr(d, "adb_state", "device") != "device":
                continue  # offline or unauthorized: nothing can run there
            found.append(FarmDevice(dict(d.info().as_dict(), server=_server_name(backend))))
    for d in (ios or IOSBackend()).devices():
        info = d.info()
        if info.state == "device":  # unpaired or not answering: nothing can run there (as adb's unauthorized)
            found.append(FarmDevice(dict(info.as_dict(), server=IOS_SERVER)))
    serials = [f.info["serial"] for f in found]
    for f in found:
        f.id = f.info["serial"] if serials.count(f.info["serial"]) == 1 else f"{f.info['server']}/{f.info['serial']}"
        f.info["id"] = f.id
    return found


def find(server: str, serial: str) -> Device | None:
    """The device (server, serial) if it is connected and ready now, else None."""
    if server == HOST_SERVER:
        from pockettorch.device.host import HostDevice

        return HostDevice()
    if server == IOS_SERVER:
        from pockettorch.device.ios import IOSBackend

        return next((d for d in IOSBackend().devices() if d.serial == serial), None)
    from pockettorch.device.android import AndroidBackend

    for d in AndroidBackend(server).devices():
        if d.serial == serial and getattr(d, "adb_state", "device") == "device":
            return d
    return None


def matches(f: DeviceFilter, info: dict[str, Any]) -> bool:
    if f.all:
        return True
    server = (f.server or "").removeprefix("tcp:")
    return ((f.serial is None or f.serial == info["serial"]) and (f.platform is None or f.platform == info["platform"])
            and (f.abi is None or f.abi == info["abi"]) and (not server or server == info["server"])
            and (f.model is None or f.model.lower() in (info.get("model") or "").lower()))


def select(filters: list[DeviceFilter], found: list[FarmDevice]) -> list[FarmDevice]:
    """Devices matching any filter, in discovery order; a filter that matches nothing is an error."""
    chosen: list[FarmDevice] = []
    for i, f in enumerate(filters):
        hits = [d for d in found if matches(f, d.info)]
        if not hits:
            known = ", ".join(f"{d.id} ({d.info['platform']}, {d.info['abi']})" for d in found)
            raise errors.DeviceNotFoundError(f"devices[{i}] ({_describe(f)}) matches no connected device; "
                                             f"connected: {known}", serial=f.serial or "")
        chosen += [d for d in hits if d not in chosen]
    return chosen


def _describe(f: DeviceFilter) -> str:
    return "all" if f.all else ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(f).items() if v and k != "all")


def full_config(config: dict, timeout_s: float) -> dict:
    return {**CONFIG_DEFAULTS, **config, "timeout_s": timeout_s}


def plan(cfg: FarmConfig, devices: list[FarmDevice]) -> list[Job]:
    """Every job, keys unique (model names, device ids and configs are); refused beyond cfg.max_jobs."""
    check_matrix(cfg, len(devices))
    jobs = []
    for d in devices:
        for model in cfg.models:
            for c in cfg.configs:
                config = full_config(c, cfg.timeout_s)
                jobs.append(Job(f"{model.name}@{d.id}#{config_label(config)}", model, d.id, d.info, config))
    return jobs
