"""The static memory plan: no two live tensors overlap, and the arena sits between the bound and the naive sum."""
import torch
from torch import nn

import pockettorch
from pockettorch.exporter.memory_plan import _lifetimes


class Chain(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(64, 256)
        self.b = nn.Linear(256, 256)
        self.c = nn.Linear(256, 64)

    def forward(self, x):
        h = torch.relu(self.a(x))
        h = self.b(h).reshape(16, 128)
        return self.c(h.reshape(8, 256)), h


def _check_plan(program):
    graph, plan = program.graph, program.plan
    first, last = _lifetimes(graph)
    arena_tensors = [t for t in graph.all_tensors() if not t.is_constant]
    buffer_of = {id(t): b for b in plan.buffers for t in b.tensors}
    for i, t in enumerate(arena_tensors):
        assert plan.offsets[id(t)] % 64 == 0
        assert plan.offsets[id(t)] + t.nbytes <= plan.arena_bytes
        for u in arena_tensors[i + 1:]:
            if buffer_of[id(t)] is buffer_of[id(u)]:
                continue  # aliases share storage by design (reshape, in-place)
            overlap_time = first[id(t)] <= last[id(u)] and first[id(u)] <= last[id(t)]
            a0, a1 = plan.offsets[id(t)], plan.offsets[id(t)] + t.nbytes
            b0, b1 = plan.offsets[id(u)], plan.offsets[id(u)] + u.nbytes
            assert not (overlap_time and a0 < b1 and b0 < a1), f"{t} and {u} overlap while both live"
    assert plan.lower_bound_bytes <= plan.arena_bytes <= plan.naive_bytes


def test_plan_is_valid_and_reported():
    program = pockettorch.export(Chain(), (torch.randn(8, 64),))
    _check_plan(program)
    assert "planned" in program.summary() and "naive sum" in program.summary()
    assert program.metadata["plan"]["arena_bytes"] == program.plan.arena_bytes


def test_reshape_shares_its_input_buffer():
    program = pockettorch.export(Chain(), (torch.randn(8, 64),))
    reshapes = [n for n in program.graph.nodes if n.op == "reshape"]
    assert reshapes, "expected a reshape in the lowered graph"
    for n in reshapes:
        assert program.plan.offsets[id(n.inputs[0])] == program.plan.offsets[id(n.outputs[0])]


def test_plan_saves_memory_on_a_deep_chain():
    layers = nn.Sequential(*[nn.Sequential(nn.Linear(128, 128), nn.ReLU()) for _ in range(12)])
    program = pockettorch.export(layers, (torch.randn(4, 128),))
    _check_plan(program)
    assert program.plan.arena_bytes <= 3 * 4 * 128 * 4  # input + two ping-pong buffers, not 13
    assert program.plan.naive_bytes >= 12 * 4 * 128 * 4


def test_identical_constants_are_stored_once():
    torch.manual_seed(0)
    # an LSTM with projections is exported as torch decomposes it: unrolled over 12 steps, the same weights feed
    # every step (GRUs and plain LSTMs are one op per layer now)
    rnn = nn.LSTM(16, 32, proj_size=8, batch_first=True)
    program = pockettorch.export(rnn, (torch.randn(1, 12, 16),))
    assert "lstm" not in program.graph.op_histogram()
    weights = sum(p.numel() * 4 for p in rnn.parameters())
    assert program.constants_bytes < 2 * weights
    assert len(program.to_bytes()) < 2 * weights + 64 * 1024
