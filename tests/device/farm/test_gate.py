"""The regression rule on stored samples: a slowdown beyond threshold and noise fails and names the job;
a shift within the threshold or within the noise passes; growth, failed verification, failed, lost and
missing jobs fail."""
from __future__ import annotations

import random

import pytest

from pockettorch.device.farm.gate import compare, latency_regression, mad, parse_threshold


def _samples(median, spread, n=60, seed=0):
    rng = random.Random(seed)
    return [median + rng.gauss(0, spread) for _ in range(n)]


def _job(key, samples, status="passed", **extra):
    return {"key": key, "status": status, "samples_ms": samples, "model_bytes": 1000, "peak_rss_kb": 5000,
            "error": None, **extra}


def test_mad_is_a_robust_standard_deviation():
    assert mad([1.0]) == 0.0
    assert mad(_samples(10, 0.5, 4000)) == pytest.approx(0.5, rel=0.1)
    assert mad([1, 1, 1, 1, 100]) == 0.0  # one outlier does not make noise


def test_slowdown_beyond_threshold_and_noise_fails_and_names_the_job():
    base = [_job("a@p#t=1", _samples(10, 0.2, seed=1)), _job("b@p#t=1", _samples(5, 0.1, seed=2))]
    new = [_job("a@p#t=1", _samples(13, 0.2, seed=3)), _job("b@p#t=1", _samples(5.05, 0.1, seed=4))]
    g = compare("base", base, "new", new, threshold=0.10)
    assert not g.passed and g.failing_keys() == ["a@p#t=1"]
    (f,) = g.findings
    assert f.kind == "latency" and "> 10%" in f.detail and "noise" in f.detail


def test_within_threshold_or_within_noise_passes():
    base = _samples(10, 0.2, seed=1)
    assert latency_regression(base, _samples(10.5, 0.2, seed=2), 0.10) is None  # +5% < 10%
    # +15% median, but each run's samples spread by +-3 ms: the shift is inside the noise
    assert latency_regression(_samples(10, 3, seed=3), _samples(11.5, 3, seed=4), 0.10) is None
    assert latency_regression(_samples(10, 0.1, seed=3), _samples(11.5, 0.1, seed=4), 0.10) is not None


def test_growth_verification_failures_and_missing_jobs_fail():
    s = _samples(10, 0.2)
    base = [_job(k, s) for k in ("size", "mem", "verify", "crash", "lost", "gone")]
    new = [_job("size", s, model_bytes=1200), _job("mem", s, peak_rss_kb=6000),
           _job("verify", s, status="failed", verify={"pass": False}, error="verification failed for output(s) out"),
           _job("crash", [], status="failed", error="runner exited with 139"), _job("lost", [], status="lost"),
           _job("extra", s)]
    g = compare("base", base, "new", new, threshold=0.10)
    assert {f.key: f.kind for f in g.findings} == {"size": "size", "mem": "memory", "verify": "verification",
                                                  "crash": "failed", "lost": "lost", "gone": "missing"}
    assert g.new_only == ["extra"]


def test_jobs_stored_without_samples_are_gated_by_their_medians():
    base = [{"key": "a", "status": "passed", "median_ms": 10.0}, {"key": "b", "status": "passed", "median_ms": 10.0}]
    new = [{"key": "a", "status": "passed", "median_ms": 10.5}, {"key": "b", "status": "passed", "median_ms": 12.0}]
    assert [(f.key, f.kind) for f in compare("base", base, "new", new, threshold=0.10).findings] == [("b", "latency")]


def test_thresholds_parse_as_percent_or_fraction():
    assert parse_threshold("10%") == pytest.approx(0.1) and parse_threshold("0.25") == 0.25
    with pytest.raises(ValueError):
        parse_threshold("-5%")
