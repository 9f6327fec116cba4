"""Generate the C headers and tables from the op table and the error catalogue, and the CMake manifest.

Run `python -m pockettorch.runtime.codegen` after changing `runtime/op_table.py`, `runtime/manifest.py` or
`runtime/error_catalogue.py`; `tests/runtime/test_codegen.py` fails when the checked-in files drift.
"""
from __future__ import annotations

import json
import pathlib
import sys

import jinja2

from pockettorch.runtime import manifest, op_table
from pockettorch.runtime.error_catalogue import CATALOGUE

RUNTIME_DIR = pathlib.Path(__file__).resolve().parent
TEMPLATES = RUNTIME_DIR / "templates"

OUTPUTS = {
    "include/pockettorch/status.h": "status.h.j2",
    "core/status.c": "status.c.j2",
    "core/ops_generated.h": "ops_generated.h.j2",
    "backends/cpu/kernel_table.c": "kernel_table.c.j2",
    "sources.cmake": "sources.cmake.j2",
}


def render_all() -> dict[str, str]:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["cstr"] = json.dumps  # JSON string escapes are valid C string escapes for ASCII text
    context = {
        "errors": CATALOGUE,
        "ops": op_table.OPS,
        "op_count": max(op.code for op in op_table.OPS) + 1,
        "enums": op_table.ENUMS,
        "kernels": manifest.KERNELS,
        "packing": sorted({op.kernel for op in op_table.OPS if op.packs}),
        "m": manifest,
    }
    return {path: env.get_template(tpl).render(**context) for path, tpl in OUTPUTS.items()}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for rel, text in render_all().items():
        path = RUNTIME_DIR / rel
        if path.exists() and path.read_text() == text:
            continue
        stale.append(rel)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if check and stale:
        print("out of date: " + ", ".join(stale) + " (run python -m pockettorch.runtime.codegen)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
