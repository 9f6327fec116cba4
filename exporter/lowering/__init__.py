"""Lowering rules: one function per group of ATen targets, each emitting PocketTorch ops into the IR.

The op table (`runtime/op_table.py`) is the one place an ATen target is written: under the PocketTorch op it
lowers to. A rule takes its targets from there, by op and ATen name:

    @lowers("reduce", "sum")              # the `reduce` entry's aten.sum.* targets (sum.dim_IntList, sum.default)
    @lowers("binary", "div.Tensor_mode")  # one overload; it goes to this rule, not to one naming plain "div"
    @lowers("where")                      # every target of the `where` entry

A name the entry does not list fails at import, and so does a target two rules claim the same way (both by ATen
name or both by overload): each op-table target has one rule (tests/exporter/test_lowering_rules.py checks that
none is left out).
Rules receive a `LoweringContext` and the FX node and return the IR tensor(s) standing for the node's value.
"""
from __future__ import annotations

from typing import Callable

from pockettorch.exporter.lowering.common import aten_name
from pockettorch.runtime import op_table

RULES: dict[str, Callable] = {}  # ATen target -> its rule
_BY_OVERLOAD: set[str] = set()  # targets a rule named with their overload: a plain ATen name does not take them


def select(op: str, names: tuple[str, ...]) -> dict[str, bool]:
    """The targets of op-table entry `op` that `names` pick (all for none) -> whether picked by overload."""
    if op not in op_table.BY_NAME:
        raise ValueError(f"{op!r} is not an op of runtime/op_table.py")
    listed = op_table.BY_NAME[op].aten
    if not names:
        return dict.fromkeys(listed, False)
    chosen: dict[str, bool] = {}
    for name in names:
        by_overload = "." in name
        hits = [t for t in listed if (t == f"aten.{name}" if by_overload else aten_name(t) == name)]
        if not hits:
            raise ValueError(f"op {op!r} lists no ATen target aten.{name}{'' if by_overload else '.*'} "
                             f"in runtime/op_table.py")
        for t in hits:
            chosen[t] = chosen.get(t, False) or by_overload
    return chosen


def lowers(op: str, *names: str):
    """Register the decorated rule for the targets of op-table entry `op` that `names` pick (see above)."""
    chosen = select(op, names)

    def register(fn):
        for target, by_overload in chosen.items():
            if target in RULES and by_overload == (target in _BY_OVERLOAD):
                raise ValueError(f"{target} has two lowering rules: {RULES[target].__name__} and {fn.__name__}")
        for target, by_overload in chosen.items():
            if by_overload:
                _BY_OVERLOAD.add(target)
            if by_overload or target not in RULES:
                RULES[target] = fn
        return fn

    return register


def load_rules() -> dict[str, Callable]:
    # Importing the modules registers their rules.
    from pockettorch.exporter.lowering import (  # noqa: F401
        conv, creation, elementwise, indexing, nn, reduce, sequence, shape, sorting)
    from pockettorch.exporter.lowering import quant  # noqa: F401

    return RULES
