"""Every build of the runtime reads one source manifest (runtime/manifest.py): the Python binding (setup.py), CMake,
the direct and cross builds, the Makefile's dependency list and the SDK generators. No build globs the runtime's
files and no file but the manifest spells its flags."""
import json
import pathlib
import runpy
import shutil
import subprocess
from unittest import mock

import pytest

from pockettorch.runtime import build, manifest

RUNTIME = manifest.RUNTIME_DIR
ROOT = RUNTIME.parent
# Every file that builds the runtime or lists its sources.
BUILD_FILES = ["setup.py", "Makefile", "runtime/CMakeLists.txt", "runtime/build.py", "runtime/cross.py",
               "sdk_templates/sources.py", "sdk_templates/c_sdk/generate.py", "sdk_templates/android/generator.py",
               "sdk_templates/ios/generator.py", *(f"sdk_templates/templates/{t}" for t in (
                   "c/CMakeLists.txt.j2", "c/Makefile.j2", "android/CMakeLists.txt.j2", "ios/Package.swift.j2"))]


@pytest.mark.parametrize("rel", BUILD_FILES)
def test_no_build_globs_or_spells_flags(rel):
    text = (ROOT / rel).read_text()
    for word in ("glob(", "file(GLOB", "$(wildcard", "-fno-math-errno", "-O3", "-std=c11", "runtime/include"):
        assert word not in text, f"{rel} has {word!r}: take it from runtime/manifest.py"


def test_setup_py_compiles_the_manifest():
    with mock.patch("setuptools.setup") as setup:
        runpy.run_path(str(ROOT / "setup.py"))
    (ext,) = setup.call_args.kwargs["ext_modules"]
    backends = manifest.buildable_backends()  # the delegate backends this machine can build (Vulkan: glslang)
    generated = [s for s in ext.sources if not s.startswith("runtime/")]  # their SPIR-V as C, under build/generated
    assert len(generated) == sum(len(manifest.BACKENDS[b].get("generated", ())) for b in backends)
    assert sorted(s for s in ext.sources if s.startswith("runtime/")) == sorted(
        f"runtime/{f}" for f in (*manifest.BINDING, *manifest.library_sources(backends=backends)))
    assert ext.extra_compile_args == list(manifest.COMPILE_FLAGS)
    assert ext.include_dirs == ["runtime/include", "runtime"]
    assert [f"{k}={v}" for k, v in ext.define_macros] == [*manifest.selective_defines(),
                                                          *(f"{manifest.backend_define(b)}=1" for b in backends)]


def test_direct_and_cross_builds_compile_the_manifest():
    srcs, flags = build.direct_build(["linear"])
    assert srcs == [str(RUNTIME / f) for f in (*manifest.library_sources(["linear"]), *manifest.TOOLS_SUPPORT)]
    assert "compute/gemm/gemm.c" in manifest.library_sources(["linear"])  # linear's compute group
    assert not any("conv" in f for f in manifest.library_sources(["linear"]))
    assert flags[:len(manifest.COMPILE_FLAGS)] == list(manifest.COMPILE_FLAGS)
    assert "-DPKT_WITH_LINEAR=1" in flags and "-DPKT_WITH_RESHAPE=1" not in flags


@pytest.mark.skipif(shutil.which("cmake") is None, reason="needs cmake")
def test_cmake_compiles_the_manifest(tmp_path):
    subprocess.run(["cmake", "-S", str(RUNTIME), "-B", str(tmp_path), "-DPKT_KERNELS=softmax;reshape",
                    "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON"], check=True, capture_output=True)
    commands = json.loads((tmp_path / "compile_commands.json").read_text())
    library = {pathlib.Path(c["file"]).relative_to(RUNTIME).as_posix(): c["command"] for c in commands
               if "pockettorch_runtime.dir" in c["command"]}
    assert sorted(library) == sorted(manifest.library_sources(["softmax", "reshape"]))
    command = library["core/loader.c"].split()
    assert all(f in command for f in manifest.OPT_FLAGS + manifest.WARNING_FLAGS)
    assert f"-std=c{manifest.C_STANDARD}" in command and f"-I{RUNTIME / 'include'}" in command
    assert "-DPKT_WITH_SOFTMAX=1" in command and "-DPKT_WITH_LINEAR=1" not in command


def test_makefile_depends_on_the_manifest_files():
    out = subprocess.run(["make", "-s", "--eval", "show-sources: ; @echo $(C_SOURCES)", "show-sources"],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
    assert out == [f"runtime/{f}" for f in manifest.binding_files()]
    assert "runtime/kernels/conv2d.c" in out and "runtime/include/pockettorch/pockettorch.h" in out
