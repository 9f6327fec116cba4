"""Write the IR and its memory plan as a .ptm program (layout in runtime/FORMAT.md)."""
from __future__ import annotations

import hashlib
import json
import struct

import numpy as np

from pockettorch.exporter.ir import DTYPE_CODES, Graph, Tensor
from pockettorch.exporter import shapes_section
from pockettorch.exporter.memory_plan import MemoryPlan
from pockettorch.runtime import op_table
from pockettorch.runtime.ptm_info import REFERENCE_ENTRY

MAGIC = b"PKTM"
VERSION = (1, 1)
HEADER_SIZE = 64
SECTION_ENTRY = 24
TENSOR_ENTRY = 96
NO_STRING = 0xFFFFFFFF
ALIGN = 64
SECTIONS = ("TENSORS", "CONSTANTS", "INSTRUCTIONS", "IO", "METADATA", "STRINGS", "REFERENCE", "SHAPES",
            "DELEGATES")  # kinds 1..9
# File order: REFERENCE last, so that dropping it only cuts the file's end.
FILE_ORDER = ("TENSORS", "CONSTANTS", "DELEGATES", "INSTRUCTIONS", "IO", "METADATA", "SHAPES", "STRINGS", "REFERENCE")
DELEGATE_ENTRY = 32


def _pad(buf: bytearray, align: int) -> None:
    buf.extend(b"\0" * (-len(buf) % align))


class _Strings:
    def __init__(self):
        self.data = bytearray()
        self.index: dict[str, int] = {}

    def ref(self, text: str) -> int:
        if text not in self.index:
            self.index[text] = len(self.data)
            self.data.extend(text.encode("utf-8", "replace").replace(b"\0", b" ") + b"\0")
        return self.index[text]


def encode_params(op: op_table.Op, params: dict) -> list[int]:
    """Flatten params by the op table's encoding: ints as is, floats as double bits, a trailing int list."""
    names = [p.name for p in op.params]
    if set(params) != set(names):
        raise ValueError(f"{op.name}: params {sorted(params)} do not match the op table {names}")
    out: list[int] = []
    for p in op.params:
        value = params[p.name]
        if p.kind == "int":
            out.append(int(value))
        elif p.kind == "float":
            out.append(struct.unpack("<q", struct.pack("<d", float(value)))[0])
        else:
            out.extend(int(v) for v in value)
    return out


def encode_reference(inputs: list[np.ndarray], outputs: list[np.ndarray]) -> bytes:
    """The REFERENCE section: counts, one entry per tensor, then each tensor's raw little-endian bytes, 64-aligned."""
    arrays = [np.asarray(a) for a in (*inputs, *outputs)]  # tobytes() writes row-major whatever the strides
    body = bytearray(struct.pack("<II", len(inputs), len(outputs)) + bytes(REFERENCE_ENTRY.size * len(arrays)))
    for i, a in enumerate(arrays):
        if a.dtype.name not in DTYPE_CODES or a.ndim > op_table.MAX_RANK:
            raise ValueError(f"reference tensor {i}: {a.dtype.name}{list(a.shape)} cannot be stored")
        _pad(body, ALIGN)
        dims = list(a.shape) + [0] * (op_table.MAX_RANK - a.ndim)
        REFERENCE_ENTRY.pack_into(body, 8 + REFERENCE_ENTRY.size * i, DTYPE_CODES[a.dtype.name], a.ndim, 0, 0,
                                  len(body), a.nbytes, *dims)
        body += a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
    return bytes(body)


def encode_delegates(delegates: list[tuple[str, bytes]], strings: "_Strings") -> bytes:
    """The DELEGATES section: count, one entry per delegate (backend name, blob offset and size), then the blobs,
    each 64-byte aligned from the section's start."""
    body = bytearray(struct.pack("<II", len(delegates), 0) + bytes(DELEGATE_ENTRY * len(delegates)))
    for i, (backend, blob) in enumerate(delegates):
        _pad(body, ALIGN)
        struct.pack_into("<IIQQQ", body, 8 + DELEGATE_ENTRY * i, strings.ref(backend), 0, len(body), len(blob), 0)
        body += blob
    return bytes(body)


