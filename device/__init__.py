"""The device harness: find devices, deploy a runner and a model, run, and collect latency, memory,
power and trace data. Backends (host, Android) implement `pockettorch.device.base.Device`."""
from pockettorch.device.base import Device, DeviceInfo, RunResult

__all__ = ["Device", "DeviceInfo", "RunResult"]
