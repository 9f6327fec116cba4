"""docs/ONNX.md's operator table is the handler registry's (a handler added or changed without regenerating the
table fails here)."""
from __future__ import annotations

from pockettorch.exporter.onnx_frontend import docs, supported_ops


def test_ops_table_is_current():
    text = docs.DOC.read_text()
    assert docs.render(text) == text, "run: python -m pockettorch.exporter.onnx_frontend.docs"


def test_every_supported_op_is_in_the_table():
    table = docs.DOC.read_text().partition(docs.BEGIN)[2].partition(docs.END)[0]
    rows = {line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")}
    assert set(supported_ops()) <= rows
