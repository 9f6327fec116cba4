"""A small, independent reader/writer for the .ptm format (runtime/FORMAT.md), for making precise corruptions.

Two levels:
  * `Ptm.parse(data)` gives a structured, editable view (header fields, sections, tensors, instructions,
    io, strings); `ptm.build()` lays it out again exactly as the exporter does (64-byte aligned sections,
    file size patched), so a field can be changed and the rest of the file stays consistent.
  * Raw patches at the byte offsets of named fields (`ptm.offsets`), for corruptions of the layout itself
    (section offsets, sizes, counts) that `build()` would otherwise repair.

This is written from FORMAT.md, not from exporter/serialize.py, so the two check each other.
"""
from __future__ import annotations

import copy
import dataclasses
import struct

HEADER = struct.Struct("<4sHHIIQQI28s")       # magic, major, minor, header size, section count, file size, arena, flags
SECTION = struct.Struct("<IIQQ")              # kind, reserved, offset, size
TENSOR = struct.Struct("<BBBBIQQ8qQ")         # dtype, rank, storage, reserved, name, offset, nbytes, dims[8], reserved
INSTR = struct.Struct("<IHHHHI")              # op, n_in, n_out, n_params, reserved, source
KINDS = {"TENSORS": 1, "CONSTANTS": 2, "INSTRUCTIONS": 3, "IO": 4, "METADATA": 5, "STRINGS": 6}
KIND_NAMES = {v: k for k, v in KINDS.items()}
NO_STRING = 0xFFFFFFFF


@dataclasses.dataclass
class Section:
    kind: int
    offset: int
    size: int
    reserved: int = 0


@dataclasses.dataclass
class TensorEntry:
    dtype: int
    rank: int
    storage: int
    name: int          # string offset
    offset: int
    nbytes: int
    dims: list[int]    # 8 entries
    reserved: int = 0
    reserved2: int = 0


@dataclasses.dataclass
class Instruction:
    op: int
    inputs: list[int]
    outputs: list[int]
    params: list[int]  # raw i64 values
    source: int = NO_STRING
    reserved: int = 0
    # the counts written to the file; None = len() of the lists (override to lie about them)
    n_inputs: int | None = None
    n_outputs: int | None = None
    n_params: int | None = None


