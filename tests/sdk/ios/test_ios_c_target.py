"""The package's C target compiles as SwiftPM compiles it, and the calls the Swift wrapper makes compute
what the Python runtime computes (through tests/sdk/ios/model_driver.c, which makes the same calls)."""
from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from ios_support import MODELS

import pockettorch
from pockettorch.sdk_templates.ios import generator

DRIVER = pathlib.Path(__file__).with_name("model_driver.c")

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")


def c_target(package: pathlib.Path) -> pathlib.Path:
    (root,) = (package / "Sources").glob("*CRuntime")
    return root


@pytest.fixture(scope="module")
def driver(packages, tmp_path_factory):
    """driver(key) -> the model driver linked against that package's C target (built once per module)."""
    built: dict[str, pathlib.Path] = {}

    def get(key: str) -> pathlib.Path:
        if key not in built:
            built[key] = build_driver(packages[key], tmp_path_factory.mktemp(f"driver-{key}"))
        return built[key]
    return get


def build_driver(package: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    """gcc over the C target the way SwiftPM builds it: its include/ and cSettings header paths, every .c file
    of the target, SWIFT_PACKAGE defined; -Wall -Wextra -Werror so any warning fails the test."""
    root = c_target(package)
    includes = [f"-I{root / 'include'}", *(f"-I{root / p}" for p in generator.C_HEADER_SEARCH_PATHS)]
    sources = sorted(str(p) for p in root.rglob("*.c"))
    binary = out / "model_driver"
    result = subprocess.run(
        ["gcc", "-std=c11", "-Os", "-Wall", "-Wextra", "-Werror", "-DSWIFT_PACKAGE=1", *includes, str(DRIVER),
         *sources, "-o", str(binary), "-lm", "-lpthread"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    return binary


@pytest.mark.parametrize("key", list(MODELS))
def test_c_target_builds_warning_free_and_matches_python_runtime(key, packages, ptm_files, driver, tmp_path):
    package = packages[key]
    binary = driver(key)
    (module_dir,) = (p for p in (package / "Sources").iterdir() if not p.name.endswith("CRuntime"))
    (reference_dir,) = (package / "Tests").glob("*/Reference")
    python = pockettorch.load(ptm_files[key])
    planned = [tuple(s.ranges[d][2] if n is None else n for d, n in enumerate(s.shape))  # dynamic dims: the max
               for s in python.input_specs]
    inputs = [np.fromfile(reference_dir / f"input_{i}.bin", dtype=np.dtype(s.dtype).newbyteorder("<")).reshape(shape)
              for i, (s, shape) in enumerate(zip(python.input_specs, planned))]
    expected = python.run_numpy(inputs)
    for threads in (1, 2):
        out = tmp_path / f"threads{threads}"
        out.mkdir()
        model = module_dir / "Resources" / "model.ptm"
        run = subprocess.run([str(binary), str(model), str(threads), str(reference_dir), str(out)],
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        for i, (spec, want) in enumerate(zip(python.output_specs, expected)):
            got = np.fromfile(out / f"output_{i}.bin", dtype=np.dtype(spec.dtype).newbyteorder("<")).reshape(spec.shape)
            if want.dtype.kind == "f":
                assert np.max(np.abs(got - want), initial=0.0) <= 1e-5, f"output {i} ({spec.name}), {threads} threads"
            else:
                assert np.array_equal(got, want), f"output {i} ({spec.name}), {threads} threads"
            # the bundled XCTest reference is the same run
            bundled = np.fromfile(reference_dir / f"output_{i}.bin", dtype=got.dtype).reshape(spec.shape)
            assert np.array_equal(bundled, want)


def test_driver_reports_the_catalogue_code_for_a_corrupt_model(driver, tmp_path):
    binary = driver("two_inputs")
    bad = tmp_path / "bad.ptm"
    bad.write_bytes(b"NOTAPTM!" + bytes(120))
    run = subprocess.run([str(binary), str(bad), "1", str(tmp_path), str(tmp_path)], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == pockettorch.errors.BadMagicError.code, run.stderr
    assert "PKT_BAD_MAGIC" in run.stderr


@pytest.mark.slow
@pytest.mark.parametrize("target", ["aarch64-macos", "x86_64-macos"])
def test_c_target_compiles_warning_free_for_apple_with_clang(target, ptm_files, tmp_path):
    """Clang (zig's, with its bundled macOS libc headers) over every kernel, for Apple's arm64 and x86_64:
    what Xcode compiles for a device, a simulator or a Mac, except the SDK headers. Clang warns where gcc does not
    (e.g. unused static inline functions)."""
    generator.generate(ptm_files["two_inputs"], tmp_path / "pkg", all_kernels=True)
    root = c_target(tmp_path / "pkg")
    flags = ["-target", target, "-std=c11", "-Os", "-Wall", "-Wextra", "-Werror", "-DSWIFT_PACKAGE=1",
             f"-I{root / 'include'}", *(f"-I{root / p}" for p in generator.C_HEADER_SEARCH_PATHS)]
    failures = []
    for source in sorted(root.rglob("*.c")):
        result = subprocess.run([sys.executable, "-m", "ziglang", "cc", *flags, "-c", str(source), "-o",
                                 str(tmp_path / "out.o")], capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            failures.append(result.stderr[-1500:])
    assert not failures, "\n".join(failures)
