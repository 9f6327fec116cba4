"""The pkt_runner binary for a device's ABI: the host build, or a static cross-build made with ziglang."""
from __future__ import annotations

import pathlib
import platform

from pockettorch import errors
from pockettorch.device.host import ABI_OF_MACHINE

HOST_ABI = ABI_OF_MACHINE.get(platform.machine().lower(), platform.machine())


def runner_for(abi: str) -> pathlib.Path:
    """Build (or reuse from the cache) a runner that runs on `abi`."""
    if abi == HOST_ABI:
        from pockettorch.runtime.build import build_runner

        return pathlib.Path(build_runner())
    try:
        from pockettorch.runtime.cross import build_runner_for
    except ImportError:  # pragma: no cover - cross builds ship with the runtime
        raise errors.DeviceToolMissingError(f"no cross-build support for {abi} in this installation") from None
    return pathlib.Path(build_runner_for(abi))
