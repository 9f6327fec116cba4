"""The supported-operator table of docs/ONNX.md, generated from the handler registry.

    python -m pockettorch.exporter.onnx_frontend.docs          # rewrite the table in docs/ONNX.md
    python -m pockettorch.exporter.onnx_frontend.docs --check  # exit 1 when the file's table is stale
"""
from __future__ import annotations

import argparse
import pathlib
import sys

from pockettorch.exporter.onnx_frontend.fold import NO_FOLD
from pockettorch.exporter.onnx_frontend.registry import NOTES, load_handlers

BEGIN, END = "<!-- BEGIN GENERATED OPS TABLE -->", "<!-- END GENERATED OPS TABLE -->"
DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "ONNX.md"


def ops_table() -> str:
    handlers = load_handlers()
    rows = ["| ONNX operator | lowered by | supported forms |", "|---|---|---|"]
    for op in sorted(handlers):
        fn = handlers[op]
        rows.append(f"| {op} | `{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}` | {NOTES[op] or 'all'} |")
    rows += ["", f"Any other default-domain operator whose inputs are all constants is folded at import "
                 f"(onnx.reference), except {', '.join(sorted(NO_FOLD))}."]
    return "\n".join(rows)


def render(text: str) -> str:
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{ops_table()}\n{END}{tail}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    text = DOC.read_text()
    new = render(text)
    if args.check:
        if new != text:
            print(f"{DOC} is stale: run python -m pockettorch.exporter.onnx_frontend.docs", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
