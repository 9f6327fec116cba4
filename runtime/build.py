"""Build the C runtime's tools (pkt_runner, pkt_fuzz, pkt_alloc_fail) with CMake, cached by content.

    from pockettorch.runtime.build import build_runner, build_tools
    runner = build_runner("~/.cache/pockettorch/build")                 # -> path of pkt_runner
    tools = build_tools(cache_dir, sanitize=True)                       # -> {"pkt_runner": path, ...}
    faulty = build_runner(fault_injection=True)  # a test build: PKT_FAULT_INJECT perturbs one op (debugger tests)

The build directory is keyed by a hash of every C source/header, CMakeLists.txt, the compiler and the
flags (sanitize, kernel list, extra CMake arguments), so a changed source rebuilds and an unchanged one
is reused. Builds happen in a temporary directory renamed into place, under a file lock, so parallel
test workers neither clobber nor duplicate a build. Used by the tests and by the device harness.
When cmake is missing, the tools are compiled with the C compiler directly (same sources and flags).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import shutil
import subprocess
import tempfile
from typing import Iterable, Sequence

from pockettorch.runtime import error_catalogue as errors
from pockettorch.runtime import manifest

RUNTIME_DIR = pathlib.Path(__file__).resolve().parent
TOOLS = manifest.TOOLS
ALLOC_FAIL_WRAP = "-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=posix_memalign"


def default_cache_dir() -> pathlib.Path:
    base = os.environ.get("POCKETTORCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "pockettorch")
    return pathlib.Path(base) / "build"


def available_kernels() -> list[str]:
    """The kernels a full build includes (runtime/manifest.py, from the op table)."""
    return list(manifest.KERNELS)


def _sources() -> list[pathlib.Path]:
    """Every build input: the manifest's files, the manifest itself and the CMake files."""
    names = [*manifest.all_files(), *manifest.backend_support_files(), "manifest.py", "sources.cmake", "CMakeLists.txt"]
    return [RUNTIME_DIR / n for n in sorted(names)]


def _compiler() -> str:
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang") or "cc"


def hash_sources(h: "hashlib._Hash") -> None:
    """Feed every runtime source/header, the manifest and the CMake files (path and content) into `h`."""
    for path in _sources():
        h.update(str(path.relative_to(RUNTIME_DIR)).encode() + b"\0")
        h.update(path.read_bytes())


def source_hash(sanitize: bool, kernels: Sequence[str] | None, extra: Sequence[str] = ()) -> str:
    h = hashlib.sha256()
    hash_sources(h)
    h.update(repr((bool(sanitize), sorted(kernels) if kernels is not None else None, list(extra),
                   _compiler(), shutil.which("cmake") is not None)).encode())
    return h.hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: pathlib.Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock, the rename below still keeps builds whole
            yield
            return
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _run(cmd: list[str], cwd: pathlib.Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-40:])
        raise errors.IoError(f"build step failed ({' '.join(cmd)}):\n{tail}")


def _check_kernels(kernels: Iterable[str] | None) -> list[str] | None:
    if kernels is None:
        return None
    kernels = sorted(set(kernels))
    missing = [k for k in kernels if k not in available_kernels()]
    if missing:
        raise errors.InvalidArgumentError(
            f"no kernel source for {', '.join(missing)} (available: {', '.join(available_kernels())})")
    return kernels


def _build_cmake(out: pathlib.Path, sanitize: bool, kernels: list[str] | None, extra: Sequence[str]) -> None:
    cmd = ["cmake", "-S", str(RUNTIME_DIR), "-B", str(out), f"-DPKT_SANITIZE={'ON' if sanitize else 'OFF'}",
           f"-DPKT_KERNELS={';'.join(kernels or [])}", f"-DCMAKE_C_COMPILER={_compiler()}", *extra]
    _run(cmd, out)
    _run(["cmake", "--build", str(out), "-j", str(max(1, os.cpu_count() or 1))], out)


