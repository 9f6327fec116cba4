"""The farm finds iPhones beside the host and adb devices: ready phones join, unpaired ones do not.

Double: the iPhones (tests/fixtures/ios_services.py, same methods as the pymobiledevice3 adapter).
Real: the farm's discovery and selection, the iOS backend's info, and an adb port with no server on it.
"""
from __future__ import annotations

import socket

from pockettorch.device.farm.config import DeviceFilter
from pockettorch.device.farm.plan import IOS_SERVER, discover, select
from pockettorch.device.ios import IOSBackend

from fixtures.ios_services import IOSServicesDouble

READY, UNPAIRED = "00008110-000A1B2C3D4E5F60", "00008030-0011223344556677"


def _no_adb_server() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def test_ready_iphones_join_the_farm(tmp_path):
    services = IOSServicesDouble(tmp_path, runner="unused")
    services.add(READY)
    services.add(UNPAIRED, paired=False)
    found = discover([_no_adb_server()], ios=IOSBackend(services))
    by_serial = {d.id: d.info for d in found}
    assert set(by_serial) == {"host", READY}
    assert by_serial[READY]["platform"] == "ios" and by_serial[READY]["server"] == IOS_SERVER
    [chosen] = select([DeviceFilter(platform="ios")], found)
    assert chosen.id == READY
