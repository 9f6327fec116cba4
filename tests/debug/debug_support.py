"""Shared by the debugger's tests: the model, the lines the faults must be traced to, the checks on a report."""
from __future__ import annotations

import pathlib
import sys

HERE = pathlib.Path(__file__).parent
MODELS = HERE / "debug_models.py"
sys.path.insert(0, str(HERE))

import debug_models  # noqa: E402


def line_of(marker: str) -> int:
    """The line of debug_models.py that carries `# MARKER`."""
    return next(i for i, text in enumerate(MODELS.read_text().splitlines(), 1) if f"# {marker}" in text)


def build():
    return debug_models.build()


def assert_first_divergence(report, op: str, marker: str, code: str, fused_targets: tuple = ()):
    """The first divergent instruction is `op`, traced to the model's line `marker` (its number and code), and no
    instruction before it diverges."""
    first = report.first
    assert first is not None, report.table()
    assert first["op"] == op, report.table()
    assert f":{line_of(marker)} in forward: " in first["source"] and code in first["source"], first["source"]
    assert first["location"]["line"] == line_of(marker) and first["location"]["code"].startswith(code)
    assert not any(r["diverges"] for r in report.rows[:first["index"]])
    assert report.divergences[0] is first
    if fused_targets:
        assert first["fused"] and tuple(c["target"] for c in first["covers"]) == fused_targets
    worst = max(o["max_rel"] for o in first["outputs"] if o["compared"])
    assert worst > 0.05  # the injected fault moves every element by a quarter of its size plus a quarter
    table = report.table()
    first_row = table.splitlines()[3]
    assert f" {first['index']} " in f" {first_row} " and f":{line_of(marker)} forward: " in first_row
