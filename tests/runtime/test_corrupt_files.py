"""A catalogue of corrupted programs, each with the status the runtime must answer with.

Every corruption is made on a valid exported program, by field (tests/support_ptm.py), and checked twice:
through the Python binding (pockettorch.load(bytes) raises the catalogue's exception class) and through
the runner binary (exit code 1, stderr names PKT_<STATUS>). A case whose status is None must load and run.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import pytest
import torch

import pockettorch
from pockettorch import errors
from pockettorch.runtime import op_table
from support_ptm import KINDS, Instruction, Ptm, Section, f64_bits, patch
from support_tools import run_tool, tools


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(8, 16)
        self.fc2 = torch.nn.Linear(16, 4)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


@pytest.fixture(scope="module")
def valid() -> bytes:
    torch.manual_seed(0)
    data = pockettorch.export(MLP().eval(), (torch.randn(2, 8),), name="mlp").to_bytes()
    p = Ptm.parse(data)
    # the catalogue below relies on this shape of program
    assert [i.op for i in p.instructions] == [op_table.BY_NAME["linear"].code] * 2
    assert len(p.instructions[0].inputs) == 3 and p.inputs == [0] and len(p.outputs) == 1
    return data


@dataclasses.dataclass
class Case:
    name: str
    status: str | None                       # catalogue name, None: must load and run
    corrupt: Callable[[bytes, Ptm], bytes]   # (valid bytes, parsed copy to edit) -> corrupted bytes
    message: str = ""                        # substring of the error message
    python_error: str | None = None          # Python-only expectation, when it differs from status


def sec(p: Ptm, name: str) -> int:
    return p.offsets[f"section.{name}"]


def entry(p: Ptm, name: str, field: str) -> int:
    return p.offsets[f"section.{name}.{field}"]


def edit(fn: Callable[[Ptm], None]) -> Callable[[bytes, Ptm], bytes]:
    """A structured corruption: change the parsed program, re-lay it out consistently."""
    def corrupt(data: bytes, p: Ptm) -> bytes:
        fn(p)
        return p.build()
    return corrupt


def tensor(p: Ptm, role: str) -> int:
    """Index of a tensor by role in the MLP: input, w1, b1, hidden, w2, b2, output."""
    i0, i1 = p.instructions
    return {"input": i0.inputs[0], "w1": i0.inputs[1], "b1": i0.inputs[2], "hidden": i0.outputs[0],
            "w2": i1.inputs[1], "b2": i1.inputs[2], "output": i1.outputs[0]}[role]


def set_tensor(role: str, **fields) -> Callable[[bytes, Ptm], bytes]:
    def fn(p: Ptm):
        t = p.tensors[tensor(p, role)]
        for k, v in fields.items():
            v = v(p, t) if callable(v) else v
            setattr(t, k, v)
    return edit(fn)


def set_dims(role: str, dims: list[int], rank: int | None = None) -> Callable[[bytes, Ptm], bytes]:
    return set_tensor(role, dims=list(dims) + [0] * (8 - len(dims)), rank=len(dims) if rank is None else rank)


def swap(xs: list, i: int, j: int) -> None:
    xs[i], xs[j] = xs[j], xs[i]


def _bias_as_input_under_output(p: Ptm) -> None:
    """Make fc1's bias a program input whose bytes lie under fc1's output: the kernel's writes would
    change an operand it reads (for take/gather: indices it already validated)."""
    b1, hidden = p.tensors[tensor(p, "b1")], p.tensors[tensor(p, "hidden")]
    b1.storage, b1.offset = 0, hidden.offset
    p.inputs.append(tensor(p, "b1"))


def output_over(role: str, delta: int = 0) -> Callable[[bytes, Ptm], bytes]:
    """Move the program's output to `delta` bytes into tensor `role`, the arena shrunk to what the tensors
    then use (so that only the overlap is wrong)."""
    def fn(p: Ptm):
        p.tensors[tensor(p, "output")].offset = p.tensors[tensor(p, role)].offset + delta
        p.arena_bytes = -(-max(t.offset + t.nbytes for t in p.tensors if t.storage == 0) // 64) * 64
    return edit(fn)


def _nonzero_operand_padding(p: Ptm) -> bytes:
    """fc1 without its bias has 3 operands, so 4 bytes of padding follow them: made non-zero."""
    p.instructions[0].inputs = p.instructions[0].inputs[:2]
    data = p.build()
    return patch(data, Ptm.parse(data).offsets["instr0.operands"] + 12, "I", 7)


def unused_op_code() -> int | None:
    """An op the runtime knows whose kernel file is absent from this tree (None when all are present)."""
    from pockettorch.runtime.build import available_kernels

    present = set(available_kernels())
    missing = [op for op in op_table.OPS if op.kernel not in present]
    return missing[0].code if missing else None


def _truncations() -> list[Case]:
    cases = [Case("empty_file", "TRUNCATED", lambda d, p: b"")]
    for n in (1, 4, 8, 16, 32, 63):
        cases.append(Case(f"truncated_in_header_{n}", "TRUNCATED", lambda d, p, n=n: d[:n]))
    for n in (64, 65, 100, 64 + 6 * 24 - 1):
        cases.append(Case(f"truncated_in_section_table_{n}", "TRUNCATED", lambda d, p, n=n: d[:n]))
    for name in KINDS:
        cases.append(Case(f"truncated_mid_{name.lower()}", "TRUNCATED",
                          lambda d, p, name=name: d[:sec(p, name) + max(1, p.bodies[KINDS[name]].__len__() // 2)]))
    cases.append(Case("truncated_last_byte", "TRUNCATED", lambda d, p: d[:-1]))
    return cases


CASES: list[Case] = [
    *_truncations(),
    # ---- header
    Case("bad_magic", "BAD_MAGIC", lambda d, p: patch(d, 0, "4s", b"PKTX")),
    Case("elf_file", "BAD_MAGIC", lambda d, p: b"\x7fELF" + d[4:]),
    Case("newer_major_version", "UNSUPPORTED_VERSION", lambda d, p: patch(d, 4, "HH", 2, 0), message="2.0"),
    Case("newer_minor_version_loads", None, lambda d, p: patch(d, 6, "H", 7)),
    Case("wrong_header_size", "BAD_SECTION", lambda d, p: patch(d, 8, "I", 128), message="header size"),
    Case("file_size_larger_than_file", "TRUNCATED", lambda d, p: patch(d, 16, "Q", len(d) + 64)),
    Case("file_size_smaller_than_file", "BAD_SECTION", lambda d, p: patch(d, 16, "Q", len(d) - 64)),
    Case("trailing_bytes", "BAD_SECTION", lambda d, p: d + b"\0" * 64),
    Case("arena_beyond_any_device", "BAD_SHAPE", lambda d, p: patch(d, 24, "Q", 1 << 41)),
    Case("arena_larger_than_tensors_use", "BAD_SHAPE", lambda d, p: patch(d, 24, "Q", 1 << 32),
         message="larger than its tensors use"),
    # ---- section table
    Case("section_count_zero", "BAD_SECTION", lambda d, p: patch(d, 12, "I", 0)),
    Case("section_count_65", "BAD_SECTION", lambda d, p: patch(d, 12, "I", 65)),
    Case("section_offset_past_end", "BAD_OFFSET", lambda d, p: patch(d, entry(p, "TENSORS", "offset"), "Q", len(d) + 64)),
    Case("section_size_past_end", "BAD_OFFSET", lambda d, p: patch(d, entry(p, "STRINGS", "size"), "Q", len(d))),
    Case("section_offset_plus_size_overflows", "BAD_OFFSET",
         lambda d, p: patch(d, entry(p, "IO", "offset"), "QQ", 2**64 - 64, 128)),
    Case("section_overlaps_header", "BAD_OFFSET", lambda d, p: patch(d, entry(p, "IO", "offset"), "Q", 0)),
    Case("overlapping_sections", "BAD_SECTION",
         lambda d, p: patch(d, entry(p, "IO", "offset"), "Q", sec(p, "INSTRUCTIONS")), message="overlap"),
    Case("unaligned_section", "BAD_ALIGNMENT", lambda d, p: patch(d, entry(p, "CONSTANTS", "offset"), "Q",
                                                                  sec(p, "CONSTANTS") - 8)),
    Case("duplicate_section", "BAD_SECTION", lambda d, p: patch(d, entry(p, "IO", "kind"), "I", KINDS["TENSORS"]),
         message="twice"),
    Case("missing_section", "BAD_SECTION", lambda d, p: patch(d, entry(p, "METADATA", "kind"), "I", 99),
         message="missing"),
    Case("unknown_section_kind_is_skipped", None,
         edit(lambda p: (p.sections.append(Section(42, 0, 0)), p.bodies.__setitem__(42, b"from the future")))),
    # ---- strings
    Case("strings_unterminated", "BAD_SECTION",
         lambda d, p: patch(d, sec(p, "STRINGS") + len(p.strings) - 1, "B", ord("x"))),
    Case("strings_empty", "BAD_SECTION", lambda d, p: patch(d, entry(p, "STRINGS", "size"), "Q", 0)),
    Case("tensor_name_out_of_range", "BAD_OFFSET", set_tensor("w1", name=lambda p, t: len(p.strings) + 10)),
    Case("instruction_source_out_of_range", "BAD_OFFSET",
         edit(lambda p: setattr(p.instructions[1], "source", len(p.strings)))),
    Case("strings_not_utf8", "BAD_SECTION",
         lambda d, p: patch(d, sec(p, "STRINGS") + p.tensors[0].name, "B", 0xFF), message="UTF-8"),
    # ---- tensors
    Case("tensor_count_beyond_section", "TRUNCATED", lambda d, p: patch(d, sec(p, "TENSORS"), "I", 1000)),
    Case("unknown_dtype", "BAD_DTYPE", set_tensor("input", dtype=99)),
    Case("dtype_zero", "BAD_DTYPE", set_tensor("b1", dtype=0)),
    Case("rank_9", "BAD_SHAPE", set_tensor("input", rank=9), message="rank 9"),
    Case("negative_dim", "BAD_SHAPE", set_dims("w1", [-16, 8])),
    Case("dim_beyond_limit", "BAD_SHAPE", set_dims("w1", [2**31 + 1, 8])),
    Case("dim_product_overflow", "BAD_SHAPE", set_dims("hidden", [2**31, 2**31, 2**31]), message="overflow"),
    Case("nonzero_dim_past_rank", "BAD_SHAPE", set_dims("input", [2, 8, 1], rank=2)),
    Case("nbytes_mismatch", "BAD_SHAPE", set_tensor("b1", nbytes=lambda p, t: t.nbytes + 4)),
    Case("unaligned_tensor_offset", "BAD_ALIGNMENT", set_tensor("w2", offset=lambda p, t: t.offset + 4)),
    Case("arena_tensor_past_arena", "BAD_OFFSET", set_tensor("output", offset=lambda p, t: p.arena_bytes)),
    Case("arena_smaller_than_tensors", "BAD_OFFSET", edit(lambda p: setattr(p, "arena_bytes", 64))),
    Case("constant_past_constants", "BAD_OFFSET",
         set_tensor("b2", offset=lambda p, t: len(p.bodies[KINDS["CONSTANTS"]]))),
    Case("constant_offset_overflows", "BAD_OFFSET", set_tensor("w1", offset=2**64 - 64)),
    Case("unknown_storage", "BAD_SECTION", set_tensor("hidden", storage=2)),
    # ---- instructions
    Case("instruction_count_beyond_section", "TRUNCATED", lambda d, p: patch(d, sec(p, "INSTRUCTIONS"), "I", 1000)),
    Case("instruction_runs_past_section", "TRUNCATED", edit(lambda p: setattr(p.instructions[1], "n_params", 1000))),
    Case("unknown_op_code", "UNKNOWN_OP", edit(lambda p: setattr(p.instructions[0], "op", 9999)), message="9999"),
    Case("op_code_zero", "UNKNOWN_OP", edit(lambda p: setattr(p.instructions[1], "op", 0))),
    # op codes need not be contiguous (ops added in parallel take separate ranges): a code in a gap is unknown
    Case("op_code_in_a_gap", "UNKNOWN_OP", edit(lambda p: setattr(p.instructions[0], "op", next(
        c for c in range(1, max(op_table.BY_CODE)) if c not in op_table.BY_CODE)))),
    Case("operand_index_out_of_range", "BAD_TENSOR_INDEX",
         edit(lambda p: p.instructions[0].inputs.__setitem__(1, 1000)), message="1000"),
    Case("output_operand_index_out_of_range", "BAD_TENSOR_INDEX",
         edit(lambda p: p.instructions[1].outputs.__setitem__(0, 2**32 - 1))),
    Case("too_few_operands", "BAD_OPERANDS", edit(lambda p: setattr(p.instructions[0], "inputs", p.instructions[0].inputs[:1])),
         message="inputs"),
    Case("too_many_operands", "BAD_OPERANDS",
         edit(lambda p: p.instructions[0].inputs.append(p.instructions[0].inputs[0])), message="inputs"),
    Case("too_many_outputs", "BAD_OPERANDS",
         edit(lambda p: p.instructions[0].outputs.append(tensor(p, "output")))),
    Case("too_few_params", "BAD_PARAMS", edit(lambda p: setattr(p.instructions[0], "params", [])), message="parameters"),
    Case("unknown_fused_activation", "BAD_PARAMS", edit(lambda p: p.instructions[0].params.__setitem__(0, 99))),
    Case("clamp_bounds_nan", "BAD_PARAMS",
         edit(lambda p: setattr(p.instructions[0], "params", [op_table.enum_value("ACT", "CLAMP"), f64_bits(math.nan),
                                                              f64_bits(1.0)]))),
    Case("operand_wrong_dtype", "BAD_OPERANDS", set_tensor("w1", dtype=3)),  # int32: same byte size
    Case("operand_wrong_shape", "BAD_OPERANDS", set_dims("w1", [8, 16])),   # transposed: same byte size
    Case("read_before_write", "BAD_OPERANDS", edit(lambda p: swap(p.instructions, 0, 1)), message="before it is written"),
    Case("write_to_constant", "BAD_OPERANDS", edit(lambda p: p.instructions[0].outputs.__setitem__(0, tensor(p, "w1"))),
         message="constant"),
    Case("write_to_input", "BAD_OPERANDS", edit(lambda p: p.instructions[1].outputs.__setitem__(0, tensor(p, "input")))),
    Case("tensor_written_twice", "BAD_OPERANDS",
         edit(lambda p: p.instructions.append(Instruction(**{**dataclasses.asdict(p.instructions[1])})))),
    Case("output_overlaps_input0_partially", "BAD_OPERANDS", output_over("hidden", 64), message="overlaps input 0"),
    Case("output_overlaps_other_input", "BAD_OPERANDS", edit(lambda p: _bias_as_input_under_output(p)),
         message="overlaps input 2"),
    # ---- io
    Case("output_never_written", "BAD_IO", edit(lambda p: p.instructions.pop()), message="never written"),
    Case("io_output_index_out_of_range", "BAD_IO", edit(lambda p: setattr(p, "outputs", [1000]))),
    Case("io_input_index_out_of_range", "BAD_IO", edit(lambda p: setattr(p, "inputs", [2**32 - 1]))),
    Case("io_input_is_constant", "BAD_IO", edit(lambda p: setattr(p, "inputs", [tensor(p, "w1")]))),
    Case("io_no_outputs", "BAD_IO", edit(lambda p: setattr(p, "outputs", []))),
    Case("io_counts_beyond_section", "BAD_IO", lambda d, p: patch(d, sec(p, "IO"), "I", 5000)),
    # ---- fields FORMAT.md says are zero, and outputs that alias inputs
    Case("header_flags_nonzero", "BAD_SECTION", lambda d, p: patch(d, 32, "I", 1), message="flags"),
    Case("header_reserved_nonzero", "BAD_SECTION", lambda d, p: patch(d, 63, "B", 1), message="reserved"),
    Case("section_reserved_nonzero", "BAD_SECTION", lambda d, p: patch(d, entry(p, "IO", "kind") + 4, "I", 1),
         message="reserved"),
    Case("tensor_count_reserved_nonzero", "BAD_SECTION", lambda d, p: patch(d, sec(p, "TENSORS") + 4, "I", 1),
         message="reserved"),
    Case("instruction_count_reserved_nonzero", "BAD_SECTION",
         lambda d, p: patch(d, sec(p, "INSTRUCTIONS") + 4, "I", 1), message="reserved"),
    Case("tensor_reserved_byte_nonzero", "BAD_SECTION", set_tensor("w1", reserved=1), message="reserved"),
    Case("tensor_reserved_word_nonzero", "BAD_SECTION", set_tensor("b2", reserved2=1 << 40), message="reserved"),
    Case("instruction_reserved_nonzero", "BAD_SECTION", edit(lambda p: setattr(p.instructions[1], "reserved", 1)),
         message="reserved"),
    Case("instruction_operand_padding_nonzero", "BAD_SECTION", lambda d, p: _nonzero_operand_padding(p),
         message="padding"),
    Case("io_output_is_input", "BAD_IO", edit(lambda p: setattr(p, "outputs", [tensor(p, "input")])),
         message="is input 0"),
    Case("io_output_shares_input_bytes", "BAD_IO", output_over("input"), message="shares arena bytes with input 0"),
    # ---- metadata: the C runtime does not parse it; the Python layer does
    Case("metadata_not_json", None, edit(lambda p: p.bodies.__setitem__(KINDS["METADATA"], b"{not json")),
         python_error="BAD_METADATA"),
]

_op = unused_op_code()
if _op is not None:
    CASES.append(Case("kernel_not_built", "KERNEL_NOT_BUILT",
                      edit(lambda p: setattr(p.instructions[0], "op", _op))))


def _class_for(status: str) -> type[errors.PocketTorchError]:
    return getattr(errors, "".join(w.capitalize() for w in status.split("_")) + "Error")


def test_catalogue_names_are_unique_and_known():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    for c in CASES:
        for s in (c.status, c.python_error):
            if s is not None:
                assert s in errors.BY_NAME, f"{c.name}: {s} is not in the error catalogue"


def test_parser_round_trips(valid):
    assert Ptm.parse(valid).build() == valid


@pytest.fixture(scope="module")
def runner() -> str:
    return tools()["pkt_runner"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_corrupted_program(case: Case, valid: bytes, runner: str, tmp_path):
    data = case.corrupt(valid, Ptm.parse(valid))
    assert data != valid

    # Python binding
    expected = case.python_error or case.status
    if expected is None:
        module = pockettorch.load(data)
        module(torch.randn(2, 8))
    else:
        with pytest.raises(_class_for(expected)) as info:
            pockettorch.load(data)
        if case.message and case.python_error is None:
            assert case.message in str(info.value)

    # runner binary
    path = tmp_path / f"{case.name}.ptm"
    path.write_bytes(data)
    proc = run_tool([runner, path, "--iters", "1", "--warmup", "0"], timeout=60)
    if case.status is None:
        assert proc.returncode == 0, proc.stderr
        return
    assert proc.returncode == 1, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    assert f"PKT_{case.status}:" in proc.stderr, proc.stderr
    if case.message:
        assert case.message in proc.stderr
    assert proc.stdout == ""