def serialize(graph: Graph, plan: MemoryPlan, metadata: dict,
              reference: tuple[list[np.ndarray], list[np.ndarray]] | None = None) -> bytes:
    """The .ptm bytes; `reference` (inputs, outputs) becomes the optional REFERENCE section, written last."""
    strings = _Strings()
    strings.ref("")
    tensors: list[Tensor] = graph.all_tensors()
    index = {id(t): i for i, t in enumerate(tensors)}

    constants = bytearray()
    const_offset: dict[int, int] = {}
    by_content: dict[bytes, int] = {}  # identical constants (e.g. an unrolled LSTM's weights) are stored once
    for t in tensors:
        if t.is_constant:
            data = np.ascontiguousarray(t.data).tobytes()
            key = hashlib.sha256(data).digest()
            if key not in by_content:
                _pad(constants, ALIGN)
                by_content[key] = len(constants)
                constants.extend(data)
            const_offset[id(t)] = by_content[key]
    _pad(constants, ALIGN)

    tensor_sec = bytearray(struct.pack("<II", len(tensors), 0))
    for t in tensors:
        dims = list(t.shape) + [0] * (op_table.MAX_RANK - len(t.shape))
        storage, offset = (1, const_offset[id(t)]) if t.is_constant else (0, plan.offsets[id(t)])
        tensor_sec += struct.pack("<BBBBIQQ8qQ", DTYPE_CODES[t.dtype], len(t.shape), storage, 0,
                                  strings.ref(t.name), offset, t.nbytes, *dims, 0)

    instr_sec = bytearray(struct.pack("<II", len(graph.nodes), 0))
    for node in graph.nodes:
        spec = op_table.BY_NAME[node.op]
        params = encode_params(spec, node.params)
        operands = [index[id(t)] for t in node.inputs + node.outputs]
        instr_sec += struct.pack("<IHHHHI", spec.code, len(node.inputs), len(node.outputs), len(params), 0,
                                 strings.ref(node.source))
        instr_sec += struct.pack(f"<{len(operands)}I", *operands)
        _pad(instr_sec, 8)
        instr_sec += struct.pack(f"<{len(params)}q", *params)

    io_sec = bytearray(struct.pack("<II", len(graph.inputs), len(graph.outputs)))
    io_sec += struct.pack(f"<{len(graph.inputs) + len(graph.outputs)}I",
                          *[index[id(t)] for t in graph.inputs + graph.outputs])
    meta_sec = json.dumps(metadata, sort_keys=True).encode()
    symbols = getattr(graph, "symbols", [])
    shapes_sec = shapes_section.encode(symbols, tensors, strings) if symbols else None
    bodies = {"TENSORS": tensor_sec, "CONSTANTS": constants, "INSTRUCTIONS": instr_sec, "IO": io_sec,
              "METADATA": meta_sec, "STRINGS": strings.data}
    if shapes_sec is not None:
        bodies["SHAPES"] = shapes_sec
    delegates = getattr(graph, "delegates", [])
    if delegates:
        bodies["DELEGATES"] = encode_delegates(delegates, strings)
    if reference is not None:
        bodies["REFERENCE"] = encode_reference(*reference)

    out = bytearray(HEADER_SIZE + SECTION_ENTRY * len(bodies))
    _pad(out, ALIGN)
    table = []
    for name in FILE_ORDER:
        if name not in bodies:
            continue
        kind = SECTIONS.index(name) + 1
        _pad(out, ALIGN)
        table.append((kind, len(out), len(bodies[name])))
        out += bodies[name]
    _pad(out, ALIGN)
    # 1.2 adds SHAPES, 1.3 DELEGATES; other programs stay 1.1
    version = (1, 3) if delegates else (1, 2) if shapes_sec is not None else VERSION
    struct.pack_into("<4sHHIIQQI", out, 0, MAGIC, *version, HEADER_SIZE, len(table), len(out),
                     plan.arena_bytes, 0)
    for i, (kind, offset, size) in enumerate(table):
        struct.pack_into("<IIQQ", out, HEADER_SIZE + SECTION_ENTRY * i, kind, 0, offset, size)
    return bytes(out)
