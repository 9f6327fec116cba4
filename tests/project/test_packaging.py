"""The package declares every folder it ships, so `pip install` builds it without setuptools warnings."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_build_py_declares_every_shipped_folder(tmp_path):
    """setuptools warns 'Package ... is absent from the `packages` configuration' for each data folder
    (C sources, templates, schemas) that setup.py leaves out; copying the Python side shows every warning
    without compiling the extension."""
    done = subprocess.run([sys.executable, "setup.py", "build_py", "-d", str(tmp_path / "lib")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in (done.stdout + done.stderr).splitlines() if "is absent from the" in line]
    assert not warnings, "\n".join(warnings)
    lib = tmp_path / "lib" / "pockettorch"
    for shipped in ("runtime/include/pockettorch/pockettorch.h", "runtime/kernels/conv2d.c", "runtime/FORMAT.md",
                    "runtime/core/loader.c", "runtime/compute/gemm/gemm.h", "runtime/sources.cmake",
                    "runtime/templates/sources.cmake.j2", "runtime/tools/size_app.c",
                    "device/schemas/bench.schema.json", "sdk_templates/templates/c/model.c.j2"):
        assert (lib / shipped).is_file(), f"{shipped} is not in the built package"
