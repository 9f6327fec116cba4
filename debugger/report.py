"""The debugger's report: the table of the first divergences and the JSON form (schema pockettorch.debug/1)."""
from __future__ import annotations

import math
import re

SCHEMA = "pockettorch.debug/1"
CELL = 80  # widest table cell; the JSON has everything
_LINE = re.compile(r'([^/\\\s]+\.py):(\d+) in (\S+): (.*?)(?: \+ |$)')


def location(source: str) -> dict | None:
    """{"file", "line", "function", "code"} of the user's line in the exporter's source string
    ('module (Kind) at /path/file.py:12 in forward: x = self.conv(x)'; a fused pair's is two of those joined by
    ' + ': the first), or None when it names no line."""
    m = _LINE.search(source)
    return {"file": m.group(1), "line": int(m.group(2)), "function": m.group(3), "code": m.group(4).strip()} if m else None


def short_source(source: str) -> str:
    """'file.py:12 forward: x = self.conv(x)' for the table."""
    at = location(source)
    return f"{at['file']}:{at['line']} {at['function']}: {at['code']}" if at else source


def short_target(target: str) -> str:
    return target.removeprefix("aten.").removesuffix(".default")


def _num(v: float) -> str:
    return "inf" if v == math.inf else "-inf" if v == -math.inf else f"{v:.3g}"


def _worst(row: dict) -> dict:
    compared = [o for o in row["outputs"] if o["compared"]]
    return max(compared, key=lambda o: o["max_rel"]) if compared else {}


class DebugReport:
    """What `pockettorch.debug` found: one row per instruction (instruction, op, the eager ops it covers, source,
    per-output errors); `divergences` are the rows above the tolerance, in program order, the first being the
    earliest instruction whose result differs from eager."""

    def __init__(self, model: str, where: str, isa: str, tol: float, rows: list[dict]):
        self.model, self.where, self.isa, self.tol, self.rows = model, where, isa, tol, rows

    @property
    def divergences(self) -> list[dict]:
        return [r for r in self.rows if r["diverges"]]

    @property
    def first(self) -> dict | None:
        found = self.divergences
        return found[0] if found else None

    def summary(self) -> str:
        compared = sum(r["compared"] for r in self.rows)
        fused = sum(r["fused"] for r in self.rows)
        return (f"{self.model} on {self.where} ({self.isa}): {len(self.rows)} instructions ({fused} fused), "
                f"{compared} compared with eager, {len(self.divergences)} above the tolerance {self.tol:g}")

    def table(self, limit: int = 10) -> str:
        lines = [self.summary()]
        rows = self.divergences[:limit]
        if not rows:
            return "\n".join(lines + ["no divergence from eager above the tolerance"])
        lines.append(f"first divergences, in program order ({len(rows)} of {len(self.divergences)}):")
        header = ("instr", "op", "eager op(s)", "source", "max abs", "max rel", "SQNR dB")
        body = []
        for r in rows:
            w = _worst(r)
            ops = " + ".join(short_target(c["target"]) for c in r["covers"]) or "-"
            body.append((str(r["index"]), r["op"] + (" (fused)" if r["fused"] else ""), ops,
                         short_source(r["source"]), _num(w["max_abs"]), _num(w["max_rel"]), _num(w["sqnr_db"])))
        widths = [min(max(len(x[c]) for x in [header, *body]), CELL) for c in range(len(header))]
        for cells in [header, *body]:
            lines.append("  " + "  ".join(cell[:CELL].ljust(width) for cell, width in zip(cells, widths)).rstrip())
        before = rows[0]["unchecked_before"]
        if before:  # the fault may lie in one of them: their results have no eager value to compare with
            names = ", ".join(f"{i} ({self.rows[i]['op']})" for i in before)
            lines.append(f"note: instruction(s) {names} just before the first divergence have no eager counterpart "
                         f"(lowering temporaries) and were not compared")
        return "\n".join(lines)

    def as_dict(self, limit: int | None = None) -> dict:
        return _finite({"schema": SCHEMA, "model": self.model, "where": self.where, "isa": self.isa,
                        "tolerance": self.tol, "instructions": len(self.rows),
                        "compared": sum(r["compared"] for r in self.rows), "diverging": len(self.divergences),
                        "first_divergence": self.first, "divergences": self.divergences[:limit],
                        "rows": self.rows})

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return f"<pockettorch.DebugReport {self.summary()}>"


def _finite(value):
    """JSON has no infinities: an infinite SQNR (identical values) or error (NaN/inf mismatch) is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
