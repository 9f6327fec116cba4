"""The regression gate: compare a run with a baseline run, job by job (same key).

A job regresses when
- latency: median_new > median_base * (1 + threshold) AND median_new - median_base > k * sqrt(mad_new^2 + mad_base^2),
  where mad is the median absolute deviation of the stored per-inference samples scaled by 1.4826 (a robust
  standard deviation), so a shift hidden in either run's noise is not a regression (jobs stored without samples:
  the medians alone against the threshold);
- size: the model file grew by more than the threshold; memory: peak RSS grew by more than the threshold;
- correctness: the job failed verification, failed, was lost or was not run (or is missing from the run).
Jobs only in the new run are listed, never failed.
"""
from __future__ import annotations

import dataclasses
import math
import statistics

MAD_TO_SIGMA = 1.4826
DEFAULT_K = 3.0
RULE = ("latency regresses when median_new > median_base x (1 + threshold) and median_new - median_base > "
        "k x sqrt(mad_new^2 + mad_base^2) (MAD of the per-inference samples x 1.4826); model size and peak RSS "
        "regress beyond the threshold; failed verification, failed, lost or not-run jobs fail the gate")


@dataclasses.dataclass
class Finding:
    key: str
    kind: str  # latency | size | memory | verification | failed | lost | not_run | missing
    detail: str


@dataclasses.dataclass
class GateResult:
    baseline: str
    run: str
    threshold: float
    k: float
    findings: list[Finding]
    compared: list[str]
    new_only: list[str]

    @property
    def passed(self) -> bool:
        return not self.findings

    def failing_keys(self) -> list[str]:
        return list(dict.fromkeys(f.key for f in self.findings))


def mad(samples: list[float]) -> float:
    """Median absolute deviation, scaled to a standard deviation for normal data."""
    if len(samples) < 2:
        return 0.0
    m = statistics.median(samples)
    return MAD_TO_SIGMA * statistics.median(abs(x - m) for x in samples)


def latency_regression(base: list[float], new: list[float], threshold: float, k: float = DEFAULT_K) -> str | None:
    """Why the new samples are slower than the baseline beyond threshold and noise, or None."""
    if not base or not new:
        return None
    mb, mn = statistics.median(base), statistics.median(new)
    noise = k * math.hypot(mad(base), mad(new))
    if mn > mb * (1 + threshold) and mn - mb > noise:
        return (f"median {mb:.4g} -> {mn:.4g} ms (+{100 * (mn / mb - 1):.1f}% > {100 * threshold:g}%; "
                f"difference {mn - mb:.3g} ms > noise {noise:.3g} ms)")
    return None


def _grew(kind: str, unit: str, base, new, threshold: float) -> Finding | None:
    if base and new and new > base * (1 + threshold):
        return Finding("", kind, f"{base:.6g} -> {new:.6g} {unit} (+{100 * (new / base - 1):.1f}% > {100 * threshold:g}%)")
    return None


def compare(baseline_id: str, base_jobs: list[dict], run_id: str, new_jobs: list[dict], threshold: float,
            k: float = DEFAULT_K) -> GateResult:
    new_by_key = {j["key"]: j for j in new_jobs}
    base_keys = {j["key"] for j in base_jobs}
    findings: list[Finding] = []
    for b in base_jobs:
        n = new_by_key.get(b["key"])
        if n is None:
            findings.append(Finding(b["key"], "missing", "in the baseline but not in this run"))
            continue
        if n["status"] != "passed":
            kind = "verification" if (n.get("verify") or {}).get("pass") is False else n["status"]
            findings.append(Finding(n["key"], kind, n.get("error") or n["status"].replace("_", " ")))
            continue
        if b["status"] != "passed":
            continue  # nothing to compare against
        if b.get("samples_ms") and n.get("samples_ms"):
            why = latency_regression(b["samples_ms"], n["samples_ms"], threshold, k)
            if why:
                findings.append(Finding(n["key"], "latency", why))
        else:  # a store written without samples: medians alone, no noise estimate
            f = _grew("latency", "ms median", b.get("median_ms"), n.get("median_ms"), threshold)
            if f:
                findings.append(dataclasses.replace(f, key=n["key"]))
        for kind, unit, field in (("size", "bytes", "model_bytes"), ("memory", "KiB peak RSS", "peak_rss_kb")):
            f = _grew(kind, unit, b.get(field), n.get(field), threshold)
            if f:
                findings.append(dataclasses.replace(f, key=n["key"]))
    return GateResult(baseline_id, run_id, threshold, k, findings, [j["key"] for j in base_jobs if j["key"] in new_by_key],
                      [j["key"] for j in new_jobs if j["key"] not in base_keys])


def parse_threshold(text: str) -> float:
    """'10%' or '0.1' -> 0.1."""
    t = text.strip()
    value = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    if not 0 <= value < 10:
        raise ValueError(f"{text!r} is not a fraction (0.1) or a percentage (10%)")
    return value
