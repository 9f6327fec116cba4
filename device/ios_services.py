"""The narrow adapter between the iOS backend and pymobiledevice3 (pinned in pyproject.toml).

pymobiledevice3 is asyncio throughout; the backend is synchronous like the other backends. This adapter
runs one event loop in a daemon thread and exposes plain methods with a timeout each, so connections
(lockdown, the DVT provider, its channels) stay open between calls. Tests pass a double with the same
methods (tests/fixtures/ios_services.py); the backend never imports pymobiledevice3 itself.

Errors are pymobiledevice3's own exceptions (and TimeoutError); `pockettorch.device.ios` maps them onto
the catalogue. Nothing here starts `tunneld` or browses mDNS: iOS 17+ developer services are reached
through a tunneld the user runs, and only asked for over its loopback HTTP API.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from pathlib import Path
from typing import Any

from pymobiledevice3 import usbmux
from pymobiledevice3.exceptions import ConnectionFailedToUsbmuxdError, TunneldConnectionError
from pymobiledevice3.lockdown import create_using_usbmux
from pymobiledevice3.services.dvt.instruments.device_info import DeviceInfo
from pymobiledevice3.services.dvt.instruments.dvt_provider import DvtProvider
from pymobiledevice3.services.dvt.instruments.energy_monitor import EnergyMonitor
from pymobiledevice3.services.dvt.instruments.process_control import ProcessControl
from pymobiledevice3.services.dvt.instruments.sysmontap import Sysmontap
from pymobiledevice3.services.house_arrest import HouseArrestService
from pymobiledevice3.services.installation_proxy import InstallationProxyService
from pymobiledevice3.services.mobile_image_mounter import MobileImageMounterService, image_type_for_device
from pymobiledevice3.tunneld.api import TUNNELD_DEFAULT_ADDRESS, get_tunneld_device_by_udid

BATTERY_DOMAIN = "com.apple.mobile.battery"
RSD_MIN_MAJOR = 17  # from iOS 17 the developer (DVT) services are reachable only through a RemoteXPC tunnel


class _Session:
    """What stays open for one device: lockdown, and once a launch happens, the DVT provider and channels."""

    def __init__(self, lockdown):
        self.lockdown = lockdown
        self.rsd = None
        self.dvt: DvtProvider | None = None
        self.process_control: ProcessControl | None = None
        self.device_info: DeviceInfo | None = None
        self.energy: dict[int, EnergyMonitor] = {}
        self.cpu: dict[int, float] = {}  # latest sysmontap cpuUsage per pid
        self.output: dict[int, list[str]] = {}
        self.tasks: list[asyncio.Task] = []


class PymobiledeviceServices:
    """The real adapter. `usbmux_address`: None for the platform's usbmuxd (or $USBMUXD_SOCKET_ADDRESS)."""

    def __init__(self, usbmux_address: str | None = None, pairing_records_folder: Path | None = None,
                 tunneld_address: tuple[str, int] = TUNNELD_DEFAULT_ADDRESS, timeout: float = 30.0):
        self.usbmux_address = usbmux_address
        self.usbmux_error: str | None = None
        self.pairing_records_folder = pairing_records_folder
        self.tunneld_address = tunneld_address
        self.timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}

    # ---- the loop thread
    def _run(self, coro, timeout: float | None = None):
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(target=self._loop.run_forever, name="pkt-ios-loop", daemon=True).start()
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout or self.timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no answer from the device within {timeout or self.timeout:g} s") from None

    async def _session(self, udid: str) -> _Session:
        if udid not in self._sessions:
            # autopair=False: an unpaired device is reported as such, never a blocking "Trust" dialog
            lockdown = await create_using_usbmux(serial=udid, autopair=False, usbmux_address=self.usbmux_address,
                                                 pairing_records_cache_folder=self.pairing_records_folder)
            self._sessions[udid] = _Session(lockdown)
        return self._sessions[udid]

    # ---- discovery and lockdown
    def list_devices(self) -> list[dict[str, str]]:
        """Devices usbmuxd knows; [] when there is no usbmuxd (a machine without iOS tooling: `usbmux_error`
        then says so)."""
        self.usbmux_error = None
        try:
            found = self._run(usbmux.list_devices(usbmux_address=self.usbmux_address))
        except (ConnectionFailedToUsbmuxdError, FileNotFoundError, ConnectionRefusedError):
            where = self.usbmux_address or "the platform's usbmuxd"
            self.usbmux_error = f"no usbmuxd at {where}: install and start usbmuxd to list iOS devices"
            return []
        return [{"udid": d.serial, "connection": d.connection_type} for d in found]

    def values(self, udid: str) -> dict[str, Any]:
        """Lockdown's values (all of them once paired) and whether a pairing session is open."""
        async def go():
            s = await self._session(udid)
            return {"values": dict(s.lockdown.all_values), "paired": bool(s.lockdown.paired)}
        return self._run(go())

    def battery(self, udid: str) -> dict[str, Any]:
        async def go():
            return await (await self._session(udid)).lockdown.get_value(domain=BATTERY_DOMAIN) or {}
        return self._run(go())

    def app(self, udid: str, bundle_id: str) -> dict[str, Any] | None:
        """The installed app's Info.plist values, or None."""
        async def go():
            async with InstallationProxyService(lockdown=(await self._session(udid)).lockdown) as proxy:
                return (await proxy.get_apps(application_type="Any", bundle_identifiers=[bundle_id])).get(bundle_id)
        return self._run(go())

    def install(self, udid: str, ipa: str, timeout: float = 600.0) -> None:
        async def go():
            async with InstallationProxyService(lockdown=(await self._session(udid)).lockdown) as proxy:
                await proxy.install_from_local(Path(ipa))
        self._run(go(), timeout)

    def developer_status(self, udid: str) -> dict[str, bool | None]:
        """Developer Mode (None before iOS 16, which has none) and whether the developer disk image is mounted."""
        async def go():
            lockdown = (await self._session(udid)).lockdown
            async with MobileImageMounterService(lockdown=lockdown) as mounter:
                try:
                    mode = await mounter.query_developer_mode_status()
                except Exception:  # MessageNotSupportedError on iOS < 16: no Developer Mode to enable
                    mode = None
                mounted = await mounter.is_image_mounted(image_type_for_device(lockdown))
            return {"developer_mode": mode, "image_mounted": mounted}
        return self._run(go())

    def tunnel_available(self, udid: str) -> bool:
        """Whether a running tunneld serves this device (needed for DVT from iOS 17 on). Asks only."""
        async def go():
            s = await self._session(udid)
            if s.rsd is None:
                try:
                    s.rsd = await get_tunneld_device_by_udid(udid, self.tunneld_address)
                except TunneldConnectionError:
                    return False
            return s.rsd is not None
        return self._run(go())

    # ---- the app's Documents folder (house_arrest VendDocuments)
    async def _documents(self, udid: str, bundle_id: str) -> HouseArrestService:
        lockdown = (await self._session(udid)).lockdown
        return await HouseArrestService.create(lockdown, bundle_id, documents_only=True)

    def push(self, udid: str, bundle_id: str, local: str, remote: str, timeout: float = 120.0) -> None:
        async def go():
            async with await self._documents(udid, bundle_id) as afc:
                await afc.set_file_contents(remote, Path(local).read_bytes())
        self._run(go(), timeout)

    def pull(self, udid: str, bundle_id: str, remote: str, local: str, timeout: float = 120.0) -> None:
        """AfcFileNotFoundError when the file is not there."""
        async def go():
            async with await self._documents(udid, bundle_id) as afc:
                Path(local).write_bytes(await afc.get_file_contents(remote))
        self._run(go(), timeout)

    def remove(self, udid: str, bundle_id: str, remote: str) -> None:
        async def go():
            async with await self._documents(udid, bundle_id) as afc:
                await afc.rm_single(remote, force=True)
        self._run(go())

    # ---- DVT: launch, watch, sample
    async def _dvt(self, udid: str) -> _Session:
        s = await self._session(udid)
        if s.dvt is None:
            s.dvt = DvtProvider(s.rsd or s.lockdown)
            await s.dvt.connect()
            s.process_control = ProcessControl(s.dvt)
            await s.process_control.connect()
            s.device_info = DeviceInfo(s.dvt)
            await s.device_info.connect()
        return s

    def launch(self, udid: str, bundle_id: str, arguments: list[str]) -> int:
        async def go():
            s = await self._dvt(udid)
            pid = await s.process_control.launch(bundle_id, arguments=arguments, kill_existing=True)
            s.output[pid] = []
            s.tasks.append(asyncio.create_task(self._collect_output(s, pid)))
            s.tasks.append(asyncio.create_task(self._collect_cpu(s, pid)))
            return pid
        return self._run(go())

    async def _collect_output(self, s: _Session, pid: int) -> None:
        """The app's stdout/stderr lines (`pkt-sample I MS` progress lines keep partial data)."""
        with contextlib.suppress(Exception):
            async for event in s.process_control:
                if event.pid == pid:
                    s.output[pid].extend(event.message.splitlines())

    async def _collect_cpu(self, s: _Session, pid: int) -> None:
        with contextlib.suppress(Exception):
            async with await Sysmontap.create(s.dvt) as tap:
                async for processes in tap.iter_processes():
                    for p in processes:
                        if p.get("pid") == pid and p.get("cpuUsage") is not None:
                            s.cpu[pid] = float(p["cpuUsage"])

    def running(self, udid: str, pid: int) -> bool:
        async def go():
            return bool(await (await self._dvt(udid)).device_info.is_running_pid(pid))
        return self._run(go())

    def kill(self, udid: str, pid: int) -> None:
        async def go():
            await (await self._dvt(udid)).process_control.kill(pid)
        self._run(go())

    def output(self, udid: str, pid: int) -> list[str]:
        s = self._sessions.get(udid)
        return list(s.output.get(pid, [])) if s else []

    def sample(self, udid: str, pid: int) -> dict[str, Any]:
        """{"energy": the energy gauge's attributes for pid (Xcode Energy Impact, unitless), "cpu_usage": %}."""
        async def go():
            s = await self._dvt(udid)
            if pid not in s.energy:
                s.energy[pid] = EnergyMonitor(s.dvt, [pid])
                await s.energy[pid].__aenter__()
            raw = await s.energy[pid].service.sample_attributes_for_pids_({}, [pid]) or {}
            return {"energy": raw.get(pid) or raw.get(str(pid)) or {}, "cpu_usage": s.cpu.get(pid)}
        return self._run(go())

    def close(self) -> None:
        async def go():
            for s in self._sessions.values():
                for task in s.tasks:
                    task.cancel()
                for closer in ([s.dvt.close()] if s.dvt else []) + [s.lockdown.close()]:
                    with contextlib.suppress(Exception):
                        await closer
            self._sessions.clear()
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._run(go(), 10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop = None
