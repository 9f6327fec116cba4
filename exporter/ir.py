"""The exporter's graph IR: tensors with static shapes, and nodes that are PocketTorch ops.

Lowering builds it from the torch.export graph, passes rewrite it, the memory planner places its
arena tensors, and the serializer writes it as a .ptm.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pockettorch.runtime import op_table

# dtype names are torch's; the codes are FORMAT.md's.
DTYPE_CODES = {"float32": 1, "int64": 2, "int32": 3, "bool": 4, "uint8": 5, "int8": 6, "float16": 7}
NUMPY_DTYPES = {"float32": np.float32, "int64": np.int64, "int32": np.int32, "bool": np.bool_,
                "uint8": np.uint8, "int8": np.int8, "float16": np.float16}


def dtype_size(dtype: str) -> int:
    return np.dtype(NUMPY_DTYPES[dtype]).itemsize


def concrete_dims(shape) -> tuple[tuple[int, ...], dict[int, Any]]:
    """Dims as ints and, for torch.export's symbolic ones (SymInt), their sympy expressions by dim index. The int
    of a symbolic dim is its hint: the example's size, which export() makes the upper bound (the plan's size);
    int() on a SymInt would instead specialise the program to it."""
    dims, sym = [], {}
    for i, d in enumerate(shape):
        node = getattr(d, "node", None)
        if node is not None and not isinstance(d, int) and not node.expr.is_number:
            dims.append(int(node.hint))
            sym[i] = node.expr
        else:
            dims.append(int(node.expr) if node is not None and not isinstance(d, int) else int(d))
    return tuple(dims), sym


@dataclass(eq=False)
class Tensor:
    name: str
    dtype: str
    shape: tuple[int, ...]
    data: np.ndarray | None = None  # set for constants
    producer: "Node | None" = None
    origin: str | None = None  # the torch.export node whose eager value this tensor holds (the debugger compares)
    sym: dict[int, Any] = field(default_factory=dict)  # dynamic dims: index -> sympy expression over the symbols

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.numel * dtype_size(self.dtype)

    def __repr__(self) -> str:
        kind = "const " if self.is_constant else ""
        return f"<{kind}{self.name}: {self.dtype}{list(self.shape)}>"


@dataclass(eq=False)
class Node:
    op: str
    inputs: list[Tensor]
    outputs: list[Tensor]
    params: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    covers: list[str] = field(default_factory=list)  # the torch.export nodes it computes, fused ones included

    def absorb_covers(self, other: "Node") -> None:
        """This node now also computes what `other` did (a fusion)."""
        self.covers.extend(c for c in other.covers if c not in self.covers)

    @property
    def spec(self) -> op_table.Op:
        return op_table.BY_NAME[self.op]

    def __repr__(self) -> str:
        return f"{self.op}({', '.join(t.name for t in self.inputs)}) -> {', '.join(t.name for t in self.outputs)} {self.params}"


class Graph:
    def __init__(self, name: str):
        self.name = name
        self.nodes: list[Node] = []
        self.inputs: list[Tensor] = []
        self.outputs: list[Tensor] = []
        self.output_structure: dict = {"kind": "tensor", "index": 0}
        self._names: set[str] = set()

    def unique_name(self, base: str) -> str:
        base = base or "t"
        name, i = base, 1
        while name in self._names:
            name = f"{base}_{i}"
            i += 1
        self._names.add(name)
        return name

    def tensor(self, name: str, dtype: str, shape, sym: dict | None = None) -> Tensor:
        """A new tensor; `shape` may hold SymInts (their expressions go to `sym`) or `sym` be given."""
        if dtype not in DTYPE_CODES:
            raise ValueError(f"dtype {dtype} is not supported")
        dims, found = concrete_dims(shape)
        return Tensor(self.unique_name(name), dtype, dims, sym={**found, **(sym or {})})

    def constant(self, array, name: str = "const", dtype: str | None = None) -> Tensor:
        array = np.asarray(array)
        if dtype is None:
            dtype = "bool" if array.dtype == np.bool_ else array.dtype.name
            if dtype == "float64":
                dtype = "float32"
        # astype(order="C") keeps 0-d arrays 0-d (np.ascontiguousarray would make them shape (1,)).
        array = array.astype(NUMPY_DTYPES[dtype], order="C", copy=False)
        t = Tensor(self.unique_name(name), dtype, tuple(array.shape), data=array)
        return t

    def add(self, op: str, inputs: list[Tensor], outputs: list[Tensor], source: str = "", covers=(), **params) -> Node:
        spec = op_table.BY_NAME[op]  # KeyError names an op missing from the table
        lo, hi = spec.inputs
        if not lo <= len(inputs) <= hi or len(outputs) != spec.outputs:
            raise ValueError(f"{op}: {len(inputs)} inputs / {len(outputs)} outputs do not match the op table")
        node = Node(op, list(inputs), list(outputs), params, source, list(covers))
        for t in outputs:
            t.producer = node
        self.nodes.append(node)
        return node

    def consumers(self) -> dict[int, list[Node]]:
        """id(tensor) -> nodes that read it."""
        users: dict[int, list[Node]] = {}
        for node in self.nodes:
            for t in node.inputs:
                users.setdefault(id(t), []).append(node)
        return users

    def all_tensors(self) -> list[Tensor]:
        seen: dict[int, Tensor] = {}
        for t in self.inputs:
            seen.setdefault(id(t), t)
        for node in self.nodes:
            for t in node.inputs + node.outputs:
                seen.setdefault(id(t), t)
        for t in self.outputs:
            seen.setdefault(id(t), t)
        return list(seen.values())

    def replace_uses(self, old: Tensor, new: Tensor) -> None:
        for node in self.nodes:
            node.inputs = [new if t is old else t for t in node.inputs]
        self.outputs = [new if t is old else t for t in self.outputs]

    def op_histogram(self) -> dict[str, int]:
        hist: dict[str, int] = {}
        for node in self.nodes:
            hist[node.op] = hist.get(node.op, 0) + 1
        return dict(sorted(hist.items(), key=lambda kv: (-kv[1], kv[0])))
