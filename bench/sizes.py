"""Stripped size of the PocketTorch runtime: the core, each compute group and kernel, each zoo model's selective build,
for arm64-v8a (zig cc) and x86_64 (the host C compiler) at -Os and -O3.

    python bench/sizes.py                      # measure, print the markdown, write the size section of RESULTS.md
    python bench/sizes.py --results ''         # print only

The measurement is `pockettorch size`'s (pockettorch/runtime/size.py, its METHOD); it is the `sizes` section of
bench/RESULTS.md (bench/results_md.py), which the other tools leave as it is.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import pathlib
import sys
import tempfile

from pockettorch import cli
from pockettorch.exporter import zoo
from pockettorch.runtime import load, manifest, op_table, size

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import results_md  # noqa: E402
CONFIGS = (("arm64-v8a", "Os"), ("arm64-v8a", "O3"), ("x86_64", "Os"), ("x86_64", "O3"))
GOAL_BYTES = 50 * 1024  # issue 16: core at or under 50 KB stripped on arm64; ExecuTorch's CI caps its core at 52,168


def model_kernels(workdir: pathlib.Path, names: list[str]) -> dict[str, list[str]]:
    """Export each zoo model and read the kernels its program uses."""
    kernel_of = {op.name: op.kernel for op in op_table.OPS}
    out = {}
    for name in names:
        path = workdir / f"{name}.ptm"
        with contextlib.redirect_stdout(sys.stderr):  # the export's summary is progress, not the report
            status = cli.main(["export", f"zoo:{name}", "--out", str(path)])
        if status != 0:
            raise SystemExit(f"export of {name} failed")
        out[name] = sorted({kernel_of[op] for op, _ in load(str(path)).instructions()})
    return out


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def section(kernels: dict[str, list[str]], command: str) -> str:
    measurers = [size.Measurer(abi, opt) for abi, opt in CONFIGS]
    columns = [f"{m.abi} -{m.opt}" for m in measurers]
    cores = [m.core() for m in measurers]
    full = [m.link(manifest.KERNELS) for m in measurers]
    builds = {name: [m.link(ks) for m in measurers] for name, ks in kernels.items()}

    def row(label: str, values) -> list[str]:
        return [label, *(f"{v:,}" for v in values)]

    arm64_os = cores[CONFIGS.index(("arm64-v8a", "Os"))].program_bytes
    lines = ["## Runtime size, stripped bytes", "",
             f"Written by `{command}` on {datetime.date.today().isoformat()}; the same measurement as "
             "`pockettorch size model.ptm --abi ABI --opt Os|O3 [--json]`.", "",
             "- compilers: " + "; ".join(sorted({f"{m.abi}: `{m.compiler}`" for m in measurers})),
             f"- method: {size.METHOD}",
             f"- goal: core <= 50 KiB ({GOAL_BYTES:,} bytes) on arm64-v8a (ExecuTorch's CI caps its core at 52,168): "
             f"{arm64_os:,} at -Os; tests/runtime/test_size.py fails when it grows past its budget.", "",
             "### Builds: stripped executable, bytes", ""]
    rows = [row(f"core (with `{size.CORE_KERNEL}`)", [c.program_bytes for c in cores])]
    rows += [row(f"{name} ({', '.join(kernels[name])})",
                 [b.program_bytes for b in bs]) for name, bs in builds.items()]
    rows.append(row(f"every kernel (all {len(manifest.KERNELS)})", [b.program_bytes for b in full]))
    lines += _table(["build", *columns], rows)
    lines += ["", "### Parts of the every-kernel build: code and data kept after --gc-sections, bytes", ""]
    names = [name for name, _ in size.ordered_parts(full[0])]
    lines += _table(["part", *columns], [row(n, [dict(size.ordered_parts(b))[n] for b in full]) for n in names])
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=list(zoo.ZOO), metavar="MODEL")
    ap.add_argument("--results", default=str(HERE / "RESULTS.md"), help="markdown report ('' for none)")
    args = ap.parse_args(argv)
    command = "python bench/sizes.py" + (f" --models {' '.join(args.models)}" if args.models != list(zoo.ZOO) else "")
    with tempfile.TemporaryDirectory() as tmp:
        text = section(model_kernels(pathlib.Path(tmp), args.models), command)
    print(text)
    if args.results:
        results_md.write_section(pathlib.Path(args.results), "sizes", text)
        print(f"wrote section sizes of {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
