"""Lowering rules: one function per group of ATen targets, each emitting PocketTorch ops into the IR.

A rule is registered with `@lowers("aten.add.Tensor", ...)`; every target must also be listed for its
op in `runtime/op_table.py` (a test checks both directions). Rules receive a `LoweringContext` and the
FX node and return the IR tensor(s) standing for the node's value.
"""
from __future__ import annotations

from typing import Callable

RULES: dict[str, Callable] = {}


def lowers(*targets: str):
    def register(fn):
        for target in targets:
            if target in RULES:
                raise ValueError(f"{target} has two lowering rules")
            RULES[target] = fn
        return fn

    return register


def load_rules() -> dict[str, Callable]:
    # Importing the modules registers their rules.
    from pockettorch.exporter.lowering import conv, elementwise, nn, reduce, sequence, shape  # noqa: F401

    return RULES
