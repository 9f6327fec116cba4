"""The REFERENCE section (FORMAT.md, kind 7): raw tensors instead of JSON floats, read back bit for bit,
placed and bounds-checked by the C loader like any section, checked entry by entry by the Python reader,
and dropped whole by `without_reference`."""
from __future__ import annotations

import struct

import numpy as np
import pytest
import torch

import pockettorch
from pockettorch import errors
from pockettorch.exporter.serialize import encode_reference
from pockettorch.runtime.ptm_info import read_layout, read_reference, without_reference
from support_ptm import KINDS, patch, Ptm

REFERENCE = 7
REFERENCE_ENTRY = struct.Struct("<BBHIQQ8q")  # FORMAT.md: dtype, rank, reserved, reserved, offset, size, dims[8]


class SmallConvNet(torch.nn.Module):
    """About 24 KB of weights on a 3x64x64 image: the reference's input alone is 48 KB of float32."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.fc = torch.nn.Linear(16, 300)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


@pytest.fixture(scope="module")
def exported():
    """(bytes without reference, bytes with reference, the example input, its eager output)"""
    torch.manual_seed(0)
    model, x = SmallConvNet().eval(), torch.randn(1, 3, 64, 64)
    x[0, 0, 0, :4] = torch.tensor([float("nan"), float("inf"), -float("inf"), -0.0])
    plain = pockettorch.export(model, (x,), name="small").to_bytes()
    with_ref = pockettorch.export(model, (x,), name="small", reference=True).to_bytes()
    with torch.no_grad():
        eager = model(x).numpy()
    return plain, with_ref, x, eager


def test_reference_costs_its_raw_bytes_not_ten_times_more(exported):
    plain, with_ref, x, _ = exported
    raw = x.numel() * 4 + 300 * 4
    assert 20_000 < len(plain) < 40_000
    overhead = 8 + 2 * REFERENCE_ENTRY.size + 3 * 64  # header, entries, alignment padding
    assert raw <= len(with_ref) - len(plain) <= raw + overhead
    assert read_layout(with_ref)["sections"]["reference"] <= raw + overhead
    assert "reference" not in pockettorch.load(with_ref).metadata  # no JSON copy of it


def test_reference_round_trips_bit_for_bit(exported):
    plain, with_ref, x, eager = exported
    ref = read_reference(with_ref)
    assert read_reference(plain) is None
    assert len(ref.inputs) == 1 and len(ref.outputs) == 1
    assert ref.inputs[0].dtype == np.float32 and ref.inputs[0].shape == (1, 3, 64, 64)
    assert np.array_equal(ref.inputs[0].view(np.uint32), x.numpy().view(np.uint32))  # NaN, inf, -0.0 kept
    assert ref.outputs[0].dtype == np.float32 and ref.outputs[0].shape == (1, 300)
    np.testing.assert_array_equal(ref.outputs[0], eager)


def test_every_dtype_and_odd_shapes_round_trip():
    arrays = [np.array([np.nan, -0.0, np.inf, 1e-45], np.float32), np.arange(-3, 3, dtype=np.int64).reshape(2, 3),
              np.array(7, np.int32), np.array([True, False, True]), np.arange(5, dtype=np.uint8),
              np.array([-128, 127], np.int8), np.array([np.nan, 65504, -0.0], np.float16), np.zeros((0, 3), np.float32),
              np.ones((1,) * 8, np.float32)]
    arrays[0].view(np.uint32)[0] = 0x7FC00123  # a NaN with a payload
    body = encode_reference(arrays[:4], arrays[4:])
    ref = read_reference(_program_with_reference(body))
    for want, got in zip(arrays, ref.inputs + ref.outputs, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == want.tobytes()
    offsets = [REFERENCE_ENTRY.unpack_from(body, 8 + i * REFERENCE_ENTRY.size)[4] for i in range(len(arrays))]
    assert all(o % 64 == 0 for o in offsets)


class FourInFiveOut(torch.nn.Module):
    def forward(self, a, b, c, d):
        return a + 1, b + 1, c + 1, d + 1, a * 2


def _program_with_reference(body: bytes) -> bytes:
    """A valid program of 4 inputs and 5 outputs with `body` as its REFERENCE section."""
    p = Ptm.parse(pockettorch.export(FourInFiveOut(), tuple(torch.randn(2) for _ in range(4))).to_bytes())
    p.sections.append(type(p.sections[0])(REFERENCE, 0, 0))
    p.bodies[REFERENCE] = body
    return p.build()


def test_without_reference_is_the_program_exported_without_it(exported):
    plain, with_ref, _, _ = exported
    assert without_reference(with_ref) == plain
    assert without_reference(plain) == plain
    pockettorch.load(without_reference(with_ref))


def test_a_reference_section_that_is_not_last_is_dropped_too(exported):
    _, with_ref, _, _ = exported
    p = Ptm.parse(with_ref)
    p.sections.insert(0, p.sections.pop())  # laid out first, before TENSORS
    first = p.build()
    stripped = without_reference(first)
    assert read_reference(first) is not None and read_reference(stripped) is None
    assert len(stripped) == len(first)  # the sections after it keep their offsets
    pockettorch.load(stripped)
    start = Ptm.parse(first).sections[0].offset
    assert stripped[start:start + p.sections[0].size].count(0) == p.sections[0].size  # blanked


def test_loader_accepts_the_section_and_old_runtimes_skip_it(exported):
    _, with_ref, x, _ = exported
    m = pockettorch.load(with_ref)
    assert m.run_numpy([x.numpy()])[0].shape == (1, 300)
    p = Ptm.parse(with_ref)
    # what a 1.0 runtime sees: a kind it does not know, skipped (FORMAT.md: newer minors only add sections)
    unknown = patch(with_ref, p.offsets["section.kind7.kind"], "I", 99)
    pockettorch.load(unknown)
    assert read_reference(unknown) is None


def _entry(p: Ptm, field: str) -> int:
    return p.offsets[f"section.kind7.{field}"]


@pytest.mark.parametrize("name, corrupt, status", [
    ("offset_past_end", lambda d, p: patch(d, _entry(p, "offset"), "Q", len(d) + 64), errors.BadOffsetError),
    ("size_past_end", lambda d, p: patch(d, _entry(p, "size"), "Q", len(d)), errors.BadOffsetError),
    ("offset_plus_size_overflows", lambda d, p: patch(d, _entry(p, "offset"), "QQ", 2**64 - 64, 128),
     errors.BadOffsetError),
    ("over_the_header", lambda d, p: patch(d, _entry(p, "offset"), "Q", 0), errors.BadOffsetError),
    ("unaligned", lambda d, p: patch(d, _entry(p, "offset"), "Q", p.offsets["section.kind7"] + 8),
     errors.BadAlignmentError),
    ("over_the_constants", lambda d, p: patch(d, _entry(p, "offset"), "Q", p.offsets["section.CONSTANTS"]),
     errors.BadSectionError),
    ("twice", lambda d, p: patch(d, p.offsets["section.STRINGS.kind"], "I", REFERENCE), errors.BadSectionError),
])
def test_loader_bounds_checks_the_section(exported, name, corrupt, status):
    _, with_ref, _, _ = exported
    with pytest.raises(status):
        pockettorch.load(corrupt(with_ref, Ptm.parse(with_ref)))


def _entry_field(p: Ptm, index: int, rel: int) -> int:
    return p.offsets["section.kind7"] + 8 + index * REFERENCE_ENTRY.size + rel


@pytest.mark.parametrize("name, corrupt, status", [
    ("count_beyond_section", lambda d, p: patch(d, p.offsets["section.kind7"], "II", 1, 10**6), errors.TruncatedError),
    ("counts_differ_from_io", lambda d, p: patch(d, p.offsets["section.kind7"], "II", 1, 0), errors.BadSectionError),
    ("unknown_dtype", lambda d, p: patch(d, _entry_field(p, 0, 0), "B", 42), errors.BadDtypeError),
    ("rank_9", lambda d, p: patch(d, _entry_field(p, 0, 1), "B", 9), errors.BadShapeError),
    ("negative_dim", lambda d, p: patch(d, _entry_field(p, 0, 24), "q", -1), errors.BadShapeError),
    ("dim_past_rank", lambda d, p: patch(d, _entry_field(p, 0, 24 + 8 * 7), "q", 2), errors.BadShapeError),
    ("size_mismatch", lambda d, p: patch(d, _entry_field(p, 0, 16), "Q", 8), errors.BadShapeError),
    ("data_unaligned", lambda d, p: patch(d, _entry_field(p, 1, 8), "Q", 200), errors.BadAlignmentError),
    ("data_past_section", lambda d, p: patch(d, _entry_field(p, 1, 8), "Q", 2**63), errors.BadOffsetError),
    ("data_over_the_entries", lambda d, p: patch(d, _entry_field(p, 0, 8), "Q", 0), errors.BadOffsetError),
    ("data_overlaps_previous", lambda d, p: patch(d, _entry_field(p, 1, 8), "Q", 64 * 3), errors.BadOffsetError),
    ("reserved_set", lambda d, p: patch(d, _entry_field(p, 0, 4), "I", 1), errors.BadSectionError),
])
def test_reader_checks_every_entry(exported, name, corrupt, status):
    _, with_ref, _, _ = exported
    p = Ptm.parse(with_ref)
    assert struct.unpack_from("<II", with_ref, p.offsets["section.kind7"]) == (1, 1)
    assert p.offsets["section.kind7"] > p.offsets[f"section.{list(KINDS)[-1]}"]  # written last
    data = corrupt(with_ref, p)
    pockettorch.load(data)  # the runtime does not read the section's contents
    with pytest.raises(status):
        read_reference(data)


def test_bools_other_than_0_and_1_are_refused():
    body = bytearray(encode_reference([np.array([True, False])] * 4, [np.array([1.0], np.float32)] * 5))
    first = REFERENCE_ENTRY.unpack_from(body, 8)[4]
    body[first] = 2
    with pytest.raises(errors.BadSectionError, match="bool"):
        read_reference(_program_with_reference(bytes(body)))