@dataclasses.dataclass
class Ptm:
    magic: bytes
    major: int
    minor: int
    header_size: int
    flags: int
    arena_bytes: int
    sections: list[Section]          # as in the section table, in table order
    bodies: dict[int, bytes]         # section kind -> raw bytes
    tensors: list[TensorEntry]
    instructions: list[Instruction]
    inputs: list[int]
    outputs: list[int]
    size: int = 0                    # file size from the header
    offsets: dict[str, int] = dataclasses.field(default_factory=dict)  # byte offset of named fields

    # ---- parsing ---------------------------------------------------------------------------------
    @classmethod
    def parse(cls, data: bytes) -> "Ptm":
        magic, major, minor, header_size, count, file_size, arena, flags, _ = HEADER.unpack_from(data, 0)
        offsets = {"magic": 0, "major": 4, "minor": 6, "header_size": 8, "section_count": 12, "file_size": 16,
                   "arena_bytes": 24, "flags": 32}
        sections, bodies = [], {}
        for i in range(count):
            base = HEADER.size + i * SECTION.size
            kind, reserved, off, size = SECTION.unpack_from(data, base)
            sections.append(Section(kind, off, size, reserved))
            name = KIND_NAMES.get(kind, f"kind{kind}")
            offsets[f"section.{name}.kind"] = base
            offsets[f"section.{name}.offset"] = base + 8
            offsets[f"section.{name}.size"] = base + 16
            offsets[f"section.{name}"] = off
            bodies[kind] = bytes(data[off:off + size])
        ptm = cls(magic, major, minor, header_size, flags, arena, sections, bodies, [], [], [], [], file_size, offsets)
        ptm._parse_tensors()
        ptm._parse_instructions()
        ptm._parse_io()
        return ptm

    def _parse_tensors(self):
        body = self.bodies[KINDS["TENSORS"]]
        count, _ = struct.unpack_from("<II", body, 0)
        base = self.offsets["section.TENSORS"]
        for i in range(count):
            f = TENSOR.unpack_from(body, 8 + i * TENSOR.size)
            self.tensors.append(TensorEntry(f[0], f[1], f[2], f[4], f[5], f[6], list(f[7:15]), f[3], f[15]))
            e = base + 8 + i * TENSOR.size
            for name, rel in (("dtype", 0), ("rank", 1), ("storage", 2), ("name", 4), ("offset", 8), ("nbytes", 16),
                              ("dims", 24)):
                self.offsets[f"tensor{i}.{name}"] = e + rel

    def _parse_instructions(self):
        body = self.bodies[KINDS["INSTRUCTIONS"]]
        count, _ = struct.unpack_from("<II", body, 0)
        pos = 8
        base = self.offsets["section.INSTRUCTIONS"]
        for i in range(count):
            op, n_in, n_out, n_par, reserved, source = INSTR.unpack_from(body, pos)
            self.offsets[f"instr{i}"] = base + pos
            self.offsets[f"instr{i}.operands"] = base + pos + 16
            operands = list(struct.unpack_from(f"<{n_in + n_out}I", body, pos + 16))
            pos += 16 + (-(-(n_in + n_out) * 4 // 8) * 8)
            self.offsets[f"instr{i}.params"] = base + pos
            params = list(struct.unpack_from(f"<{n_par}q", body, pos))
            pos += 8 * n_par
            self.instructions.append(Instruction(op, operands[:n_in], operands[n_in:], params, source, reserved))

    def _parse_io(self):
        body = self.bodies[KINDS["IO"]]
        ni, no = struct.unpack_from("<II", body, 0)
        idx = list(struct.unpack_from(f"<{ni + no}I", body, 8))
        self.inputs, self.outputs = idx[:ni], idx[ni:]
        self.offsets["io.inputs"] = self.offsets["section.IO"] + 8
        self.offsets["io.outputs"] = self.offsets["section.IO"] + 8 + 4 * ni

    # ---- strings ---------------------------------------------------------------------------------
    @property
    def strings(self) -> bytes:
        return self.bodies[KINDS["STRINGS"]]

    def string(self, ref: int) -> str:
        s = self.strings
        return s[ref:s.index(b"\0", ref)].decode()

    def tensor_index(self, name: str) -> int:
        for i, t in enumerate(self.tensors):
            if t.name != NO_STRING and self.string(t.name) == name:
                return i
        raise KeyError(name)

    def clone(self) -> "Ptm":
        return copy.deepcopy(self)

    # ---- writing ---------------------------------------------------------------------------------
    def encode_sections(self) -> dict[int, bytes]:
        """Section bodies re-encoded from the structured fields (other kinds kept raw)."""
        bodies = dict(self.bodies)
        t = bytearray(struct.pack("<II", len(self.tensors), 0))
        for e in self.tensors:
            t += TENSOR.pack(e.dtype, e.rank, e.storage, e.reserved, e.name, e.offset, e.nbytes, *e.dims, e.reserved2)
        bodies[KINDS["TENSORS"]] = bytes(t)
        ins = bytearray(struct.pack("<II", len(self.instructions), 0))
        for r in self.instructions:
            operands = r.inputs + r.outputs
            ins += INSTR.pack(r.op, len(r.inputs) if r.n_inputs is None else r.n_inputs,
                              len(r.outputs) if r.n_outputs is None else r.n_outputs,
                              len(r.params) if r.n_params is None else r.n_params, r.reserved, r.source)
            ins += struct.pack(f"<{len(operands)}I", *operands)
            ins += b"\0" * (-len(ins) % 8)
            ins += struct.pack(f"<{len(r.params)}q", *r.params)
        bodies[KINDS["INSTRUCTIONS"]] = bytes(ins)
        bodies[KINDS["IO"]] = struct.pack(f"<II{len(self.inputs) + len(self.outputs)}I", len(self.inputs),
                                          len(self.outputs), *self.inputs, *self.outputs)
        return bodies

    def build(self) -> bytes:
        """Lay the file out like the exporter: header, table, then each section 64-byte aligned, in table order."""
        bodies = self.encode_sections()
        out = bytearray(HEADER.size + SECTION.size * len(self.sections))
        out += b"\0" * (-len(out) % 64)
        table = []
        for s in self.sections:
            out += b"\0" * (-len(out) % 64)
            body = bodies.get(s.kind, b"")
            table.append((s.kind, s.reserved, len(out), len(body)))
            out += body
        out += b"\0" * (-len(out) % 64)
        HEADER.pack_into(out, 0, self.magic, self.major, self.minor, self.header_size, len(self.sections), len(out),
                         self.arena_bytes, self.flags, b"\0" * 28)
        for i, entry in enumerate(table):
            SECTION.pack_into(out, HEADER.size + SECTION.size * i, *entry)
        return bytes(out)


def patch(data: bytes, offset: int, fmt: str, *values) -> bytes:
    """A copy of data with struct `fmt` (little-endian) written at offset."""
    out = bytearray(data)
    struct.pack_into("<" + fmt.lstrip("<"), out, offset, *values)
    return bytes(out)


def f64_bits(value: float) -> int:
    """A float parameter as the i64 the format stores."""
    return struct.unpack("<q", struct.pack("<d", value))[0]
