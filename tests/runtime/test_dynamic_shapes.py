"""Bounded dynamic shapes end to end: export with torch.export Dims, run on the C runtime at several sizes against
eager, inputs outside the range, no repacking per shape, and hostile SHAPES sections."""
from __future__ import annotations

import struct

import numpy as np
import pytest
import torch
from torch.export import Dim

import pockettorch
from pockettorch import errors


class _Encoder(torch.nn.Module):
    """A BERT-like encoder: token embeddings, transformer layers with a padding mask, masked mean pooling
    (transformers' BertModel itself: test_dynamic_bert.py)."""

    def __init__(self, vocab=60, dim=32):
        super().__init__()
        self.tok = torch.nn.Embedding(vocab, dim)
        layer = torch.nn.TransformerEncoderLayer(dim, 4, 64, batch_first=True, dropout=0.0)
        self.enc = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

    def forward(self, ids, mask):
        h = self.enc(self.tok(ids), src_key_padding_mask=mask)
        keep = (~mask).unsqueeze(-1).float()
        return (h * keep).sum(dim=1) / keep.sum(dim=1)


class _Cnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
            torch.nn.Conv2d(16, 32, 3, stride=2, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.ReLU(),
            torch.nn.MaxPool2d(2), torch.nn.Conv2d(32, 8, 1))

    def forward(self, x):
        y = self.body(x)
        return y.mean(dim=(2, 3)), y


SEQ_MAX = 40


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    model = _Encoder().eval()
    seq = Dim("seq", min=1, max=SEQ_MAX)
    ids = torch.randint(0, 60, (2, 7))
    program = pockettorch.export(model, (ids, torch.zeros(2, 7, dtype=torch.bool)),
                                 dynamic_shapes=({1: seq}, {1: seq}))
    return model, program


def _batch(length: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, 60, (2, length), generator=g)
    mask = torch.zeros(2, length, dtype=torch.bool)
    mask[1, length // 2 + 1:] = True  # the second sequence is padded
    return ids, mask


@pytest.mark.parametrize("length", [1, 13, SEQ_MAX])
def test_encoder_matches_eager_at_each_length(encoder, length):
    model, program = encoder
    ids, mask = _batch(length, length)
    with torch.no_grad():
        want = model(ids, mask)
    with pockettorch.load(program.to_bytes()) as m:
        got = m(ids, mask)
    assert tuple(got.shape) == tuple(want.shape)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_one_session_runs_every_length_without_repacking(encoder):
    """The packed weights are written once at load: every length reads the same bytes, and runs alternate shapes."""
    model, program = encoder
    with pockettorch.load(program.to_bytes()) as m:
        assert m.packed_bytes > 0
        packed = m.packed_weights()
        used = {}
        for length in (SEQ_MAX, 3, 29, 1, SEQ_MAX):
            ids, mask = _batch(length, 100 + length)
            with torch.no_grad():
                want = model(ids, mask)
            torch.testing.assert_close(m(ids, mask), want, rtol=1e-4, atol=1e-4)
            used[length] = m.used_arena_bytes
            assert m.packed_weights() == packed
        assert used[1] < used[SEQ_MAX] <= m.arena_bytes


def test_specs_and_metadata_show_ranges(encoder):
    _, program = encoder
    with pockettorch.load(program.to_bytes()) as m:
        ids, mask = m.input_specs
        assert ids.shape == (2, None) and mask.shape == (2, None)
        assert ids.ranges == {1: ("seq", 1, SEQ_MAX)} and mask.ranges == ids.ranges
    assert program.metadata["symbols"] == [{"name": "seq", "min": 1, "max": SEQ_MAX}]
    assert program.metadata["inputs"][0]["dynamic"] == {"1": {"symbol": "seq", "min": 1, "max": SEQ_MAX}}


def test_summary_and_shapes_for_report_the_bound_and_an_actual_shape(encoder):
    _, program = encoder
    summary = program.summary()
    assert f"seq 1..{SEQ_MAX}" in summary and "planned for the maxima" in summary and "used at the minima" in summary
    with pockettorch.load(program.to_bytes()) as m:
        outputs, used_short = m.shapes_for((2, 1), (2, 1))
        assert outputs == [(2, 32)]
        _, used_long = m.shapes_for((2, SEQ_MAX), (2, SEQ_MAX))
        assert used_short < used_long <= m.arena_bytes
        with pytest.raises(errors.InputShapeError, match=f"1..{SEQ_MAX}"):
            m.shapes_for((2, SEQ_MAX + 1), (2, SEQ_MAX + 1))


def test_outside_the_range_is_an_input_shape_error(encoder):
    _, program = encoder
    with pockettorch.load(program.to_bytes()) as m:
        ids, mask = _batch(SEQ_MAX + 1, 1)
        with pytest.raises(errors.InputShapeError, match=f"1..{SEQ_MAX}"):
            m(ids, mask)
        ids, _ = _batch(5, 1)
        _, mask = _batch(6, 1)
        with pytest.raises(errors.InputShapeError, match="seq"):
            m(ids, mask)
        with pytest.raises(errors.InputShapeError):  # a static dim stays static
            m(*_batch_of(3, 5))
        ids, mask = _batch(9, 9)  # and the session still works after refusing them
        assert tuple(m(ids, mask).shape) == (2, 32)


def _batch_of(batch: int, length: int):
    return torch.zeros(batch, length, dtype=torch.long), torch.zeros(batch, length, dtype=torch.bool)


@pytest.mark.parametrize("size", [(8, 8), (17, 30), (48, 48)])
def test_cnn_matches_eager_at_each_image_size(size):
    torch.manual_seed(1)
    model = _Cnn().eval()
    h, w = Dim("h", min=8, max=48), Dim("w", min=8, max=48)
    program = pockettorch.export(model, (torch.randn(1, 3, 16, 16),), dynamic_shapes=({2: h, 3: w},))
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        want = model(x)
    with pockettorch.load(program.to_bytes()) as m:
        packed = m.packed_weights()
        got = m(x)
        assert m.packed_weights() == packed
    for g, e in zip(got, want):
        assert tuple(g.shape) == tuple(e.shape)
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-4)


