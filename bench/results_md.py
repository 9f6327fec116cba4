"""bench/RESULTS.md is made of sections, each written by one tool and replaced only by that tool.

A section sits between `<!-- section: KEY -->` and `<!-- end: KEY -->`. `compare.py` writes one section per ISA
the PocketTorch sessions ran with (`compare-avx512`, `compare-avx2`, ...), so a run on an AVX2-only machine keeps
the AVX-512 machine's tables beside it; other tools (sizes, the arm64 proxy) own their sections the same way.
Text outside the sections (the file's title) is kept as it is.
"""
from __future__ import annotations

import pathlib
import re

TITLE = ("# Benchmark results\n\nEach section below is the last run of one tool on one kind of machine; see "
         "bench/README.md for the methods. Compare ratios within a section, not absolute times across sections.\n")


def _markers(key: str) -> tuple[str, str]:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", key):
        raise ValueError(f"section key {key!r}: use lower-case letters, digits, '-' and '_'")
    return f"<!-- section: {key} -->", f"<!-- end: {key} -->"


def sections(text: str) -> dict[str, str]:
    """KEY -> body of every section in `text`, in file order."""
    found = re.finditer(r"<!-- section: ([a-z0-9_-]+) -->\n(.*?)<!-- end: \1 -->", text, re.S)
    return {m.group(1): m.group(2) for m in found}


def write_section(path: pathlib.Path, key: str, body: str) -> None:
    """Replace section KEY of the file at `path` with `body` (appended when new; the file is made when missing)."""
    begin, end = _markers(key)
    text = path.read_text() if path.exists() else TITLE
    block = f"{begin}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip() + "\n\n" + block
    path.write_text(text + ("\n" if not text.endswith("\n") else ""))
