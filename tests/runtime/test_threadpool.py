"""The platform thread pool (runtime/core/platform_posix.c): a C stress program (tests/runtime/c/
threadpool_stress.c) built against the pool alone, run plain and under ThreadSanitizer, with the workers'
spin time at 0 (every wait goes through the condition variables), tiny and the default."""
from __future__ import annotations

import functools
import os
import pathlib
import shutil
import subprocess

import pytest

HERE = pathlib.Path(__file__).resolve().parent
RUNTIME = HERE.parents[1] / "runtime"
SOURCES = [HERE / "c" / "threadpool_stress.c", RUNTIME / "core" / "platform_posix.c"]


def _cc() -> str:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler on this machine")
    return cc


@functools.lru_cache(maxsize=None)
def _build(tmp: str, tsan: bool) -> str | None:
    out = pathlib.Path(tmp) / ("stress_tsan" if tsan else "stress")
    flags = ["-std=c11", "-g", "-pthread", "-I", str(RUNTIME), "-I", str(RUNTIME / "include")]
    flags += ["-O1", "-fsanitize=thread"] if tsan else ["-O2"]
    r = subprocess.run([_cc(), *flags, *map(str, SOURCES), "-o", str(out)], capture_output=True, text=True)
    if r.returncode != 0:
        if tsan:
            return None  # no ThreadSanitizer runtime here
        raise AssertionError(r.stderr)
    return str(out)


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("threadpool"))


@pytest.mark.parametrize("spin_us", ["0", "3", ""])
@pytest.mark.parametrize("tsan", [False, True], ids=["plain", "tsan"])
def test_threadpool_stress(build_dir, tsan, spin_us):
    exe = _build(build_dir, tsan)
    if exe is None:
        pytest.skip("the compiler cannot build with -fsanitize=thread")
    env = dict(os.environ, PKT_SPIN_US=spin_us, TSAN_OPTIONS="halt_on_error=1:exitcode=66")
    rounds = "400" if tsan else "3000"
    r = subprocess.run([exe, rounds], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "threadpool_stress: ok" in r.stdout
