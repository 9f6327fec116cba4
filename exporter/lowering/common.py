"""Helpers the lowering files share: ATen call arguments and names, dims, static shapes, ops without an activation."""
from __future__ import annotations

from pockettorch.runtime import error_catalogue as errors
from pockettorch.exporter.ir import concrete_dims
from pockettorch.runtime.op_table import enum_value

NO_ACT = dict(act=enum_value("ACT", "NONE"), act_min=0.0, act_max=0.0)  # params of an op with no fused activation


def call_arg(node, index: int, name: str, default=None):
    """Positional argument `index` of the ATen call, else keyword `name`, else `default`."""
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


def norm_dim(dim: int, rank: int) -> int:
    """A dim in [-rank, rank) as [0, rank); rank 0 tensors accept 0 and -1 like torch."""
    r = max(rank, 1)
    if not -r <= dim < r:
        raise errors.UnsupportedOpError(f"dim {dim} is out of range for rank {rank}")
    return dim + r if dim < 0 else dim


def static_shape(meta) -> tuple[int, ...]:
    """The shape of a FakeTensor as ints (a dynamic dim at its upper bound; ctx.reshape/ctx.out keep the
    expressions of the current node's shape)."""
    return concrete_dims(meta.shape)[0]


def aten_name(target) -> str:
    """An ATen target's op name: 'aten.sum.dim_IntList' -> 'sum'."""
    return str(target).split(".")[1]


def overload(target) -> str:
    """An ATen target's overload: 'aten.sum.dim_IntList' -> 'dim_IntList'."""
    return str(target).split(".")[2]
