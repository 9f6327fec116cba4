"""Chrome trace-event JSON (opens in Perfetto UI and chrome://tracing): one slice per inference and per
op, counter tracks for power, current and temperature."""
from __future__ import annotations

from typing import Any

PID = 1
INFERENCE_TID, OPS_TID = 1, 2
COUNTERS = {"power_mw": "power (mW)", "current_ua": "battery current (uA)", "temp_c": "temperature (C)"}


def build_trace(result: dict[str, Any]) -> dict[str, Any]:
    """Trace events from a bench result: inference slices laid end to end from the measured samples, the
    per-op slices of the profiled inference after them, and the device samples as counters."""
    name = f"{result.get('model', 'model')} on {result.get('device', {}).get('serial', '?')}"
    events: list[dict[str, Any]] = [
        {"ph": "M", "pid": PID, "name": "process_name", "args": {"name": name}},
        {"ph": "M", "pid": PID, "tid": INFERENCE_TID, "name": "thread_name", "args": {"name": "inferences"}},
        {"ph": "M", "pid": PID, "tid": OPS_TID, "name": "thread_name", "args": {"name": "ops (profiled run)"}},
    ]
    t_us = 0.0
    for i, ms in enumerate(result.get("samples_ms") or []):
        events.append({"ph": "X", "pid": PID, "tid": INFERENCE_TID, "name": f"inference {i}", "cat": "inference",
                       "ts": t_us, "dur": ms * 1000.0, "args": {"ms": ms}})
        t_us += ms * 1000.0
    for row in result.get("instructions") or []:
        dur = row["ms"] * 1000.0
        args = {"source": row.get("source", ""), "index": row.get("index")}
        name = row["op"]
        if "backend" in row:  # a delegate: one slice, named by where it ran, with the backend's device time
            name = f"delegate ({row['backend']})"
            args.update(backend=row["backend"], device_ms=row.get("device_ms", 0.0))
        events.append({"ph": "X", "pid": PID, "tid": OPS_TID, "name": name, "cat": "op", "ts": t_us, "dur": dur,
                       "args": args})
        t_us += dur
    power = result.get("power") or {}
    for sample in power.get("samples") or []:
        for key, label in COUNTERS.items():
            if key in sample:
                events.append({"ph": "C", "pid": PID, "name": label, "ts": sample["t_s"] * 1e6, "args": {key: sample[key]}})
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "metadata": {"schema": result.get("schema"), "model": result.get("model")}}
