"""Program metadata as JSON, with a nesting limit.

A model file is untrusted: metadata nested thousands of levels deep would make json.loads (and every walk of
the result, such as rebuilding the output structure) raise RecursionError, which is no catalogue error. The
depth is measured first, without recursion; deeper metadata is a ValueError, as invalid JSON is, which the
loader turns into BadMetadataError and the exporter into BadModelArgsError.
"""
from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64  # output structures and user metadata nest a few levels; this leaves room and stays far from Python's limit

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in JSON `text` (brackets inside strings do not count)."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub('""', text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def loads(text: str | bytes) -> Any:
    """json.loads for metadata: ValueError when it is not JSON or nests deeper than MAX_DEPTH."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")  # UnicodeDecodeError is a ValueError
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise ValueError(f"nested {depth} levels deep, more than the {MAX_DEPTH} allowed")
    return json.loads(text)
