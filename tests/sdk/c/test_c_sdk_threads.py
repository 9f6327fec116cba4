"""One generated C SDK model called from many callers at once (tests/sdk/c/concurrent_calls.c, built with gcc
against the SDK's own library): in the host profile from 8 pthreads x 250 calls at num_threads 1 and 2, every
output is its own input's (the model's lock serializes calls) and nothing deadlocks; in the embedded profile,
which has no threads, a call from a signal handler (standing in for an interrupt) while a call runs gets
PKT_BUSY and the running call's outputs stay right. Runs have a timeout, so a deadlock fails the test.
Inputs named like the functions run() calls to lock are renamed, so the SDK still compiles."""
from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

import pytest
import torch
from c_sdk_support import run
from torch import nn
from support import ThreadsMLP

import pockettorch
from pockettorch.sdk_templates.c_sdk import generate

HERE = pathlib.Path(__file__).parent
CALLERS, CALLS = 8, 250


@pytest.fixture(scope="module")
def mlp_ptm(tmp_path_factory):
    if shutil.which("gcc") is None or shutil.which("make") is None:
        pytest.skip("gcc and make are needed")
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("c_threads") / "mlp.ptm"
    pockettorch.export(ThreadsMLP().eval(), (torch.randn(32, 64),), name="mlp").save(path)
    return path


def _build(ptm: pathlib.Path, out: pathlib.Path, embed: bool) -> pathlib.Path:
    sdk = out / "sdk"
    generate.generate(ptm, sdk, prefix="mlp", embed=embed)
    run(["make", "-j2", "lib", "CFLAGS=-O2 -fno-math-errno"], cwd=sdk)
    binary = out / "concurrent_calls"
    run(["gcc", "-std=c11", "-O2", "-Wall", "-Werror", "-I", sdk, "-I", sdk / "runtime" / "include",
         HERE / "concurrent_calls.c", sdk / "libmlp.a", "-lpthread", "-lm", "-o", binary])
    return binary


def _counts(cmd) -> dict[str, int]:
    try:
        done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{cmd} deadlocked")
    assert done.returncode == 0, f"{done.returncode}: {done.stdout}{done.stderr[-2000:]}"
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", done.stdout)}


@pytest.fixture(scope="module")
def host_binary(mlp_ptm, tmp_path_factory):
    return _build(mlp_ptm, tmp_path_factory.mktemp("c_threads_host"), embed=False)


@pytest.mark.parametrize("num_threads", [1, 2])
def test_host_model_called_from_many_threads(host_binary, mlp_ptm, num_threads):
    counts = _counts([host_binary, mlp_ptm, num_threads, CALLERS, CALLS])
    assert counts == {"wrong": 0, "busy": 0, "ok": CALLERS * CALLS}


def test_embedded_model_refuses_a_call_made_while_it_runs(mlp_ptm, tmp_path):
    counts = _counts([_build(mlp_ptm, tmp_path, embed=True), 200])
    assert counts["wrong"] == 0
    assert counts["busy"] + counts["ok"] > 0  # the "interrupt" did call in


class LockNames(nn.Module):
    """Inputs named like what run() calls: the locking code, the catalogue helper, libc and the runtime."""

    def forward(self, run_locked, atomic_signal_fence, pkt_mutex_lock, fail, memcpy, pkt_session_run):
        return run_locked + atomic_signal_fence * pkt_mutex_lock + fail * memcpy - pkt_session_run


@pytest.mark.parametrize("embed", [False, True])
def test_inputs_named_like_the_locking_code_still_compile(mlp_ptm, tmp_path, embed):
    ptm = tmp_path / "names.ptm"
    pockettorch.export(LockNames(), tuple(torch.ones(2) for _ in range(6)), name="names").save(ptm)
    generate.generate(ptm, tmp_path / "sdk", prefix="names", embed=embed)
    sdk = tmp_path / "sdk"
    run(["gcc", "-std=c11", "-Wall", "-Werror", "-fsyntax-only", "-I", sdk, "-I", sdk / "runtime" / "include",
         sdk / "names.c"])
