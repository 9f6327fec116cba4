"""Generated C SDKs build on the host and their example reproduces the Python runtime's outputs.

Host profile with its CMakeLists.txt, embedded profile with its Makefile (each SDK built once, -Wall -Werror
so generated code stays warning-free); then the error paths users meet: too little memory, a missing file,
a .ptm that is not the model the header was generated for.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

from pockettorch.sdk_templates import sources
from c_sdk_support import RUN_TIMEOUT, check_outputs, example_args, generate_sdk, run
from support_tools import SANITIZER_ENV

pytestmark = pytest.mark.slow

MODELS = ("two_inputs", "embedder", "conv_net", "int8_net")
WARNINGS = "-Wall -Wextra -Werror -Wno-unused-function -Wno-unused-parameter -Wno-sign-compare"


def _needs(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")


@pytest.fixture(scope="module")
def built(models, tmp_path_factory):
    """{(model, profile): (sdk, example binary)}; host SDKs with CMake, embedded ones with make."""
    _needs("cc")
    _needs("make")
    out = {}
    for name in MODELS:
        host = tmp_path_factory.mktemp(f"{name}_host")
        sdk = generate_sdk(models[name], host / "sdk", embed=False)
        if shutil.which("cmake"):
            run(["cmake", "-S", host / "sdk", "-B", host / "build", "-DCMAKE_BUILD_TYPE=Release",
                 f"-DCMAKE_C_FLAGS={WARNINGS}"])
            run(["cmake", "--build", host / "build", "-j", "2"])
            out[name, "host"] = sdk, host / "build" / f"{sdk.prefix}_example"
        embed = tmp_path_factory.mktemp(f"{name}_embed")
        sdk = generate_sdk(models[name], embed / "sdk", embed=True)
        run(["make", "-j2", f"CFLAGS=-O3 -fno-math-errno {WARNINGS}"], cwd=embed / "sdk")
        out[name, "embed"] = sdk, embed / "sdk" / f"{sdk.prefix}_example"
    return out


def _get(built, name: str, profile: str):
    if (name, profile) not in built:
        pytest.skip("cmake is not installed")
    return built[name, profile]


@pytest.mark.parametrize("profile", ["host", "embed"])
@pytest.mark.parametrize("name", MODELS)
def test_example_matches_python_runtime(built, models, name, profile, tmp_path):
    sdk, example = _get(built, name, profile)
    run([example, *example_args(sdk, models[name], tmp_path)], timeout=RUN_TIMEOUT)
    check_outputs(tmp_path, models[name], f"{name} ({profile})")


@pytest.mark.parametrize("profile", ["host", "embed"])
def test_example_creates_a_missing_output_folder(built, models, profile, tmp_path):
    sdk, example = _get(built, "two_inputs", profile)
    out = tmp_path / "new" / "nested"
    run([example, *example_args(sdk, models["two_inputs"], out)], timeout=RUN_TIMEOUT)
    check_outputs(out, models["two_inputs"], f"two_inputs ({profile}) into a new folder")
    (tmp_path / "file").write_text("not a folder")
    clash = subprocess.run([example, *example_args(sdk, models["two_inputs"], tmp_path / "file")],
                           capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert clash.returncode == 1 and "cannot write" in clash.stderr


def test_embedded_memory_is_what_the_header_says(built, models, tmp_path):
    """The workspace the runtime used is the generated macro (it was measured, not guessed), and one byte
    less memory than *_MEMORY_BYTES is refused with the catalogue's ARENA_TOO_SMALL."""
    sdk, example = _get(built, "conv_net", "embed")
    proc = run([example, *example_args(sdk, models["conv_net"], tmp_path)], timeout=RUN_TIMEOUT)
    assert f"workspace: {sdk.workspace_bytes} of {sdk.workspace_bytes} bytes used" in proc.stderr
    header = (example.parent / f"{sdk.prefix}.h").read_text()
    assert f"#define CONV_NET_SDK_MEMORY_BYTES ((size_t){sdk.memory_bytes}u)" in header
    short = subprocess.run([example, *example_args(sdk, models["conv_net"], tmp_path),
                            "--memory-bytes", str(sdk.memory_bytes - 1)], capture_output=True, text=True,
                           timeout=RUN_TIMEOUT)
    assert short.returncode == 2
    assert "PKT_ARENA_TOO_SMALL" in short.stderr and "CONV_NET_SDK_MEMORY_BYTES" in short.stderr


def test_host_sdk_refuses_another_model(built, models, tmp_path):
    """A .ptm whose inputs differ from the generated header is refused at init (PKT_BAD_IO), not run."""
    sdk, example = _get(built, "two_inputs", "host")
    other = models["conv_net"].path
    proc = subprocess.run([example, other, tmp_path], capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert proc.returncode == 2, proc.stderr
    assert "PKT_BAD_IO" in proc.stderr and "regenerate the SDK" in proc.stderr


def test_host_sdk_reports_missing_file(built, tmp_path):
    sdk, example = _get(built, "two_inputs", "host")
    proc = subprocess.run([example, tmp_path / "missing.ptm", tmp_path], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)
    assert proc.returncode == 2 and "PKT_IO" in proc.stderr and "missing.ptm" in proc.stderr


@pytest.mark.parametrize("name", MODELS)
def test_workspace_exhaustion_fails_cleanly(models, name, tmp_path):
    """workspace_sweep.c against the embedded runtime sources (AddressSanitizer + UBSan): every workspace
    smaller than the generated *_WORKSPACE_BYTES gives PKT_OUT_OF_MEMORY and is handed back whole; that size
    is the first one that loads, creates a session and runs."""
    _needs("cc")
    sdk = generate_sdk(models[name], tmp_path / "sdk", embed=True)
    root = tmp_path / "sdk"
    runtime = sorted(str(p) for p in (root / "runtime").rglob("*.c"))
    harness = pathlib.Path(__file__).with_name("workspace_sweep.c")
    run(["cc", "-std=c11", "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all", *WARNINGS.split(),
         *(f"-I{d}" for public in (True, False) for d in sources.include_dirs(str(root / "runtime"), public)),
         harness, *runtime, "-o", tmp_path / "sweep", "-lm"])
    proc = run([tmp_path / "sweep", models[name].path], timeout=RUN_TIMEOUT, env={**os.environ, **SANITIZER_ENV})
    assert int(proc.stdout.strip()) == sdk.workspace_bytes
