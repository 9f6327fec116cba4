"""Cross-build the runner for device ABIs with `ziglang` (zig's bundled clang + musl): no NDK needed.

    from pockettorch.runtime.cross import build_runner_for
    runner = build_runner_for("arm64-v8a")          # -> Path of a static aarch64 pkt_runner

| ABI | zig target | extra flags | runs under (on an x86-64 host) |
|---|---|---|---|
| `arm64-v8a` | `aarch64-linux-musl` | | `qemu-aarch64-static` |
| `armeabi-v7a` | `arm-linux-musleabihf` | `-mfpu=neon -mfloat-abi=hard` | `qemu-arm-static` |
| `x86_64` | `x86_64-linux-musl` | | directly |
| `x86` | `x86-linux-musl` | | directly (32-bit x86 is executable on x86-64 Linux), else `qemu-i386-static` |

Every build is optimized like the host's (runtime/manifest.py's flags), statically linked against musl and stripped, for the ABI's baseline CPU
(`-mcpu=baseline`, never `-march=native`): SIMD beyond the baseline is picked at run time (runtime/backends/cpu/cpu.c),
so one binary runs on every device of that ABI. armeabi-v7a requires NEON (Android has required it since
API 21 in practice; the NEON GEMM is compiled in).

The sources, flags, defines and include paths are the manifest's, through runtime/build.py's `direct_build`; the output directory
is keyed by a hash of every runtime source, the flags, the kernel list and the zig version, and builds
happen in a temporary directory renamed into place under a per-ABI file lock, like build.py. zig keeps
its own cache (the compiled musl and compiler-rt of each target, ~45 s the first time) in
`ZIG_GLOBAL_CACHE_DIR`, by default `<cache root>/zig` beside the build directory, so it persists
between runs.

`sanitize=True` adds UBSan in trap mode (`-fsanitize=undefined -fsanitize-trap=undefined`): AddressSanitizer
has no static musl runtime, so the cross builds cannot use it; a trap ends the process with SIGILL.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
from typing import Iterable

from pockettorch.runtime import error_catalogue as errors
from pockettorch.runtime import build, manifest

ZIGLANG_PIN = "ziglang==0.17.1"


@dataclasses.dataclass(frozen=True)
class Abi:
    name: str  # Android ABI name
    target: str  # zig target triple
    flags: tuple[str, ...]  # extra compiler flags for this ABI
    qemu: str  # qemu-user binary that runs it on another host
    machines: tuple[str, ...]  # platform.machine() values that run it natively


ABIS: dict[str, Abi] = {
    a.name: a for a in (
        Abi("arm64-v8a", "aarch64-linux-musl", (), "qemu-aarch64-static", ("aarch64", "arm64")),
        Abi("armeabi-v7a", "arm-linux-musleabihf", ("-mfpu=neon", "-mfloat-abi=hard"), "qemu-arm-static",
            ("armv7l", "armv8l")),
        Abi("x86_64", "x86_64-linux-musl", (), "qemu-x86_64-static", ("x86_64", "amd64")),
        Abi("x86", "x86-linux-musl", (), "qemu-i386-static", ("i386", "i686")),
    )
}
UBSAN_FLAGS = ["-g", "-fsanitize=undefined", "-fsanitize-trap=undefined", "-fno-sanitize-recover=all"]


def abi(name: str) -> Abi:
    try:
        return ABIS[name]
    except KeyError:
        raise errors.InvalidArgumentError(f"unknown ABI '{name}' (known: {', '.join(ABIS)})") from None


def have_ziglang() -> bool:
    return importlib.util.find_spec("ziglang") is not None


def zig_command() -> list[str]:
    """`python -m ziglang` for this interpreter; a clear error when the package is missing."""
    if not have_ziglang():
        raise errors.NotSupportedError(
            f"cross-building the runner needs the 'ziglang' package (zig's C compiler), which is not installed "
            f"in {sys.executable}: pip install '{ZIGLANG_PIN}' (or pip install 'pockettorch[test]')")
    return [sys.executable, "-m", "ziglang"]


@functools.lru_cache(maxsize=None)
def zig_version() -> str:
    proc = subprocess.run([*zig_command(), "version"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise errors.NotSupportedError(f"'python -m ziglang version' failed: {proc.stderr.strip()[-500:]}")
    return proc.stdout.strip()


def zig_env(cache_root: pathlib.Path) -> dict[str, str]:
    """Environment for zig: its caches under cache_root/zig unless ZIG_GLOBAL_CACHE_DIR is set."""
    env = dict(os.environ)
    zig_cache = env.get("ZIG_GLOBAL_CACHE_DIR") or str(cache_root / "zig")
    env["ZIG_GLOBAL_CACHE_DIR"] = zig_cache
    env.setdefault("ZIG_LOCAL_CACHE_DIR", zig_cache)
    return env


def compile_command(a: Abi, output: pathlib.Path, sanitize: bool = False,
                    kernels: Iterable[str] | None = None, fault_injection: bool = False) -> list[str]:
    """The full `zig cc` command line that builds pkt_runner for ABI `a` (fault_injection: see build.build_tools)."""
    srcs, flags = build.direct_build(kernels)
    flags = [*flags, *a.flags, "-mcpu=baseline"]
    if fault_injection:
        flags.append(f"-D{manifest.FAULT_INJECTION_DEFINE}")
    flags += UBSAN_FLAGS if sanitize else ["-s"]
    return [*zig_command(), "cc", "-target", a.target, *flags, str(build.RUNTIME_DIR / "tools" / "pkt_runner.c"),
            *srcs, "-static", "-o", str(output), *(f"-l{lib}" for lib in manifest.LINK_LIBS)]


def build_key(a: Abi, sanitize: bool, kernels: list[str] | None, fault_injection: bool = False) -> str:
    h = hashlib.sha256()
    build.hash_sources(h)
    cmd = compile_command(a, pathlib.Path("OUT"), sanitize, kernels, fault_injection)[len(zig_command()):]
    h.update(repr((cmd, zig_version())).encode())
    return h.hexdigest()[:16]


def build_runner_for(abi_name: str, cache_dir: str | os.PathLike | None = None, sanitize: bool = False,
                     kernels: Iterable[str] | None = None, fault_injection: bool = False) -> pathlib.Path:
    """Build (or reuse) a static pkt_runner for an Android ABI; returns its path.

    cache_dir defaults to runtime/build.py's cache (~/.cache/pockettorch/build, $POCKETTORCH_CACHE);
    the binary lands in <cache_dir>/cross-<abi>-<release|ubsan>-<hash>/pkt_runner."""
    a = abi(abi_name)
    kernels = build._check_kernels(kernels)
    root = pathlib.Path(cache_dir) if cache_dir is not None else build.default_cache_dir()
    root = root.expanduser().resolve()
    key = build_key(a, sanitize, kernels, fault_injection)
    kind = ("ubsan" if sanitize else "release") + ("-fault" if fault_injection else "")
    final = root / f"cross-{a.name}-{kind}-{key}"
    runner = final / "pkt_runner"
    with build._locked(root / f".lock-{a.name}"):
        if not (final / "BUILD_OK").exists():
            tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".cross-{a.name}-", dir=root))
            try:
                cmd = compile_command(a, tmp / "pkt_runner", sanitize, kernels, fault_injection)
                proc = subprocess.run(cmd, cwd=tmp, env=zig_env(root.parent), stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
                if proc.returncode != 0:
                    tail = "\n".join(proc.stdout.splitlines()[-40:])
                    raise errors.IoError(f"cross-build for {a.name} ({a.target}) failed:\n{' '.join(cmd)}\n{tail}")
                (tmp / "build.log").write_text(" ".join(cmd) + "\n" + proc.stdout)  # compiler warnings, if any
                build.publish(tmp, final, key)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
    return runner


def runs_natively(a: Abi) -> bool:
    """Whether this host executes the ABI's binaries without qemu (same machine, or 32-bit x86 on x86-64)."""
    import platform

    if sys.platform != "linux":
        return False
    m = platform.machine().lower()
    return m in a.machines or (a.name == "x86" and m in ("x86_64", "amd64"))


def launcher(abi_name: str) -> list[str] | None:
    """Command prefix that runs an ABI's binary on this host: [] natively, [qemu] when only qemu-user
    can, None when neither. A native check for 32-bit x86 is confirmed by running a built binary
    (kernels without IA32 emulation refuse it); see `can_execute`."""
    a = abi(abi_name)
    if runs_natively(a):
        return []
    q = shutil.which(a.qemu) or (f"/usr/bin/{a.qemu}" if os.access(f"/usr/bin/{a.qemu}", os.X_OK) else None)
    return [q] if q else None


def can_execute(cmd: list[str]) -> bool:
    """Whether `cmd + ['--help']` runs (exit 0)."""
    try:
        return subprocess.run([*cmd, "--help"], capture_output=True, timeout=60).returncode == 0
    except OSError:
        return False
