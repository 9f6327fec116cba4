"""The `lstm` op (one layer and direction of nn.LSTM, exported whole instead of unrolled into a few
dozen small ops per step) against eager torch, on every SIMD implementation this CPU has and on one and
two threads: one sequence (the step's GEMV) and several (the step's GEMM), batch-first or not, stacked and
bidirectional layers, no biases, given initial states, unbatched input, and all three outputs."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import pockettorch

from test_gemm import isa  # noqa: F401  (the ISA fixture)


class LSTMWithState(nn.Module):
    """Returns y and (h_n, c_n), starting from the given states."""

    def __init__(self, lstm):
        super().__init__()
        self.lstm = lstm

    def forward(self, x, h0, c0):
        return self.lstm(x, (h0, c0))


CASES = [
    # (input_size, hidden, layers, batch_first, bidirectional, bias, x shape)
    (40, 128, 2, True, False, True, (1, 32, 40)),  # the benchmark's keyword spotter
    (10, 20, 1, False, False, True, (7, 3, 10)),   # three sequences: the step is a GEMM
    (6, 8, 2, True, True, True, (2, 5, 6)),        # bidirectional: each layer reads both directions
    (5, 12, 1, True, False, False, (1, 9, 5)),     # no biases
    (4, 6, 1, False, True, True, (3, 4)),          # unbatched input (nn.LSTM adds the batch dim)
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "I{}H{}L{}bf{}bi{}b{}".format(*c[:6]))
def test_lstm_matches_eager(check_eager, isa, threads, case):
    I, H, layers, batch_first, bidirectional, bias, shape = case
    torch.manual_seed(0)
    lstm = nn.LSTM(I, H, layers, batch_first=batch_first, bidirectional=bidirectional, bias=bias)
    program = check_eager(lstm, (torch.randn(*shape),), threads=threads, tol=1e-4)
    assert program.graph.op_histogram().get("lstm") == layers * (2 if bidirectional else 1)


@pytest.mark.parametrize("threads", [1, 2])
def test_lstm_given_states(check_eager, isa, threads):
    torch.manual_seed(1)
    m = LSTMWithState(nn.LSTM(7, 9, 2, batch_first=True))
    check_eager(m, (torch.randn(2, 6, 7), torch.randn(2, 2, 9), torch.randn(2, 2, 9)), threads=threads)


def test_lstm_with_projections_is_decomposed(check_eager):
    """proj_size has no kernel of its own: those LSTMs are exported as torch decomposes them."""
    torch.manual_seed(2)
    program = check_eager(nn.LSTM(5, 8, proj_size=3, batch_first=True), (torch.randn(1, 4, 5),))
    assert "lstm" not in program.graph.op_histogram()


def test_lstm_file_holds_each_weight_once():
    torch.manual_seed(3)
    lstm = nn.LSTM(16, 32, 2, batch_first=True)
    program = pockettorch.export(lstm, (torch.randn(1, 50, 16),))
    weights = sum(p.numel() * 4 for p in lstm.parameters())
    assert program.constants_bytes <= weights  # the two biases of a layer are stored added together
