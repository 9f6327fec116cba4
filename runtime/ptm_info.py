"""Read a .ptm's header, section table and REFERENCE section without the C runtime (layout in FORMAT.md).

`inspect` shows sizes from here, `verify` and the iOS SDK's test read the stored reference tensors, and the
`sdk` commands drop the reference from the program they embed. Call these only on files the C loader accepted
(it checks where every section lies); the REFERENCE section's contents are checked here, as untrusted input.
"""
from __future__ import annotations

import struct
from typing import NamedTuple

import numpy as np

from pockettorch.runtime import error_catalogue as errors
from pockettorch.runtime.module import DTYPES

HEADER_SIZE = 64
SECTION_ENTRY = 24
ALIGN = 64
SECTION_NAMES = {1: "tensors", 2: "constants", 3: "instructions", 4: "io", 5: "metadata", 6: "strings",
                 7: "reference"}
IO_KIND = 4
REFERENCE_KIND = 7
REFERENCE_ENTRY = struct.Struct("<BBHIQQ8q")  # dtype, rank, reserved, reserved, offset, nbytes, dims[8]
MAX_RANK = 8
MAX_DIM = 1 << 31
LITTLE_ENDIAN = {code: dtype.newbyteorder("<") for code, dtype in DTYPES.items()}  # the file's byte order


class Reference(NamedTuple):
    """The example inputs stored at export and the eager outputs they gave."""
    inputs: list[np.ndarray]
    outputs: list[np.ndarray]


def _sections(data: bytes) -> list[tuple[int, int, int]]:
    """(kind, offset, size) per section table entry."""
    count = struct.unpack_from("<I", data, 12)[0]
    return [struct.unpack_from("<I4xQQ", data, HEADER_SIZE + SECTION_ENTRY * i) for i in range(count)]


def read_layout(data: bytes) -> dict:
    """Format version, file size, planned arena and section sizes."""
    _magic, major, minor, _hsize, _count, file_size, arena = struct.unpack_from("<4sHHIIQQ", data, 0)
    sections = {SECTION_NAMES.get(kind, f"kind_{kind}"): size for kind, _offset, size in _sections(data)}
    return {"format": f"{major}.{minor}", "file_bytes": file_size, "arena_bytes": arena, "sections": sections}


def read_reference(data: bytes) -> Reference | None:
    """The REFERENCE section's tensors (copies), or None when the file has none; a malformed section raises
    the catalogue's error (BAD_SECTION, BAD_OFFSET, BAD_DTYPE, BAD_SHAPE)."""
    sections = {kind: (offset, size) for kind, offset, size in _sections(data)}
    if REFERENCE_KIND not in sections:
        return None
    offset, size = sections[REFERENCE_KIND]
    body = memoryview(data)[offset:offset + size]
    if size < 8:
        raise errors.TruncatedError("reference section is smaller than its 8-byte header")
    n_in, n_out = struct.unpack_from("<II", body, 0)
    end = 8 + (n_in + n_out) * REFERENCE_ENTRY.size
    if end > size:
        raise errors.TruncatedError(f"reference section cannot hold its {n_in} + {n_out} entries")
    io_counts = struct.unpack_from("<II", data, sections[IO_KIND][0])
    if (n_in, n_out) != io_counts:
        raise errors.BadSectionError(f"reference section holds {n_in} input(s) and {n_out} output(s), "
                                     f"the program has {io_counts[0]} and {io_counts[1]}")
    arrays = []
    for i in range(n_in + n_out):
        dtype, rank, r1, r2, off, nbytes, *dims = REFERENCE_ENTRY.unpack_from(body, 8 + i * REFERENCE_ENTRY.size)
        where = f"reference tensor {i}"
        if r1 or r2:
            raise errors.BadSectionError(f"{where}: reserved fields are not zero")
        if dtype not in LITTLE_ENDIAN:
            raise errors.BadDtypeError(f"{where}: unknown dtype code {dtype}")
        if rank > MAX_RANK or any(dims[rank:]) or not all(0 <= d <= MAX_DIM for d in dims[:rank]):
            raise errors.BadShapeError(f"{where}: rank {rank} with dims {dims} is not a valid shape")
        shape = tuple(dims[:rank])
        numel = 1
        for d in shape:
            numel *= d
        if nbytes != numel * LITTLE_ENDIAN[dtype].itemsize:
            raise errors.BadShapeError(f"{where}: {nbytes} bytes do not hold shape {list(shape)}")
        if off % ALIGN:
            raise errors.BadAlignmentError(f"{where}: data offset {off} is not 64-byte aligned")
        if off < end or off > size or nbytes > size - off:
            raise errors.BadOffsetError(f"{where}: data at {off}+{nbytes} lies outside the {size}-byte section "
                                        f"or before the end of the one before")
        raw = body[off:off + nbytes]
        if LITTLE_ENDIAN[dtype].kind == "b" and np.frombuffer(raw, np.uint8).max(initial=0) > 1:
            raise errors.BadSectionError(f"{where}: a bool is neither 0 nor 1")
        arrays.append(np.frombuffer(raw, LITTLE_ENDIAN[dtype]).reshape(shape).copy())
        end = off + nbytes
    return Reference(arrays[:n_in], arrays[n_in:])


def without_reference(data: bytes) -> bytes:
    """The program without its REFERENCE section: the entry leaves the table and the file ends where the last
    remaining section ends (the exporter writes REFERENCE last, so this is the file exported without it)."""
    table = _sections(data)
    kept = [entry for entry in table if entry[0] != REFERENCE_KIND]
    if len(kept) == len(table):
        return data
    end = max(offset + size for _kind, offset, size in kept)
    out = bytearray(data[:end + (-end % ALIGN)])
    for kind, offset, size in table:  # a REFERENCE section that was not last: blank what is left of it
        if kind == REFERENCE_KIND and offset < len(out):
            out[offset:min(offset + size, len(out))] = bytes(min(size, len(out) - offset))
    out[HEADER_SIZE:HEADER_SIZE + SECTION_ENTRY * len(table)] = bytes(SECTION_ENTRY * len(table))
    for i, (kind, offset, size) in enumerate(kept):
        struct.pack_into("<IIQQ", out, HEADER_SIZE + SECTION_ENTRY * i, kind, 0, offset, size)
    struct.pack_into("<IQ", out, 12, len(kept), len(out))
    return bytes(out)


def delegation_summary(delegation: dict) -> str:
    """One line for the partition (METADATA "delegation"): ops per backend, partitions, transfers."""
    parts = [f"{name} {d['ops']} ops in {d['partitions']} partition{'s' * (d['partitions'] != 1)}, "
             f"{d['transfers']} transfers" for name, d in sorted(delegation["backends"].items())]
    return "  delegated: " + "; ".join([*parts, f"cpu {delegation['cpu_ops']} ops"])
