"""The loader checks the DELEGATES section and the delegate instructions like every other part of a program
(FORMAT.md, DELEGATES): a corrupted entry, blob placement or fallback range is refused with a clear error, through
the Python binding (no backend needed: the loader never looks inside a blob)."""
from __future__ import annotations

import struct

import pytest

import pockettorch
from pockettorch import errors
from pockettorch.exporter import backends as registry

import delegation_support as support
import models
from fixtures.elementwise_backend import ElementwiseTestBackend
from support_ptm import NO_STRING, Ptm, patch

DELEGATE_OP = 85


@pytest.fixture(scope="module")
def split() -> bytes:
    """Two delegates: instruction 0 (fallback 1..2) and 4 (fallback 5..7)."""
    support.register_test_backend()
    data = pockettorch.export(models.SplitBySigmoid(), models.inputs(),
                              backends=[ElementwiseTestBackend.name]).to_bytes()
    registry.unregister(ElementwiseTestBackend.name)
    pockettorch.load(data).close()  # the uncorrupted program loads
    return data


def _entry(data: bytes, k: int) -> int:
    off, _ = support.delegates_section(data)
    return off + 8 + 32 * k


def _refused(data: bytes, error, match: str):
    with pytest.raises(error, match=match):
        pockettorch.load(data)


@pytest.mark.parametrize("corrupt, error, match", [
    (lambda d: patch(d, _entry(d, 0) + 8, "Q", struct.unpack_from("<Q", d, _entry(d, 0) + 8)[0] + 4),
     errors.BadAlignmentError, r"delegate 0 \(test_elementwise\): blob offset \d+ is not 64-byte aligned"),
    (lambda d: patch(d, _entry(d, 1) + 16, "Q", 1 << 20), errors.BadOffsetError, "delegate 1 .*runs past"),
    (lambda d: patch(d, _entry(d, 0) + 16, "Q", 0), errors.BadOffsetError, "delegate 0 .*is empty"),
    (lambda d: patch(d, _entry(d, 1) + 8, "Q", 64), errors.BadOffsetError, "delegate 1 .*overlaps the table"),
    (lambda d: patch(d, _entry(d, 0), "I", NO_STRING), errors.BadOffsetError, "delegate 0: its backend name is missing"),
    (lambda d: patch(d, _entry(d, 0), "I", 1 << 30), errors.BadOffsetError, "outside the string section"),
    (lambda d: patch(d, _entry(d, 0) + 24, "Q", 1), errors.BadSectionError, "delegate 0: reserved fields"),
    (lambda d: patch(d, support.delegates_section(d)[0], "I", 0), errors.BadSectionError, "holds 0 delegates"),
    (lambda d: patch(d, support.delegates_section(d)[0], "I", 300), errors.BadSectionError, "holds 300 delegates"),
])
def test_corrupted_delegates_section_is_refused(split, corrupt, error, match):
    _refused(corrupt(split), error, match)


def _with_instructions(data: bytes, edit) -> bytes:
    ptm = Ptm.parse(data)
    edit(ptm.instructions)
    return ptm.build()


def test_delegate_instructions_are_checked(split):
    ins = Ptm.parse(split).instructions
    assert [i.op for i in ins].count(DELEGATE_OP) == 2 and ins[0].op == ins[4].op == DELEGATE_OP

    def setp(k, index, value):
        return lambda i: i[k].params.__setitem__(index, value)

    _refused(_with_instructions(split, setp(4, 0, 5)), errors.BadParamsError, "instruction 4 .*names delegate 5 of 2")
    _refused(_with_instructions(split, setp(4, 0, 0)), errors.BadParamsError, "instruction 4 .*reuses delegate 0")
    _refused(_with_instructions(split, setp(4, 1, 4)), errors.BadParamsError, "fallback of 4 instructions does not fit")
    _refused(_with_instructions(split, setp(4, 1, 0)), errors.BadParamsError, "fallback of 0 instructions")
    # a range that does not write the delegate's output
    _refused(_with_instructions(split, setp(0, 1, 1)), errors.BadOperandsError, "its fallback never writes output 0")
    # a range that swallows the next delegate instruction
    _refused(_with_instructions(split, setp(0, 1, 5)), errors.BadOperandsError, "lies inside the fallback")
    # a fallback that reads a tensor the delegate does not take as an input
    _refused(_with_instructions(split, lambda i: i[0].inputs.pop()), errors.BadOperandsError,
             "not one of the delegate's inputs")
    # an output listed twice
    _refused(_with_instructions(split, lambda i: i[0].outputs.append(i[0].outputs[0])), errors.BadOperandsError,
             "listed twice")
    _refused(_with_instructions(split, lambda i: i[0].params.append(0)), errors.BadParamsError, "3 parameters")


def test_what_only_a_fallback_computes_is_not_read_after_it(split):
    """Instruction 1 writes `relu`, internal to delegate 0's fallback: when the delegate runs, nothing computes it."""
    ptm = Ptm.parse(split)
    internal = ptm.instructions[1].outputs[0]
    ptm.instructions[5].inputs[0] = internal  # the second fallback reads it...
    ptm.instructions[4].inputs.append(internal)  # ...as a declared input of its delegate
    _refused(ptm.build(), errors.BadOperandsError, "only a delegate's fallback writes it")


def test_a_delegate_needs_its_section(split):
    ptm = Ptm.parse(split)
    ptm.sections = [s for s in ptm.sections if s.kind != 9]
    _refused(ptm.build(), errors.BadParamsError, "names delegate 0 of 0")
