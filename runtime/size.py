"""Stripped size of the runtime for a device ABI: the core, each compute group and kernel, a model's selective build.

    from pockettorch.runtime import size
    m = size.Measurer("arm64-v8a", "Os")
    m.core().program_bytes                      # the core in a minimal app, stripped
    m.link(["conv2d", "linear"]).parts          # {"core files": ..., "group gemm": ..., "kernel conv2d": ...}

How it is measured (METHOD says it in one paragraph): every runtime file of the manifest is compiled for the ABI
(zig cc for arm64-v8a and armeabi-v7a, the host C compiler for x86_64) with the manifest's flags, -Os or -O3 in
place of its -O3, and -ffunction-sections -fdata-sections. A build (the core, one platform file, some kernels and
the compute groups they need) is linked with tools/size_app.c, an app that loads, prepares and runs a program,
into a dynamically linked executable (libc stays the system's, as on Android and in ExecuTorch's size test) with
--gc-sections, and stripped: its file size is the build's size. A part's size (the core files, a compute group, a
kernel) is the code and data its object files keep in that link: their allocated sections minus the ones the
linker drops (--print-gc-sections). The rest of the file is "other": ELF and dynamic-linking tables, unwind tables,
C start-up code and the app.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import os
import pathlib
import re
import shutil
import struct
import subprocess
import tempfile
from collections import defaultdict
from typing import Iterable

from pockettorch.runtime import error_catalogue as errors
from pockettorch.runtime import build, cross, manifest

ABIS = ("arm64-v8a", "armeabi-v7a", "x86_64")
OPTS = ("Os", "O3")
CORE_KERNEL = "reshape"  # the trivial kernel the core is measured with, so the kernel table holds one entry
# Compiled with the selection's defines for every link, as a selective build compiles them: the kernel table, and
# the ISA config (which links the SIMD activations and maps only for kernels that call them).
PER_SELECTION = ("backends/cpu/kernel_table.c", "backends/cpu/isa_config.c")
METHOD = (
    "Every runtime file compiled with the manifest's flags at the given -O level plus -ffunction-sections "
    "-fdata-sections; a build linked with a minimal app (load, prepare, run one program) into a dynamically linked "
    "executable with --gc-sections and stripped (libc not included, as on Android). core and selective build: "
    "that stripped file's size. A part (core files, compute group, kernel): the code and data its objects keep after "
    "--gc-sections; other: ELF and dynamic-linking tables, unwind tables, start-up code and the app.")

# Loaded from the file but not code or data of one object: unwind tables are merged by the linker (counted in other).
_UNWIND = (".eh_frame", ".ARM.exidx", ".ARM.extab")
_SHF_ALLOC, _SHT_NOBITS = 0x2, 8
_REMOVED = (re.compile(r"removing unused section (?P<obj>.+\.o):\((?P<section>[^)]+)\)$"),  # lld
            re.compile(r"removing unused section '(?P<section>[^']+)' in file '(?P<obj>[^']+\.o)'$"))  # GNU ld


@dataclasses.dataclass(frozen=True)
class Build:
    kernels: tuple[str, ...]
    program_bytes: int  # the stripped executable's file size
    parts: dict[str, int]  # "core files" / "group <name>" / "kernel <name>" -> bytes of code and data kept

    @property
    def other_bytes(self) -> int:
        return self.program_bytes - sum(self.parts.values())


def loaded_sections(obj: bytes) -> list[tuple[str, int]]:
    """(name, size) of a relocatable ELF object's sections that a linked program loads from its file, unwind
    tables left out."""
    if obj[:4] != b"\x7fELF":
        raise errors.InternalError("not an ELF object")
    e = "<" if obj[5] == 1 else ">"
    if obj[4] == 2:  # ELF64
        shoff, = struct.unpack_from(e + "Q", obj, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", obj, 0x3A)
        layout = e + "IIQQQQ"
    else:
        shoff, = struct.unpack_from(e + "I", obj, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", obj, 0x2E)
        layout = e + "IIIIII"
    headers = [struct.unpack_from(layout, obj, shoff + i * shentsize) for i in range(shnum)]
    strtab = headers[shstrndx][4]

    def name(offset: int) -> str:
        start = strtab + offset
        return obj[start:obj.index(b"\0", start)].decode()

    return [(name(n), size) for n, kind, flags, _, _, size in headers
            if flags & _SHF_ALLOC and kind != _SHT_NOBITS and not name(n).startswith(_UNWIND)]


def removed_sections(linker_output: str) -> list[tuple[str, str]]:
    """(object path, section) pairs a --print-gc-sections link reports as dropped."""
    out = []
    for line in linker_output.splitlines():
        for pattern in _REMOVED:
            m = pattern.search(line.strip())
            if m:
                out.append((m["obj"], m["section"]))
    return out


def _part(rel: str) -> str:
    if rel.startswith("kernels/"):
        return "kernel " + pathlib.PurePosixPath(rel).stem
    for group, files in manifest.GROUPS.items():
        if rel in files:
            return f"group {group}"
    return "core files"


class Measurer:
    """Compiles the runtime once for an ABI and -O level (cached by source hash) and links builds from it."""

    def __init__(self, abi: str, opt: str = "Os", cache_dir: str | os.PathLike | None = None):
        if abi not in ABIS:
            raise errors.InvalidArgumentError(f"unknown ABI '{abi}' (known: {', '.join(ABIS)})")
        if opt not in OPTS:
            raise errors.InvalidArgumentError(f"unknown optimization '{opt}' (known: {', '.join(OPTS)})")
        self.abi, self.opt = abi, opt
        root = pathlib.Path(cache_dir) if cache_dir is not None else build.default_cache_dir()
        self.root = root.expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.flags = [f"-{opt}" if f.startswith("-O") else f for f in manifest.COMPILE_FLAGS]
        self.flags += ["-ffunction-sections", "-fdata-sections",
                       *build.include_flags((*manifest.PUBLIC_INCLUDE_DIRS, *manifest.PRIVATE_INCLUDE_DIRS))]
        a = cross.abi(abi)
        if abi == "x86_64" and cross.runs_natively(a):
            self.cc, self.env = [build._compiler()], None
            self.compiler = self._run([*self.cc, "--version"], self.root).splitlines()[0]
        else:  # glibc, which zig links dynamically (its musl targets link statically)
            target = ["-target", a.target.replace("musl", "gnu"), "-mcpu=baseline", *a.flags]
            self.cc, self.env = [*cross.zig_command(), "cc", *target], cross.zig_env(self.root.parent)
            self.compiler = f"zig {cross.zig_version()} cc {' '.join(target)}"
        self.objects = self._compile_all()

    def _run(self, cmd: list[str], cwd: pathlib.Path) -> str:
        proc = subprocess.run(cmd, cwd=cwd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode != 0:
            tail = "\n".join(proc.stdout.splitlines()[-30:])
            raise errors.IoError(f"size build for {self.abi} failed ({' '.join(cmd)}):\n{tail}")
        return proc.stdout

    def _compile(self, rel: str, out: pathlib.Path, defines: Iterable[str] = ()) -> pathlib.Path:
        obj = out / (rel.replace("/", "__")[:-2] + ".o")
        self._run([*self.cc, *self.flags, *(f"-D{d}" for d in defines), "-c", str(build.RUNTIME_DIR / rel),
                   "-o", str(obj)], out)
        return obj

    def _compile_all(self) -> dict[str, pathlib.Path]:
        """Every library file of a full build and the app, compiled once into the cache (the kernel table and the
        ISA config, which depend on the selection, are compiled per link)."""
        files = [f for f in manifest.library_sources() if f not in PER_SELECTION] + [manifest.SIZE_APP]
        h = hashlib.sha256()
        build.hash_sources(h)
        h.update(repr((self.compiler, self.flags)).encode())
        key = h.hexdigest()[:16]
        final = self.root / f"size-{self.abi}-{self.opt}-{key}"
        with build._locked(self.root / f".lock-size-{self.abi}"):
            if not (final / "BUILD_OK").exists():
                tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".size-{self.abi}-", dir=self.root))
                try:
                    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
                        list(pool.map(lambda rel: self._compile(rel, tmp), files))
                    build.publish(tmp, final, key)
                finally:
                    if tmp.exists():
                        shutil.rmtree(tmp, ignore_errors=True)
        return {rel: final / (rel.replace("/", "__")[:-2] + ".o") for rel in files}

    def link(self, kernels: Iterable[str], keep: str | os.PathLike | None = None) -> Build:
        """Link the app with the core and `kernels` (and the compute groups they need); measure the stripped file.
        `keep`: copy the program there (it runs a .ptm given as its argument; exit status = pkt_status)."""
        kernels = tuple(build._check_kernels(kernels))
        with tempfile.TemporaryDirectory(prefix="pkt-size-") as tmp:
            tmp = pathlib.Path(tmp)
            objects = {rel: self.objects[rel] for rel in manifest.library_sources(kernels) if rel not in PER_SELECTION}
            for rel in PER_SELECTION:
                objects[rel] = self._compile(rel, tmp, manifest.selective_defines(kernels))
            program = tmp / "program"
            output = self._run([*self.cc, "-Wl,--gc-sections", "-Wl,--print-gc-sections", "-s",
                                str(self.objects[manifest.SIZE_APP]), *map(str, objects.values()), "-o", str(program),
                                *(f"-l{lib}" for lib in manifest.LINK_LIBS)], tmp)
            removed = defaultdict(list)
            for obj, section in removed_sections(output):
                removed[os.path.realpath(obj)].append(section)
            parts: dict[str, int] = defaultdict(int)
            for rel, obj in objects.items():
                sections = defaultdict(list)
                for name, nbytes in loaded_sections(obj.read_bytes()):
                    sections[name].append(nbytes)
                kept = sum(map(sum, sections.values()))
                for name in removed[os.path.realpath(obj)]:
                    if sections.get(name):
                        kept -= sections[name].pop()
                parts[_part(rel)] += kept
            if keep is not None:
                shutil.copy2(program, keep)
            return Build(kernels, program.stat().st_size, dict(parts))

    def core(self) -> Build:
        """The core: loader, session, status, workspace, platform, CPU detection and the kernel table, with one
        trivial kernel."""
        return self.link([CORE_KERNEL])


def ordered_parts(b: Build) -> list[tuple[str, int]]:
    """core files, then the compute groups, then the kernels (manifest order), then other."""
    groups = [f"group {g}" for g in manifest.GROUPS if f"group {g}" in b.parts]
    names = ["core files", *groups, *(f"kernel {k}" for k in b.kernels)]
    return [(n, b.parts.get(n, 0)) for n in names] + [("other", b.other_bytes)]


def model_report(path: str | os.PathLike, abi: str = "arm64-v8a", opt: str = "Os",
                 cache_dir: str | os.PathLike | None = None) -> dict:
    """What `pockettorch size` shows for a .ptm: the core, the model's selective build and its parts."""
    from pockettorch.runtime import load, op_table  # the binding: only once a command runs

    module = load(str(path))  # the C loader checks the file before its ops are read
    kernel_of = {op.name: op.kernel for op in op_table.OPS}
    kernels = sorted({kernel_of[op] for op, _ in module.instructions()})
    m = Measurer(abi, opt, cache_dir)
    selective = m.link(kernels)
    return {
        "model": module.name, "file": str(path), "abi": abi, "opt": f"-{opt}", "compiler": m.compiler,
        "method": METHOD, "core_bytes": m.core().program_bytes, "kernels": kernels,
        "selective_build_bytes": selective.program_bytes,
        "parts": [{"part": name, "bytes": nbytes} for name, nbytes in ordered_parts(selective)],
    }
