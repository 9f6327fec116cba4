"""Power sampling during the measured window: a background thread polls the device's readings.

Android: power-rail energy counters where the device has them (ODPM, as Perfetto's power rails), else battery
current (uA) x voltage (uV) from sysfs; the host: RAPL energy counters.
What a device does not expose is reported as unavailable, never estimated.
"""
from __future__ import annotations

import threading
import time
from typing import Any

from pockettorch.device.base import Device
from pockettorch.runtime import error_catalogue as errors


def power_mw(sample: dict[str, float]) -> float | None:
    if "power_mw" in sample:
        return sample["power_mw"]
    if "current_ua" in sample and "voltage_uv" in sample:
        return abs(sample["current_ua"]) * sample["voltage_uv"] / 1e9
    return None


def _clock(reading: dict[str, float]) -> float:
    """When an energy reading was taken: the counter's own timestamp when it has one, else when we read it."""
    return reading.get("energy_t_s", reading["t_s"])


class PowerSampler:
    """Polls device.sample() every `interval` seconds between start() and stop()."""

    def __init__(self, device: Device, interval: float = 0.1):
        self.device = device
        self.interval = interval
        self.samples: list[dict[str, float]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="pkt-power", daemon=True)
        self._thread.start()

    def _take(self) -> bool:
        try:
            reading = self.device.sample()
        except errors.PocketTorchError as exc:  # a lost device ends sampling; the run reports the loss
            self.errors.append(str(exc))
            return False
        reading = dict(reading, t_s=time.monotonic() - self._t0)
        prev = self.samples[-1] if self.samples else None
        if "energy_uj" in reading and prev and "energy_uj" in prev and _clock(reading) > _clock(prev):
            # energy counters: the power over the interval since the previous reading
            reading["power_mw"] = (reading["energy_uj"] - prev["energy_uj"]) / 1e3 / (_clock(reading) - _clock(prev))
        elif "energy_uj" not in reading:
            mw = power_mw(reading)
            if mw is not None:
                reading["power_mw"] = mw
        self.samples.append(reading)
        return True

    def _loop(self) -> None:
        while not self._stop.is_set() and self._take():
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if not self.errors:
            self._take()  # a closing reading, so even a short window has a start and an end

    def summary(self, window_s: float, inferences: int, charging: bool | None) -> dict[str, Any]:
        """Average power and energy per inference over the window, or why they are unavailable."""
        duration = self.samples[-1]["t_s"] - self.samples[0]["t_s"] if len(self.samples) > 1 else 0.0
        rate = (len(self.samples) - 1) / duration if duration > 0 else 0.0
        out: dict[str, Any] = {"samples": self.samples, "sample_rate_hz": rate, "errors": self.errors}
        powers = [s["power_mw"] for s in self.samples if "power_mw" in s]
        counted = [s for s in self.samples if "energy_uj" in s]
        span = _clock(counted[-1]) - _clock(counted[0]) if len(counted) > 1 else 0.0
        if span > 0:
            avg_mw = (counted[-1]["energy_uj"] - counted[0]["energy_uj"]) / 1e3 / span
            out["source"] = "energy counters (power rails / RAPL)"
        elif powers:
            out["source"] = "battery current x voltage"
            avg_mw = sum(powers) / len(powers)
        elif any("energy_impact" in s for s in self.samples):  # iOS: the DVT energy gauge, not a power reading
            impact = [s["energy_impact"] for s in self.samples if "energy_impact" in s]
            cpu = [s["cpu_percent"] for s in self.samples if "cpu_percent" in s]
            out.update(available=False, reason="iOS gives a host no power in mW; energy_impact_mean is Xcode's "
                       "Energy Impact from the DVT energy gauge (unitless)", energy_impact_mean=sum(impact) / len(impact),
                       cpu_percent_mean=sum(cpu) / len(cpu) if cpu else None)
            return out
        else:
            out.update(available=False, reason="the device exposes no power or energy readings here")
            return out
        out.update(available=True, average_mw=avg_mw,
                   energy_per_inference_mj=avg_mw * window_s / inferences if inferences else None)
        if charging and out["source"].startswith("battery"):
            out["caveat"] = ("the device was charging over USB: battery current mixes charger input and consumption, "
                             "so these power figures understate the model's draw; unplug or use a power meter")
        return out
