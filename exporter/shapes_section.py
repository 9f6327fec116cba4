"""The SHAPES section (runtime/FORMAT.md): a program's symbols and its tensors' dynamic dims as postfix code."""
from __future__ import annotations

import struct

from pockettorch.runtime import error_catalogue as errors

# Postfix op codes (runtime/core/dynamic_shapes.c).
CONST, SYM, ADD, SUB, MUL, FLOORDIV, MOD, MAX, MIN = range(1, 10)
_NARY = {"Add": ADD, "Mul": MUL, "Max": MAX, "Min": MIN}
_BINARY = {"FloorDiv": FLOORDIV, "Mod": MOD, "PythonMod": MOD}


def postfix(expr, symbols: dict) -> list[int]:
    """torch.export's sympy expression as postfix words; `symbols` maps each symbol to its index."""
    if expr.is_Integer:
        return [CONST, int(expr)]
    if expr.is_Symbol:
        if expr not in symbols:
            raise errors.DynamicShapeError(f"dim expression {expr} uses a symbol no input dim gives")
        return [SYM, symbols[expr]]
    kind = type(expr).__name__
    if kind in _NARY:
        args = sorted(expr.args, key=str)  # a stable order, so the same program gives the same bytes
        words = postfix(args[0], symbols)
        for a in args[1:]:
            words += postfix(a, symbols) + [_NARY[kind]]
        return words
    if kind in _BINARY:
        return postfix(expr.args[0], symbols) + postfix(expr.args[1], symbols) + [_BINARY[kind]]
    if kind == "Pow" and expr.args[1].is_Integer and 1 <= int(expr.args[1]) <= 4:
        base = postfix(expr.args[0], symbols)
        return base + (base + [MUL]) * (int(expr.args[1]) - 1)
    raise errors.DynamicShapeError(f"dim expression {expr} ({kind}) is not supported in a dynamic program; "
                                   f"supported: + - * // % max min")


def evaluate(expr, values: dict) -> int:
    return int(expr.subs(values))


def encode(symbols: list, tensors: list, strings) -> bytes:
    """symbols: [(symbol, name, min, max)]; tensors: the program's tensors in table order (their `sym`)."""
    index = {s[0]: k for k, s in enumerate(symbols)}
    at_max = {s[0]: s[3] for s in symbols}
    body_symbols = b"".join(struct.pack("<IIqqQ", strings.ref(name), 0, lo, hi, 0) for _, name, lo, hi in symbols)
    dims, words = bytearray(), []
    for t_index, t in enumerate(tensors):
        if t.is_constant:
            continue
        for d, expr in sorted(t.sym.items()):
            if evaluate(expr, at_max) != t.shape[d]:
                continue  # a pass changed this tensor's shape after lowering: its rule computes the dim
            code = postfix(expr, index)
            dims += struct.pack("<IBBBBII", t_index, d, 0, 0, 0, len(words), len(code))
            words += code
    header = struct.pack("<IIII", len(symbols), len(dims) // 16, len(words), 0)
    return header + body_symbols + bytes(dims) + struct.pack(f"<{len(words)}q", *words)