def include_flags(dirs: Iterable[str]) -> list[str]:
    return [f"-I{RUNTIME_DIR / d}" for d in dirs]


def direct_build(kernels: Sequence[str] | None, backends: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """(sources, flags) that compile a tool with the C compiler directly, without CMake: the manifest's library
    sources for `kernels` (all when None) and delegate `backends` and the tools' support files, with its flags,
    defines and include dirs, as CMakeLists.txt. Append tools/<tool>.c, -o, the LINK_LIBS and backend_libs(backends).
    Shared with cross.py."""
    backends = [b for b in backends if b in manifest.buildable_backends()]  # as CMake: left out without its tools
    srcs = [str(RUNTIME_DIR / f) for f in (*manifest.library_sources(kernels, backends=backends),
                                           *manifest.TOOLS_SUPPORT)]
    srcs += [f for b in backends for f in manifest.generate_backend_sources(b, _generated_dir())]
    flags = [*manifest.COMPILE_FLAGS, *(f"-D{d}" for d in manifest.selective_defines(kernels)),
             *(f"-D{manifest.backend_define(b)}" for b in backends),
             *include_flags((*manifest.PUBLIC_INCLUDE_DIRS, *manifest.PRIVATE_INCLUDE_DIRS,
                             *manifest.TOOLS_INCLUDE_DIRS))]
    return srcs, flags


def _generated_dir() -> pathlib.Path:
    """Where direct builds put generated sources (the Vulkan SPIR-V), keyed by the runtime's sources."""
    h = hashlib.sha256()
    hash_sources(h)
    return default_cache_dir().parent / "generated" / h.hexdigest()[:16]


def backend_libs(backends: Sequence[str]) -> list[str]:
    """-l flags for the libraries the delegate backends link."""
    return [f"-l{lib}" for b in backends for lib in manifest.BACKENDS[b].get("link_libs", ())]


def _check_backends(backends: Iterable[str]) -> list[str]:
    backends = sorted(set(backends))
    missing = [b for b in backends if b not in manifest.BACKENDS]
    if missing:
        raise errors.InvalidArgumentError(f"no delegate backend {', '.join(missing)} in this runtime's sources "
                                          f"(available: {', '.join(manifest.BACKENDS) or 'none'})")
    return backends


def _build_direct(out: pathlib.Path, sanitize: bool, kernels: list[str] | None, defines: Sequence[str],
                  backends: Sequence[str] = ()) -> None:
    srcs, flags = direct_build(kernels, backends)
    if sanitize:
        flags += manifest.SANITIZE_FLAGS
    flags += [f"-D{d}" for d in defines]
    for tool in TOOLS:
        extra = [ALLOC_FAIL_WRAP] if tool == "pkt_alloc_fail" else []
        _run([_compiler(), *flags, str(RUNTIME_DIR / "tools" / f"{tool}.c"), *srcs, "-o", str(out / tool),
              *extra, *backend_libs(backends), *(f"-l{lib}" for lib in manifest.LINK_LIBS)], out)


def build_tools(build_dir: str | os.PathLike | None = None, sanitize: bool = False,
                kernels: Iterable[str] | None = None, cmake_args: Sequence[str] = (),
                fault_injection: bool = False, backends: Iterable[str] = ()) -> dict[str, str]:
    """Build (or reuse) the tools; returns {tool name: absolute path} for the tools that exist.
    fault_injection: a test build whose sessions read PKT_FAULT_INJECT (runtime/core/fault_inject.h).
    backends: delegate backends to compile in (runtime/manifest.py BACKENDS), e.g. ["vulkan"]."""
    kernels = _check_kernels(kernels)
    backends = _check_backends(backends)
    if backends:
        cmake_args = [*cmake_args, f"-DPKT_BACKENDS={';'.join(backends)}"]
    root = pathlib.Path(build_dir) if build_dir is not None else default_cache_dir()
    root = root.expanduser().resolve()
    defines = [manifest.FAULT_INJECTION_DEFINE] if fault_injection else []
    if defines:
        cmake_args = [*cmake_args, "-DCMAKE_C_FLAGS=" + " ".join(f"-D{d}" for d in defines)]
    key = source_hash(sanitize, kernels, cmake_args)
    kind = "asan" if sanitize else "release"
    final = root / f"{kind}{'-fault' if fault_injection else ''}{''.join('-' + b for b in backends)}-{key}"
    with _locked(root / ".lock"):
        if not (final / "BUILD_OK").exists():
            root.mkdir(parents=True, exist_ok=True)
            tmp = pathlib.Path(tempfile.mkdtemp(prefix=".build-", dir=root))
            try:
                if shutil.which("cmake"):
                    _build_cmake(tmp, sanitize, kernels, cmake_args)
                else:
                    _build_direct(tmp, sanitize, kernels, defines, backends)
                publish(tmp, final, key)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
    return {t: str(final / t) for t in TOOLS if (final / t).exists()}


def publish(tmp: pathlib.Path, final: pathlib.Path, key: str) -> None:
    """Mark a finished build and move it into place, so no reader ever sees a half-built directory."""
    (tmp / "BUILD_OK").write_text(key)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def build_runner(build_dir: str | os.PathLike | None = None, sanitize: bool = False,
                 kernels: Iterable[str] | None = None, fault_injection: bool = False,
                 backends: Iterable[str] = ()) -> str:
    """Build (or reuse) pkt_runner (with the delegate `backends` compiled in) and return its path."""
    return build_tools(build_dir, sanitize=sanitize, kernels=kernels, fault_injection=fault_injection,
                       backends=backends)["pkt_runner"]


def build_binding(build_dir: str | os.PathLike | None = None, fault_injection: bool = False) -> str:
    """Build (or reuse) a copy of the Python binding (pockettorch.runtime._native, every kernel, as setup.py builds
    it) and return the path of its shared library. fault_injection: a test build whose sessions read
    PKT_FAULT_INJECT, for the in-process debugger's tests (load it as pockettorch.runtime._native before the
    package imports it, in a process of its own); the installed binding never carries it."""
    import sysconfig

    root = (pathlib.Path(build_dir) if build_dir is not None else default_cache_dir()).expanduser().resolve()
    defines = [*manifest.selective_defines(), *([manifest.FAULT_INJECTION_DEFINE] if fault_injection else [])]
    python = sysconfig.get_paths()["include"]
    key = source_hash(False, None, ["binding", python, *defines])
    name = "_native" + (sysconfig.get_config_var("EXT_SUFFIX") or ".so")
    final = root / f"binding{'-fault' if fault_injection else ''}-{key}"
    with _locked(root / ".lock"):
        if not (final / "BUILD_OK").exists():
            tmp = pathlib.Path(tempfile.mkdtemp(prefix=".build-", dir=root))
            try:
                srcs = [str(RUNTIME_DIR / f) for f in (*manifest.BINDING, *manifest.library_sources())]
                flags = [*manifest.COMPILE_FLAGS, "-fPIC", "-shared", f"-I{python}", *(f"-D{d}" for d in defines),
                         *include_flags((*manifest.PUBLIC_INCLUDE_DIRS, *manifest.PRIVATE_INCLUDE_DIRS))]
                _run([_compiler(), *flags, *srcs, "-o", str(tmp / name), *(f"-l{lib}" for lib in manifest.LINK_LIBS)],
                     tmp)
                publish(tmp, final, key)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
    return str(final / name)


def build_fuzzer(build_dir: str | os.PathLike | None = None, sanitize: bool = True,
                 kernels: Iterable[str] | None = None) -> str:
    """Build (or reuse) pkt_fuzz (sanitized by default) and return its path."""
    return build_tools(build_dir, sanitize=sanitize, kernels=kernels)["pkt_fuzz"]
