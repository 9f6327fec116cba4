"""One Kotlin model instance (over its JNI library, on the host JVM) called from 8 threads x 250 calls, and a
typed one from as many coroutines through runSuspending, at numThreads 1 and 2: every output is its own
input's (Model serializes calls on its session) and nothing deadlocks (the Kotlin side ends the JVM when it
does). The threads call the classifier SDK's untyped Model on a larger program built from the same ops, so a
call is long enough for unserialized calls to overlap. tests/sdk/android/kotlin/ThreadsHost.kt is the driver,
compiled with the other host tests."""
from __future__ import annotations

import re

import pytest
import torch

import pockettorch

pytestmark = pytest.mark.slow

CALLERS, CALLS = 8, 250


@pytest.fixture(scope="module")
def larger_classifier(sdks, tmp_path_factory):
    path = tmp_path_factory.mktemp("android-threads") / "larger.ptm"
    case = sdks["classifier"].case
    pockettorch.export(case.module, (torch.rand(1, 3, 32, 32),), name=case.name).save(path)
    return path


@pytest.mark.parametrize("num_threads", [1, 2])
def test_one_model_called_from_many_threads_and_coroutines(sdks, larger_classifier, run_host_test, num_threads):
    proc = run_host_test("com.test.threads.ThreadsHostKt", larger_classifier, sdks["multi"].ptm, num_threads,
                         CALLERS, CALLS)
    assert "deadlock" not in proc.stdout, f"numThreads={num_threads}: calls on one model deadlocked"
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    counts = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", proc.stdout)}
    assert counts == {"wrong": 0, "failed": 0, "ok": 2 * CALLERS * CALLS}
