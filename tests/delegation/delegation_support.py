"""Shared pieces of the delegation tests: the test-only backend (elementwise_backend.c/.py) registered with the
exporter, a runner built with it compiled in (cached by source hash like runtime/build.py's builds), and a reader
for the DELEGATES section of a program."""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import struct
import subprocess

import numpy as np
import pytest

from pockettorch.exporter import backends as exporter_backends
from pockettorch.runtime import build, manifest
from fixtures.elementwise_backend import ElementwiseTestBackend
from support_tools import BUILD_DIR, have_toolchain

HERE = pathlib.Path(__file__).resolve().parent
BACKEND_C = HERE.parent / "fixtures" / "elementwise_backend.c"
# What the test models need: the elementwise kernels, the delegate marker, and linear/sigmoid for CPU-only nodes.
KERNELS = ("binary", "delegate", "linear", "reshape", "unary")


def register_test_backend() -> None:
    exporter_backends.register(ElementwiseTestBackend)


def test_runner() -> str:
    """pkt_runner with the test backend compiled in (PKT_WITH_BACKEND_TEST_ELEMENTWISE)."""
    if not have_toolchain():
        pytest.skip("no C compiler on this machine")
    h = hashlib.sha256()
    build.hash_sources(h)
    h.update(BACKEND_C.read_bytes() + repr(KERNELS).encode())
    out = BUILD_DIR / f"test-backend-{h.hexdigest()[:16]}"
    runner = out / "pkt_runner"
    if not runner.exists():
        out.mkdir(parents=True, exist_ok=True)
        srcs, flags = build.direct_build(KERNELS)
        tmp = out / f".pkt_runner.{os.getpid()}"
        subprocess.run([build._compiler(), *flags, "-O1", f"-D{manifest.backend_define('test_elementwise')}",
                        str(build.RUNTIME_DIR / "tools" / "pkt_runner.c"), str(BACKEND_C), *srcs, "-o", str(tmp),
                        *(f"-l{lib}" for lib in manifest.LINK_LIBS)], check=True, capture_output=True, text=True)
        os.replace(tmp, runner)
    return str(runner)


def run(ptm: str, *args: str, env: dict | None = None, inputs: list[np.ndarray] | None = None,
        tmp: pathlib.Path | None = None) -> tuple[subprocess.CompletedProcess, dict | None, list[np.ndarray]]:
    """Run the test runner on `ptm` once; (process, its JSON or None, the outputs)."""
    cmd = [test_runner(), ptm, "--iters", "1", "--warmup", "0", *args]
    outputs: list[np.ndarray] = []
    if inputs is not None:
        paths = []
        for i, a in enumerate(inputs):
            paths.append(str(tmp / f"in{i}.npy"))
            np.save(paths[-1], a)
        cmd += ["--input", *paths, "--output-dir", str(tmp / "out")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})
    if proc.returncode == 0 and inputs is not None:
        outputs = [np.load(p) for p in sorted((tmp / "out").glob("output_*.npy"))]
    return proc, json.loads(proc.stdout) if proc.returncode == 0 else None, outputs


def delegates_section(data: bytes) -> tuple[int, int]:
    """(offset, size) of the DELEGATES section (kind 9) in a program."""
    count = struct.unpack_from("<I", data, 12)[0]
    for i in range(count):
        kind, _, off, size = struct.unpack_from("<IIQQ", data, 64 + 24 * i)
        if kind == 9:
            return off, size
    raise KeyError("no DELEGATES section")
