"""Hugging Face transformers' BertModel (random weights from a small BertConfig) exported once with a dynamic
sequence length and run on the C runtime at several lengths, padded and not, against eager. BERT's embeddings
take `torch.arange(seq)` and slice the `position_ids` buffer to the sequence's length: both are dynamic here
(the arange op, a slice of a constant at run time). Also the arange op itself in every form torch.export leaves
it, and the forms it refuses."""
from __future__ import annotations

import pytest
import torch
import transformers
from torch.export import Dim

import pockettorch
from pockettorch import errors
from support import assert_outputs_match

SEQ_MAX = 128
VOCAB = 100


class _HiddenStates(torch.nn.Module):
    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


@pytest.fixture(scope="module")
def bert():
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                     intermediate_size=64, max_position_embeddings=SEQ_MAX)
    model = _HiddenStates(transformers.BertModel(config, add_pooling_layer=False).eval()).eval()
    seq = Dim("seq", min=1, max=SEQ_MAX)
    example = (torch.randint(0, VOCAB, (2, 7)), torch.ones(2, 7, dtype=torch.long))
    program = pockettorch.export(model, example, dynamic_shapes=({1: seq}, {1: seq}))
    return model, program


def _batch(length: int):
    g = torch.Generator().manual_seed(length)
    ids = torch.randint(0, VOCAB, (2, length), generator=g)
    mask = torch.ones(2, length, dtype=torch.long)
    mask[1, length // 2 + 1:] = 0  # the second sentence is padded (from length 3 on)
    return ids, mask


def test_program_is_dynamic_with_position_ops(bert):
    _, program = bert
    assert program.metadata["symbols"] == [{"name": "seq", "min": 1, "max": SEQ_MAX}]
    assert "arange" in program.graph.op_histogram()
    # position_ids[:, :seq]: a slice of a constant whose length is the call's
    assert any(n.op == "slice" and n.inputs[0].is_constant and n.outputs[0].sym for n in program.graph.nodes)


def test_one_session_matches_eager_at_every_length(bert):
    model, program = bert
    with pockettorch.load(program.to_bytes()) as m:
        for length in (1, 2, 7, 32, SEQ_MAX, 5):
            inputs = _batch(length)
            with torch.no_grad():
                want = model(*inputs)
            assert_outputs_match(want, m(*inputs), tol=1e-4)


def test_length_past_the_position_table_is_refused(bert):
    _, program = bert
    with pockettorch.load(program.to_bytes()) as m:
        with pytest.raises(errors.InputShapeError, match=f"1..{SEQ_MAX}"):
            m(*_batch(SEQ_MAX + 1))


class _Positions(torch.nn.Module):
    """Every arange form torch.export leaves dynamic: end only, start and end, a step (negative too), float and
    int32 dtypes."""

    def forward(self, x):
        n = x.shape[1]
        return (torch.arange(n) + x.long(), torch.arange(3, n + 3, dtype=torch.int32),
                torch.arange(1, 2 * n + 1, 2).float() * 0.5, torch.arange(n, dtype=torch.float32) * 0.25,
                torch.arange(0, -n, -1))


@pytest.mark.parametrize("length", [1, 6, 20])
def test_arange_forms_match_eager(length):
    program = pockettorch.export(_Positions(), (torch.zeros(1, 4),), dynamic_shapes=({1: Dim("n", min=1, max=20)},))
    assert program.graph.op_histogram()["arange"] == 5
    x = torch.randn(1, length)
    with pockettorch.load(program.to_bytes()) as m:
        assert_outputs_match(_Positions()(x), m(x), tol=0)


def test_static_arange_is_still_a_constant():
    class Static(torch.nn.Module):
        def forward(self, x):
            return x + torch.arange(5)

    program = pockettorch.export(Static(), (torch.zeros(3, 5),))
    assert "arange" not in program.graph.op_histogram()


def test_arange_from_a_dynamic_start_is_refused_at_export():
    class Shifted(torch.nn.Module):
        def forward(self, x):
            n = x.shape[0]
            return torch.arange(n, 2 * n) + x

    with pytest.raises(errors.UnsupportedOpError, match="dynamic start"):
        pockettorch.export(Shifted(), (torch.zeros(6),), dynamic_shapes=({0: Dim("n", min=2, max=30)},))
