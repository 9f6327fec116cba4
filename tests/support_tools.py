"""Build the C runtime's tools once per test session (cached by source hash, shared between xdist workers).

The tests use the cache the device harness uses (~/.cache/pockettorch/build, $POCKETTORCH_CACHE), so a runner the
harness needs and one a test needs are the same build, and a new checkout reuses what another one built from the
same sources; POCKETTORCH_TEST_BUILD_DIR points the tests elsewhere (e.g. a cold cache).
"""
from __future__ import annotations

import functools
import os
import pathlib
import shutil
import subprocess

import pytest

from pockettorch.runtime.build import default_cache_dir

REPO = pathlib.Path(__file__).resolve().parents[1]
BUILD_DIR = pathlib.Path(os.environ.get("POCKETTORCH_TEST_BUILD_DIR") or default_cache_dir())

# Sanitizer settings for every sanitized tool run: stop at the first report, fail the process.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "abort_on_error=1:halt_on_error=1:detect_leaks=1:allocator_may_return_null=1:"
                    "detect_stack_use_after_return=1:strict_string_checks=1",
    "UBSAN_OPTIONS": "halt_on_error=1:abort_on_error=1:print_stacktrace=1",
}


def have_toolchain() -> bool:
    return shutil.which("cc") is not None or shutil.which("gcc") is not None or bool(os.environ.get("CC"))


@functools.lru_cache(maxsize=None)
def tools(sanitize: bool = False, kernels: tuple[str, ...] | None = None) -> dict[str, str]:
    if not have_toolchain():
        pytest.skip("no C compiler on this machine")
    from pockettorch.runtime.build import build_tools

    return build_tools(BUILD_DIR, sanitize=sanitize, kernels=kernels)


def run_tool(args: list[str], sanitize: bool = False, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if sanitize:
        env.update(SANITIZER_ENV)
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=env, **kw)
