"""Generated C SDKs cross-compile with zig for aarch64-linux-musl through their own Makefile and, run under
qemu-aarch64-static (or natively on an arm64 host), reproduce the Python runtime's outputs. Both profiles:
the host one (posix platform, NEON kernels) and --embed (embedded platform, portable kernels, model compiled
in). Skips with the reason when ziglang or qemu is missing, like tests/runtime/test_cross.py.
"""
from __future__ import annotations

import sys

import pytest

from c_sdk_support import RUN_TIMEOUT, check_outputs, example_args, generate_sdk, run
from pockettorch.runtime import cross
from support_tools import BUILD_DIR

pytestmark = pytest.mark.slow

ABI = "arm64-v8a"


@pytest.fixture(scope="module")
def launcher():
    if not cross.have_ziglang():
        pytest.skip(f"ziglang is not installed (pip install '{cross.ZIGLANG_PIN}')")
    prefix = cross.launcher(ABI)
    if prefix is None:
        pytest.skip(f"this host cannot run {ABI} binaries and {cross.ABIS[ABI].qemu} is not installed "
                    "(apt-get install qemu-user-static)")
    return prefix


@pytest.mark.parametrize("embed", [False, True], ids=["host", "embed"])
@pytest.mark.parametrize("name", ["embedder", "conv_net"])
def test_cross_built_example_matches_python_runtime(launcher, models, name, embed, tmp_path):
    sdk = generate_sdk(models[name], tmp_path / "sdk", embed=embed)
    zig_cc = " ".join([sys.executable, "-m", "ziglang", "cc", "-target", cross.ABIS[ABI].target, "-mcpu=baseline"])
    run(["make", "-j2", f"CC={zig_cc}", "LDFLAGS=-static"], cwd=tmp_path / "sdk", env=cross.zig_env(BUILD_DIR.parent))
    example = tmp_path / "sdk" / f"{sdk.prefix}_example"
    assert example.read_bytes()[18] == 183, "not an aarch64 binary"  # e_machine EM_AARCH64
    out = tmp_path / "out"
    out.mkdir()
    run([*launcher, example, *example_args(sdk, models[name], out)], timeout=RUN_TIMEOUT)
    check_outputs(out, models[name], f"{name} ({'embed' if embed else 'host'}, {ABI})")