def test_unbounded_dim_is_refused():
    model = _Cnn().eval()
    with pytest.raises(errors.BadModelArgsError, match="max"):
        pockettorch.export(model, (torch.randn(1, 3, 16, 16),), dynamic_shapes=({2: Dim("h", min=8)},))


# -- hostile SHAPES sections --

def _shapes_section(data: bytes) -> tuple[int, int]:
    count = struct.unpack_from("<I", data, 12)[0]
    for i in range(count):
        kind, _, offset, size = struct.unpack_from("<IIQQ", data, 64 + 24 * i)
        if kind == 8:
            return offset, size
    raise AssertionError("no SHAPES section")


def _patched(data: bytes, at: int, fmt: str, value) -> bytes:
    buf = bytearray(data)
    struct.pack_into(fmt, buf, at, value)
    return bytes(buf)


def _hostile_variants(data: bytes):
    off, _ = _shapes_section(data)
    n_sym, n_dims, n_words = struct.unpack_from("<III", data, off)
    sym0 = off + 16
    dims0 = sym0 + 32 * n_sym
    words0 = dims0 + 16 * n_dims
    yield "min above max", _patched(data, sym0 + 8, "<q", SEQ_MAX + 5)
    yield "min zero", _patched(data, sym0 + 8, "<q", 0)
    yield "max beyond the plan", _patched(data, sym0 + 16, "<q", SEQ_MAX * 4)
    yield "max below the plan", _patched(data, sym0 + 16, "<q", SEQ_MAX - 1)
    yield "huge max", _patched(data, sym0 + 16, "<q", 1 << 40)
    yield "symbol count zero", _patched(data, off, "<I", 0)
    yield "symbol count huge", _patched(data, off, "<I", 0xFFFFFFFF)
    yield "dim count past the section", _patched(data, off + 4, "<I", n_dims + 1)
    yield "reserved word", _patched(data, off + 12, "<I", 1)
    yield "tensor index out of range", _patched(data, dims0, "<I", 0xFFFFFF)
    yield "dim past the rank", _patched(data, dims0 + 4, "<B", 7)
    yield "expression outside the words", _patched(data, dims0 + 8, "<I", n_words)
    yield "unknown expression op", _patched(data, words0, "<q", 99)
    yield "symbol index out of range", _patched(data, words0 + 8, "<q", 5)
    yield "stack underflow", _patched(data, words0, "<q", 3)


