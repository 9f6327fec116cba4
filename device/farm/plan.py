"""Find the farm's devices (the host and every adb server's devices) and turn models x devices x configs
into jobs with stable keys such as `mlp@emulator-5554#threads=1,iters=20,power=off`."""
from __future__ import annotations

import dataclasses
from typing import Any

from pockettorch import errors
from pockettorch.device.base import Device
from pockettorch.device.farm.config import CONFIG_DEFAULTS, DeviceFilter, FarmConfig, ModelSpec

HOST_SERVER = "local"  # the `server` of the host device


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


def discover(servers: list[str | None]) -> list[FarmDevice]:
    """The host plus every device that answers on the given adb servers (None: the default server)."""
    from pockettorch.device.host import HostBackend

    found = [FarmDevice(dict(d.info().as_dict(), server=HOST_SERVER)) for d in HostBackend().devices()]
    try:
        from pockettorch.device.android import AndroidBackend
    except ImportError:
        return found
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


def config_label(config: dict) -> str:
    """threads, iters and power always; other settings only when they differ from the defaults."""
    parts = [f"threads={config['threads']}", f"iters={config['iters']}", f"power={'on' if config['power'] else 'off'}"]
    for k in ("warmup", "cpus", "profile_ops", "verify"):
        if config.get(k) != CONFIG_DEFAULTS[k]:
            v = config[k]
            parts.append(f"{k}={('on' if v else 'off') if isinstance(v, bool) else v}")
    return ",".join(parts)


def plan(cfg: FarmConfig, devices: list[FarmDevice]) -> list[Job]:
    jobs, keys = [], set()
    for d in devices:
        for model in cfg.models:
            for c in cfg.configs:
                config = full_config(c, cfg.timeout_s)
                key = f"{model.name}@{d.id}#{config_label(config)}"
                if key in keys:
                    continue  # two config entries that expand to the same settings
                keys.add(key)
                jobs.append(Job(key, model, d.id, d.info, config))
    return jobs
