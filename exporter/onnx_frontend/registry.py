"""ONNX op type -> the handler that lowers it onto PocketTorch ops (docs/ONNX.md's table is generated from here)."""
from __future__ import annotations

from typing import Callable

HANDLERS: dict[str, Callable] = {}
NOTES: dict[str, str] = {}  # op type -> what the handler supports (for the docs table)


def handles(*op_types: str, note: str = "", notes: dict[str, str] | None = None):
    """Register the decorated handler for ONNX op types of the default domain: fn(ctx, node) -> output tensor(s).
    `note` says what forms every one of them supports, `notes` what one of them does."""
    def register(fn):
        for op_type in op_types:
            if op_type in HANDLERS:
                raise ValueError(f"ONNX op {op_type} has two handlers: {HANDLERS[op_type].__name__} and {fn.__name__}")
            HANDLERS[op_type] = fn
            NOTES[op_type] = (notes or {}).get(op_type, note)
        return fn
    return register


def load_handlers() -> dict[str, Callable]:
    from pockettorch.exporter.onnx_frontend import (  # noqa: F401  (registration by import)
        ops_elementwise, ops_nn, ops_pool, ops_shape, ops_index, ops_reduce, ops_resize, ops_rnn, ops_quant, ops_misc)
    return HANDLERS
