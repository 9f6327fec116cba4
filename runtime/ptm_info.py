"""Read a .ptm's header and section table without the C runtime (for `inspect` sizes)."""
from __future__ import annotations

import struct

SECTION_NAMES = {1: "tensors", 2: "constants", 3: "instructions", 4: "io", 5: "metadata", 6: "strings"}


def read_layout(data: bytes) -> dict:
    """Format version, file size, planned arena and section sizes. Call only on files the runtime accepted."""
    magic, major, minor, _hsize, count, file_size, arena = struct.unpack_from("<4sHHIIQQ", data, 0)
    sections = {}
    for i in range(count):
        kind, _, offset, size = struct.unpack_from("<IIQQ", data, 64 + 24 * i)
        sections[SECTION_NAMES.get(kind, f"kind_{kind}")] = size
    return {"format": f"{major}.{minor}", "file_bytes": file_size, "arena_bytes": arena, "sections": sections}
