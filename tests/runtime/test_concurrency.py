"""One loaded module called from many Python threads at once: every call returns its own input's outputs
(calls on one session are serialized in the binding), a call never deadlocks the session's thread pool, and
modules still run in parallel with each other (the GIL is released while a run executes).

The calls run in a subprocess with a timeout, so a deadlock fails the test instead of hanging the worker."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from support import ThreadsMLP

import pockettorch

THREADS, CALLS = 8, 250

# Each thread calls the one module with inputs of its own and checks every output against the output of a
# sequential call on the same input (the runtime is deterministic, so equality is exact).
HAMMER = r"""
import json, sys, threading
import numpy as np
import pockettorch

path, num_threads, n_threads, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
module = pockettorch.load(path, num_threads=num_threads)
shape = module.input_specs[0].shape
inputs = [np.random.default_rng(i).standard_normal(shape).astype(np.float32) for i in range(n_threads * calls)]
expected = [module.run_numpy([x])[0] for x in inputs]
wrong, errors = [0] * n_threads, []

def worker(t):
    try:
        for k in range(calls):
            i = t * calls + k
            (y,) = module.run_numpy([inputs[i]])
            wrong[t] += not np.array_equal(y, expected[i])
    except Exception as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(n_threads)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"wrong": sum(wrong), "errors": errors}))
"""


@pytest.fixture(scope="module")
def mlp_program(tmp_path_factory):
    torch.manual_seed(0)
    model = ThreadsMLP().eval()
    path = tmp_path_factory.mktemp("concurrency") / "mlp.ptm"
    pockettorch.export(model, (torch.randn(32, 64),)).save(path)
    return model, path


@pytest.mark.parametrize("num_threads", [1, 2])
def test_one_module_called_from_many_threads(mlp_program, num_threads):
    model, path = mlp_program
    try:
        done = subprocess.run([sys.executable, "-c", HAMMER, str(path), str(num_threads), str(THREADS), str(CALLS)],
                              capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{THREADS} threads calling one module with num_threads={num_threads} deadlocked")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"wrong": 0, "errors": []}
    # the sequential reference itself matches eager PyTorch
    x = np.random.default_rng(0).standard_normal((32, 64)).astype(np.float32)
    (y,) = pockettorch.load(path, num_threads=num_threads).run_numpy([x])
    np.testing.assert_allclose(y, model(torch.from_numpy(x)).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_profiling_and_runs_from_many_threads(mlp_program):
    """profile_ns and set_profiling take the session's lock too: read while other threads run, never torn."""
    import threading

    _, path = mlp_program
    module = pockettorch.load(path, num_threads=1)
    module.set_profiling(True)
    x = np.ones((32, 64), np.float32)
    (expected,) = module.run_numpy([x])
    failures = []

    def run():
        for _ in range(50):
            if not np.array_equal(module.run_numpy([x])[0], expected):
                failures.append("output")

    def profile():
        for _ in range(50):
            if len(module.profile_ns()) != len(module.instructions()):
                failures.append("profile")

    threads = [threading.Thread(target=f, daemon=True) for f in (run, run, profile)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "deadlock"
    assert failures == []


def test_close_while_other_threads_call(mlp_program):
    """close() waits for the call in progress; calls after it raise the catalogue's InvalidArgumentError."""
    import threading

    from pockettorch import errors

    _, path = mlp_program
    x = np.ones((32, 64), np.float32)
    with pockettorch.load(path, num_threads=2) as module:
        (expected,) = module.run_numpy([x])
        outcomes = []

        def call_until_closed():
            for _ in range(200):
                try:
                    (y,) = module.run_numpy([x])
                except errors.InvalidArgumentError as exc:
                    outcomes.append("closed" if "closed" in str(exc) else repr(exc))
                    return
                if not np.array_equal(y, expected):
                    outcomes.append("wrong")
            outcomes.append("never closed")

        threads = [threading.Thread(target=call_until_closed, daemon=True) for _ in range(4)]
        for t in threads:
            t.start()
        for _ in range(5):
            module.run_numpy([x])
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "deadlock"
    assert set(outcomes) <= {"closed", "never closed"} and len(outcomes) == 4
    with pytest.raises(errors.InvalidArgumentError, match="closed"):
        module(x)
