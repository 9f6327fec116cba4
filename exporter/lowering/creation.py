"""Lowering of tensors made from sizes alone: a torch.arange whose end is a dynamic size (positions of a sequence
of the call's length). A static arange is folded into a constant before any rule runs (exporter/lower.py)."""
from __future__ import annotations

import torch

from pockettorch.exporter.lowering import lowers
from pockettorch.exporter.lowering.common import aten_name, overload
from pockettorch.runtime import error_catalogue as errors

ARANGE_DTYPES = ("float32", "int64", "int32", "uint8", "int8")


def _static_number(node, value, what: str):
    """A start or step given as a number (a SymInt one would make every element a function of the symbols)."""
    if isinstance(value, torch.fx.Node) and isinstance(value.meta.get("val"), (torch.SymInt, torch.SymFloat)):
        value = value.meta["val"]  # a size computed on symbols (aten.sym_size.int and its arithmetic)
    if isinstance(value, (torch.SymInt, torch.SymFloat)):
        expr = value.node.expr
        if not expr.is_number:
            raise errors.UnsupportedOpError(
                f"{node.name}: torch.arange with a dynamic {what} ({expr}) is not supported; only its end may be "
                f"dynamic", hint="Start the range at a constant and add the offset to the result instead.")
        return float(expr)
    if isinstance(value, torch.fx.Node):
        raise errors.UnsupportedOpError(f"{node.name}: torch.arange {what} must be a number, got tensor {value.name}")
    return float(value)


@lowers("arange")
def lower_arange(ctx, node):
    """arange(end), arange(start, end) and arange(start, end, step); the length is the node's (dynamic) dim."""
    args = list(node.args)
    if overload(node.target) == "default":
        start, step = 0, 1
    else:
        start = args[0]
        step = args[2] if len(args) > 2 else node.kwargs.get("step", 1)
    out = ctx.out()
    if out.dtype not in ARANGE_DTYPES:
        raise errors.UnsupportedOpError(f"{node.name}: {aten_name(node.target)} of dtype {out.dtype} is not supported "
                                        f"(supported: {', '.join(ARANGE_DTYPES)})")
    ctx.emit("arange", [], [out], start=_static_number(node, start, "start"), step=_static_number(node, step, "step"))
    return out
