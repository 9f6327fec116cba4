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

MAX_DEPTH = 64  # output structures and user metadata nest a few levels; far below Python's recursion limit

_SPECIAL = re.compile(r'[\\"\[\]{}]')  # the only characters that change the depth or the string state


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in JSON `text` (brackets inside strings do not count). One pass over
    the special characters: linear in the text, whatever it holds."""
    depth = deepest = 0
    in_string, skip = False, -1
    for m in _SPECIAL.finditer(text):
        i, c = m.start(), m.group()
        if i == skip:  # the character after a backslash in a string
            continue
        if in_string:
            if c == "\\":
                skip = i + 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


def loads(text: str | bytes) -> Any:
    """json.loads for metadata: ValueError when it is not JSON or nests deeper than MAX_DEPTH."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")  # UnicodeDecodeError is a ValueError
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise ValueError(f"nested {depth} levels deep, more than the {MAX_DEPTH} allowed")
    return json.loads(text)
