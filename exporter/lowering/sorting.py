"""Lowering of sort, argsort (a sort whose values go unused) and topk (the first k of a sort) onto the
stable `sort` kernel."""
from __future__ import annotations

from pockettorch.exporter.lowering import lowers
from pockettorch.exporter.lowering.common import call_arg, norm_dim, overload
from pockettorch.runtime import error_catalogue as errors

SORT_DTYPES = ("float32", "int64", "int32")


def _sort(ctx, node, x, dim: int, descending: bool):
    if x.dtype not in SORT_DTYPES:
        raise errors.UnsupportedOpError(f"{node.name}: sorting {x.dtype}; supported: {', '.join(SORT_DTYPES)}")
    values, indices = ctx.meta(node)
    outs = [ctx.out(values, name=node.name + "_values"), ctx.out(indices, name=node.name + "_indices")]
    ctx.emit("sort", [x], outs, axis=norm_dim(dim, len(x.shape)), descending=int(descending))
    return outs


@lowers("sort", "sort")
def lower_sort(ctx, node):
    """sort.default and sort.stable (whose arguments after self are keywords): the kernel's sort is stable."""
    x = ctx.tensor(node.args[0])
    if overload(node.target) == "stable":
        dim, descending = node.kwargs.get("dim", -1), node.kwargs.get("descending", False)
    else:
        dim, descending = call_arg(node, 1, "dim", -1), call_arg(node, 2, "descending", False)
    return _sort(ctx, node, x, int(dim), bool(descending))


@lowers("sort", "topk")
def lower_topk(ctx, node):
    """topk is the first k of a sort (largest: descending); sorted=False gets them sorted too."""
    x = ctx.tensor(node.args[0])
    return _sort(ctx, node, x, int(call_arg(node, 2, "dim", -1)), bool(call_arg(node, 3, "largest", True)))
