"""The --embed profile needs no OS: every library file of the SDK compiles freestanding for a Cortex-M4F
(`zig cc -target thumb-freestanding-eabihf -ffreestanding`), and the objects' undefined symbols are only
each other's, the compiler's runtime helpers (`__*`) and the C functions the generated README documents
(generate.LIBC_SYMBOLS: mem* and libm). No malloc, stdio, threads, files or clock can hide there.

The only headers are the C standard's declarations (<string.h>, <math.h>), taken from the musl headers zig
ships, as newlib or picolibc provide them on a real MCU toolchain. example.c is a host program (it reads
and writes files), so it is not part of the check.
"""
from __future__ import annotations

import concurrent.futures
import pathlib
import struct

import pytest

from c_sdk_support import generate_sdk, run
from pockettorch.runtime import cross
from pockettorch.sdk_templates.c_sdk.generate import LIBC_SYMBOLS
from support_tools import BUILD_DIR

pytestmark = pytest.mark.slow

TARGET = ["-target", "thumb-freestanding-eabihf", "-mcpu=cortex_m4+vfp4d16sp"]  # Cortex-M4F: FPv4-SP, no NEON
FLAGS = ["-ffreestanding", "-O2", "-std=c11", "-fno-unwind-tables", "-fno-asynchronous-unwind-tables",
         "-Wall", "-Werror", "-Wno-unused-function"]
EM_ARM = 40


def musl_headers() -> list[str]:
    import ziglang

    include = pathlib.Path(ziglang.__file__).parent / "lib" / "libc" / "include"
    return [arg for d in ("generic-musl", "arm-linux-musl", "arm-linux-any") for arg in ("-isystem", str(include / d))]


def elf_symbols(path: pathlib.Path) -> tuple[int, set[str], set[str]]:
    """(e_machine, defined global symbols, undefined symbols) of a 32-bit little-endian ELF object."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 1 and data[5] == 1, f"{path} is not a 32-bit little-endian ELF"
    machine = struct.unpack_from("<H", data, 18)[0]
    shoff, = struct.unpack_from("<I", data, 32)
    shentsize, shnum = struct.unpack_from("<HH", data, 46)
    sections = [struct.unpack_from("<IIIIIIIIII", data, shoff + i * shentsize) for i in range(shnum)]
    defined, undefined = set(), set()
    for sh in sections:
        if sh[1] != 2:  # SHT_SYMTAB
            continue
        strtab = sections[sh[6]]  # sh_link
        for off in range(sh[4], sh[4] + sh[5], 16):
            name_off, _value, _size, info, _other, shndx = struct.unpack_from("<IIIBBH", data, off)
            bind = info >> 4
            if not name_off or bind not in (1, 2):  # global or weak only
                continue
            end = data.index(b"\0", strtab[4] + name_off)
            name = data[strtab[4] + name_off:end].decode()
            (undefined if shndx == 0 else defined).add(name)
    return machine, defined, undefined


@pytest.fixture(scope="module")
def zig():
    if not cross.have_ziglang():
        pytest.skip(f"ziglang is not installed (pip install '{cross.ZIGLANG_PIN}')")
    return cross.zig_command()


@pytest.mark.parametrize("name", ["conv_net", "embedder", "int8_net"])
def test_embedded_sdk_compiles_freestanding_for_cortex_m4(zig, models, name, tmp_path):
    sdk = generate_sdk(models[name], tmp_path / "sdk", embed=True)
    root = tmp_path / "sdk"
    library = sorted(p.relative_to(root) for p in root.rglob("*.c") if p.name != "example.c")
    assert f"{sdk.prefix}_model.c" in map(str, library) and "runtime/core/platform_embedded.c" in map(str, library)
    includes = [f"-I{root / d}" for d in (".", "runtime/include", "runtime")]
    env = cross.zig_env(BUILD_DIR.parent)  # zig's cache beside the runtime tests'

    def compile_one(rel: pathlib.Path) -> pathlib.Path:
        obj = tmp_path / "obj" / rel.with_suffix(".o")
        obj.parent.mkdir(parents=True, exist_ok=True)
        run([*zig, "cc", *TARGET, *FLAGS, *musl_headers(), *includes, "-c", root / rel, "-o", obj], env=env)
        return obj

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        objects = list(pool.map(compile_one, library))
    defined, undefined = set(), {}
    for obj in objects:
        machine, d, u = elf_symbols(obj)
        assert machine == EM_ARM, f"{obj} is not an ARM object"
        defined |= d
        for sym in u:
            undefined.setdefault(sym, obj.name)
    foreign = {s: o for s, o in undefined.items()
               if s not in defined and not s.startswith("__") and s not in LIBC_SYMBOLS}
    assert not foreign, f"symbols outside the documented allow-list: {foreign}"
    # the library really calls into the allow-list (the check looks at real objects, not empty ones)
    assert {"memcpy", "pkt_session_run", f"{sdk.prefix}_run"} <= set(undefined) | defined
    readme = (root / "README.md").read_text()
    assert all(sym in readme for sym in LIBC_SYMBOLS)
