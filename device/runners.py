"""The pkt_runner binary for a device: the host build for the host, a static cross-build (ziglang, musl)
for every other device, whatever its ABI, since a phone has neither our glibc nor our toolchain."""
from __future__ import annotations

import pathlib

from pockettorch.device.base import DeviceInfo
from pockettorch.runtime import error_catalogue as errors


def runner_for(info: DeviceInfo, backend: str | None = None) -> pathlib.Path:
    """Build (or reuse from the cache) a runner for the device, with delegate `backend` compiled in when named
    (host builds only: a phone's GPU driver comes with the Android SDK's build, see `pockettorch sdk android`)."""
    backends = [backend] if backend and backend != "cpu" else []
    if info.platform == "host":
        from pockettorch.runtime.build import build_runner

        return pathlib.Path(build_runner(backends=backends))
    from pockettorch.runtime.cross import build_runner_for

    if backends:
        raise errors.NotSupportedError(f"the static {info.abi or 'device'} runner has no {backend} backend; bench it on "
                                       "the phone through the Android SDK's benchmark app (sdk android --backend)")
    if not info.abi:
        raise errors.DeviceCommandFailedError(f"{info.serial} reports no CPU ABI (ro.product.cpu.abi)", serial=info.serial)
    return pathlib.Path(build_runner_for(info.abi))