def test_hostile_shapes_sections_are_refused_cleanly(encoder):
    _, program = encoder
    data = program.to_bytes()
    pockettorch.load(data).close()
    for what, bad in _hostile_variants(data):
        with pytest.raises(errors.PocketTorchError) as info:
            pockettorch.load(bad)
        assert "shapes" in str(info.value).lower() or "section" in str(info.value).lower(), what


def test_cli_dynamic_option_shares_a_symbol(tmp_path):
    """`pockettorch export --dynamic INPUT:DIM=MIN..MAX:SYMBOL`: the named dims become one symbol."""
    from click.testing import CliRunner

    from pockettorch.cli import cli

    builder = tmp_path / "two_inputs.py"
    builder.write_text(
        "import torch\n"
        "class M(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.lin = torch.nn.Linear(4, 3)\n"
        "    def forward(self, x, y):\n"
        "        return self.lin(x) * y\n"
        "def build():\n"
        "    return M(), (torch.randn(1, 5, 4), torch.randn(1, 5, 1))\n")
    out = tmp_path / "m.ptm"
    result = CliRunner().invoke(cli, ["export", f"{builder}:build", "--out", str(out), "--quiet",
                                       "--dynamic", "x:1=1..16:seq", "--dynamic", "y:1=1..16:seq"])
    assert result.exit_code == 0, result.output
    with pockettorch.load(out) as m:
        assert [s.ranges for s in m.input_specs] == [{1: ("seq", 1, 16)}] * 2
        x, y = np.ones((1, 3, 4), np.float32), np.full((1, 3, 1), 2, np.float32)
        assert m(x, y).shape == (1, 3, 3)
    bad = CliRunner().invoke(cli, ["export", f"{builder}:build", "--out", str(out), "--dynamic", "x:1=1-16"])
    assert bad.exit_code != 0 and "INPUT:DIM=MIN..MAX" in bad.output


def test_cli_run_takes_inputs_of_any_length_in_range(tmp_path, encoder):
    """`pockettorch run` on a dynamic program: random inputs at the maxima, .npy inputs at their own length."""
    from click.testing import CliRunner

    from pockettorch.cli import cli

    _, program = encoder
    path = program.save(tmp_path / "enc.ptm")
    ids, mask = _batch(5, 5)
    np.save(tmp_path / "ids.npy", ids.numpy())
    np.save(tmp_path / "mask.npy", mask.numpy())
    at_max = CliRunner().invoke(cli, ["run", path, "--iters", "1"])
    assert at_max.exit_code == 0, at_max.output
    given = CliRunner().invoke(cli, ["run", path, "--iters", "1", "--input", str(tmp_path / "ids.npy"),
                                     "--input", str(tmp_path / "mask.npy"), "--output", str(tmp_path / "out")])
    assert given.exit_code == 0, given.output
    assert np.load(tmp_path / "out" / "output.npy").shape == (2, 32)


def test_zoo_transformer_encoder_at_several_lengths():
    """The zoo's transformer encoder ([1, 128, 256] at export) with a dynamic sequence length, against eager."""
    from pockettorch.exporter import zoo

    model, inputs = zoo.build("transformer_encoder")[:2]
    bound = inputs[0].shape[1]
    program = pockettorch.export(model, inputs, dynamic_shapes=({1: Dim("seq", min=1, max=bound)},))
    with pockettorch.load(program.to_bytes()) as m:
        for length in (1, 37, bound):
            x = inputs[0][:, :length]
            with torch.no_grad():
                want = model(x)
            torch.testing.assert_close(m(x), want, rtol=1e-4, atol=1e-4)
