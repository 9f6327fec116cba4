"""Hostile names (tests/support_hostile.py) through the C SDK: make, CMake (configure + build) and gcc build it, the
injected commands never run (their marker file never appears), no injected symbol exists, and the header's name
macros give back the original strings byte for byte."""
from __future__ import annotations

import pathlib
import subprocess

import pytest
from support_hostile import MARKER_WORD, export_hostile, injected

from pockettorch.sdk_templates.c_sdk import generate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("c-hostile")
    names = export_hostile(root / "hostile.ptm")
    sdk = generate.generate(root / "hostile.ptm", root / "sdk", prefix="hostile", embed=True)
    return root / "sdk", sdk, names


def _run(cmd, cwd) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_make_builds_and_runs_nothing_injected(hostile):
    out, _, _ = hostile
    _run(["make", "-j2", "OBJ_DIR=make-obj"], out)
    assert not injected(out)
    symbols = _run(["nm", "hostile_example"], out)
    assert MARKER_WORD not in symbols and (out / "hostile_example").is_file()


def test_cmake_configures_and_builds_and_runs_nothing_injected(hostile):
    out, _, _ = hostile
    _run(["cmake", "-S", ".", "-B", "cmake-build", "-DHOSTILE_EXAMPLE=OFF"], out)
    _run(["cmake", "--build", "cmake-build", "-j2"], out)
    assert not injected(out)
    assert MARKER_WORD not in _run(["nm", "cmake-build/libhostile.a"], out)


def test_header_names_round_trip_as_c_strings(hostile):
    out, sdk, names = hostile
    macros = {"HOSTILE_MODEL_NAME": names["model"], f"HOSTILE_INPUT_{sdk.inputs[0].macro}_NAME": names["input"],
              f"HOSTILE_OUTPUT_{sdk.outputs[0].macro}_NAME": names["output"]}
    shows = "".join(f"  show({m}, sizeof({m}) - 1);\n" for m in macros)
    (out / "names.c").write_text(
        '#include <stdio.h>\n#include "hostile.h"\n'
        "static void show(const char* s, size_t n) {\n"
        '  for (size_t i = 0; i < n; i++) printf("%02x", (unsigned char)s[i]);\n  printf("\\n");\n}\n'
        f"int main(void) {{\n{shows}  return 0;\n}}\n")
    _run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I.", "-Iruntime/include", "names.c", "-o", "names"], out)
    got = _run([str(out / "names")], out).split()
    assert got == [name.encode().hex() for name in macros.values()]
