"""One generated Kotlin model instance (over the JNI library, on the host JVM) called from 8 threads x 250 calls,
then from as many coroutines through runSuspending, at numThreads 1 and 2: every output is its own input's
(Model serializes calls on its session) and nothing deadlocks (the Kotlin side ends the JVM when it does).
tests/sdk/android/kotlin/ThreadsHost.kt is the driver; it is compiled with the other host tests."""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow

CALLERS, CALLS = 8, 250


@pytest.mark.parametrize("num_threads", [1, 2])
def test_one_model_called_from_many_threads_and_coroutines(sdks, run_host_test, num_threads):
    proc = run_host_test("com.test.multi.ThreadsHostKt", sdks["multi"].ptm, num_threads, CALLERS, CALLS)
    assert "deadlock" not in proc.stdout, f"numThreads={num_threads}: calls on one model deadlocked"
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    counts = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", proc.stdout)}
    assert counts == {"wrong": 0, "failed": 0, "ok": 2 * CALLERS * CALLS}
