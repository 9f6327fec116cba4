"""Latency statistics shared by `pockettorch run`, the runner's JSON and the device harness."""
from __future__ import annotations

import math

RUN_SCHEMA = "pockettorch.run/1"


def latency_stats(samples_ms: list[float]) -> dict[str, float]:
    """min, median, p90, p99, mean, std (population) of latency samples in ms; linear-interpolated percentiles."""
    if not samples_ms:
        raise ValueError("no latency samples")
    xs = sorted(samples_ms)

    def pct(p: float) -> float:
        k = (len(xs) - 1) * p / 100.0
        lo, hi = math.floor(k), math.ceil(k)
        return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)

    mean = sum(xs) / len(xs)
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / len(xs))
    return {"min": xs[0], "median": pct(50), "p90": pct(90), "p99": pct(99), "mean": mean, "std": std}
