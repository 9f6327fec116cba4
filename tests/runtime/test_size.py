"""`pockettorch size`: the runtime's stripped size per ABI, and a budget the arm64 core must stay within."""
from __future__ import annotations

import json
import pathlib
import subprocess

import pytest

from pockettorch import cli, errors
from pockettorch.runtime import cross, load, op_table, size
from support_tools import BUILD_DIR

# The arm64-v8a -Os core (the minimal app with the core and the reshape kernel, stripped) measured 25,448 bytes,
# then 29,408 once the session's ISA config and the vector math every kernel's activations use joined the core
# (issue 16; ExecuTorch's CI caps its core at 52,168), then 39,048 with bounded dynamic shapes (issue 17: the SHAPES
# section's validation, the op table's shape rules and the re-check of each instruction at a new shape), then
# 48,784 with delegation (issue 19: the DELEGATES section's checks, the backend registry, delegate start-up and
# fallback in the session) and the int8 CPU features (issue 18: dotprod/i8mm/VNNI detection in the ISA config).
# Raise this only with a reason in the commit.
CORE_BUDGET_ARM64_OS = 51_200

needs_zig = pytest.mark.skipif(not cross.have_ziglang(), reason="needs the ziglang package")


@pytest.fixture(scope="module")
def mlp(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("size") / "mlp.ptm"
    assert cli.main(["export", "zoo:mlp", "--out", str(path)]) == 0
    return path


def _size(capsys, *args) -> str:
    assert cli.main(["size", *map(str, args)]) == 0
    return capsys.readouterr().out


@needs_zig
def test_arm64_core_stays_within_budget():
    core = size.Measurer("arm64-v8a", "Os", BUILD_DIR).core()
    assert core.kernels == ("reshape",)
    assert core.program_bytes <= CORE_BUDGET_ARM64_OS, (
        f"the arm64-v8a -Os core grew to {core.program_bytes:,} bytes (budget {CORE_BUDGET_ARM64_OS:,}); "
        f"find what grew with `nm --size-sort` on its objects")
    assert 0 < core.parts["kernel reshape"] < core.parts["core files"] < core.program_bytes


@pytest.mark.parametrize("abi", [pytest.param(a, marks=[] if a == "x86_64" else needs_zig) for a in size.ABIS])
def test_size_json_on_a_zoo_model(mlp, capsys, abi):
    report = json.loads(_size(capsys, mlp, "--abi", abi, "--json"))
    kernel_of = {op.name: op.kernel for op in op_table.OPS}
    kernels = sorted({kernel_of[op] for op, _ in load(str(mlp)).instructions()})
    assert report["kernels"] == kernels and "linear" in kernels
    parts = {p["part"]: p["bytes"] for p in report["parts"]}
    assert list(parts) == ["core files", "group gemm", *(f"kernel {k}" for k in kernels), "other"]
    assert sum(parts.values()) == report["selective_build_bytes"]
    assert all(b > 0 for b in parts.values())
    assert report["core_bytes"] < report["selective_build_bytes"]
    assert report["abi"] == abi and report["opt"] == "-Os" and "--gc-sections" in report["method"]


def test_measured_build_is_a_working_runtime(mlp, tmp_path):
    """The program whose size is reported runs the model (x86_64 executes here); without the model's kernels it
    refuses the model cleanly."""
    m = size.Measurer("x86_64", "O3", BUILD_DIR)
    kernels = size.model_report(mlp, "x86_64", "O3", BUILD_DIR)["kernels"]
    full, core_only = tmp_path / "full", tmp_path / "core_only"
    assert m.link(kernels, keep=full).parts.keys() == {"core files", "group gemm", *(f"kernel {k}" for k in kernels)}
    m.link(["reshape"], keep=core_only)
    assert subprocess.run([str(full), str(mlp)]).returncode == 0
    assert subprocess.run([str(core_only), str(mlp)]).returncode == 30  # PKT_KERNEL_NOT_BUILT


def test_size_text_names_every_part(mlp, capsys):
    out = _size(capsys, mlp, "--abi", "x86_64", "--opt", "O3")
    assert out.startswith("mlp (") and "x86_64, -O3" in out
    for row in ("core (load, session, platform, kernel table, reshape)", "selective build", "core files",
                "group gemm", "kernel linear", "other", "Measured:"):
        assert row in out
    assert "group conv" not in out


def test_linker_reports_are_parsed_for_both_linkers():
    lld = "removing unused section /tmp/x/kernels__pad.o:(.text.pkt_pad_reflect)"
    gnu = "/usr/bin/ld: removing unused section '.rodata.table' in file '/tmp/x/core__loader.o'"
    assert size.removed_sections(f"{lld}\nwarning: other\n{gnu}\n") == [
        ("/tmp/x/kernels__pad.o", ".text.pkt_pad_reflect"), ("/tmp/x/core__loader.o", ".rodata.table")]


def test_unknown_abi_is_refused(mlp):
    assert cli.main(["size", str(mlp), "--abi", "mips"]) == 2
    with pytest.raises(errors.InvalidArgumentError, match="unknown ABI"):
        size.Measurer("mips")
