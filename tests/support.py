"""Export -> C runtime -> compare against eager, used by per-op and model tests."""
from __future__ import annotations

import torch
from torch.utils import _pytree as pytree

import pockettorch


def run_in_runtime(module: torch.nn.Module, inputs: tuple, threads: int = 1, **export_kwargs):
    """Export `module`, load the bytes into the C runtime, run it; returns (runtime output, program)."""
    program = pockettorch.export(module, inputs, **export_kwargs)
    runtime = pockettorch.load(program.to_bytes(), num_threads=threads)
    return runtime(*inputs), program


def assert_matches_eager(module: torch.nn.Module, inputs: tuple, tol: float = 1e-4, threads: int = 1,
                         **export_kwargs):
    """Outputs match eager within `tol` relative to each output's max magnitude; exact for ints/bools."""
    module = module.eval()
    with torch.no_grad():
        expected = module(*inputs)
    got, program = run_in_runtime(module, inputs, threads=threads, **export_kwargs)
    assert_outputs_match(expected, got, tol)
    return program


def assert_outputs_match(expected, got, tol: float = 1e-4) -> None:
    """Same structure, shapes and dtypes; NaN and inf exactly where eager has them; the rest within `tol`."""
    if isinstance(expected, tuple):
        expected = tuple(expected)  # torch.return_types named tuples come back as plain tuples
    exp_leaves, exp_spec = pytree.tree_flatten(expected)
    got_leaves, got_spec = pytree.tree_flatten(got)
    assert exp_spec == got_spec, f"output structure {got_spec} != eager {exp_spec}"
    for i, (e, g) in enumerate(zip(exp_leaves, got_leaves)):
        assert tuple(g.shape) == tuple(e.shape), f"output {i}: shape {tuple(g.shape)} != {tuple(e.shape)}"
        assert g.dtype == e.dtype, f"output {i}: dtype {g.dtype} != {e.dtype}"
        if e.dtype.is_floating_point:
            nan = e.isnan()
            assert torch.equal(nan, g.isnan()), f"output {i}: NaN positions differ"
            e, g = e[~nan], g[~nan]
            inf = e.isinf()
            assert torch.equal(g[inf], e[inf]), f"output {i}: infinities differ"
            e, g = e[~inf], g[~inf]
            scale = max(float(e.abs().max()), 1e-6) if e.numel() else 1.0
            err = float((g - e).abs().max()) if e.numel() else 0.0
            assert err <= tol * scale, f"output {i}: max error {err:.3g} > {tol} x max|eager| {scale:.3g}"
        else:
            assert torch.equal(g, e), f"output {i}: {g} != {e}"


def bytes_with_params(program, op: str, params: dict) -> bytes:
    """The program serialized with `params` overriding those of its first `op` node (the program is left as it was):
    how tests hand the loader hostile parameters the exporter itself would never write."""
    node = next(n for n in program.graph.nodes if n.op == op)
    saved = dict(node.params)
    try:
        node.params.update(params)
        program._bytes = None
        return program.to_bytes()
    finally:
        node.params.clear()
        node.params.update(saved)
        program._bytes = None


class ThreadsMLP(torch.nn.Module):
    """The concurrency tests' model: matmuls big enough to use a 2-thread pool and for unserialized calls on
    one session to overlap, input 'x' [32, 64] -> [32, 16]."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.net = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.Tanh(), nn.Linear(256, 16))

    def forward(self, x):
        return self.net(x)


class DynamicTokens(torch.nn.Module):
    """The dynamic-length tests' model (runner, C SDK): [1, seq, 8] tokens with a [1, seq] padding mask -> attention
    over the tokens, then a projection to [1, seq, 3]."""

    def __init__(self):
        super().__init__()
        self.attn = torch.nn.MultiheadAttention(8, 2, batch_first=True)
        self.out = torch.nn.Linear(8, 3)

    def forward(self, x, mask):
        y, _ = self.attn(x, x, x, key_padding_mask=mask, need_weights=False)
        return self.out(y)


def export_dynamic_tokens(path, max_len: int, seed: int) -> DynamicTokens:
    """A DynamicTokens with weights from `seed`, saved to `path` with the length of both inputs dynamic
    (Dim seq, 1..max_len); returns the model (eval mode) for eager references."""
    torch.manual_seed(seed)
    model = DynamicTokens().eval()
    seq = torch.export.Dim("seq", min=1, max=max_len)
    example = (torch.randn(1, 6, 8), torch.zeros(1, 6, dtype=torch.bool))
    pockettorch.export(model, example, dynamic_shapes=({1: seq}, {1: seq})).save(path)
    return model


class QuantConvNet(torch.nn.Module):
    """The int8 conv kernels' paths: depthwise 3x3 stride 1 and 2, 5x5 stride 2, dilated (compute/qdw), 1x1 read in
    place, strided 1x1, dense and grouped 3x3 (the GEMM with per-call packing), on sizes that leave vector tails."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        c = 8
        self.pw = torch.nn.Conv2d(3, c, 1)
        self.dws = torch.nn.ModuleList([torch.nn.Conv2d(c, c, 3, 1, 1, groups=c), torch.nn.Conv2d(c, c, 3, 2, 1, groups=c),
                                        torch.nn.Conv2d(c, c, 5, 2, 2, groups=c),
                                        torch.nn.Conv2d(c, c, 3, 1, 2, dilation=2, groups=c)])
        self.dense = torch.nn.Conv2d(c, 12, 3, 2, 1)
        self.grouped = torch.nn.Conv2d(12, 12, 3, 1, 1, groups=3)
        self.down = torch.nn.Conv2d(12, 4, 1, 2)

    def forward(self, x):
        y = torch.nn.functional.relu6(self.pw(x))
        y = torch.nn.functional.relu6(self.dws[1](self.dws[0](y)))
        z = self.dws[3](self.dws[2](y))
        y = self.down(torch.relu(self.grouped(self.dense(y))))
        return torch.cat([y.flatten(1), z.flatten(1)], 1)


class QuantNet(torch.nn.Module):
    """Every int8 op: conv (dense and depthwise), pools, add, concat, a lookup table, linear and matmul."""

    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(2, 4, 3, padding=1)
        self.dw = torch.nn.Conv2d(4, 4, 3, padding=1, groups=4)
        self.fc = torch.nn.Linear(4, 4)

    def forward(self, x):
        a = torch.relu(self.c1(x))
        b = torch.sigmoid(self.dw(a) + a)
        c = torch.cat([torch.nn.functional.max_pool2d(b, 2), torch.nn.functional.avg_pool2d(a, 2)], 1)
        h = self.fc(torch.nn.functional.adaptive_avg_pool2d(c, 1).flatten(1).reshape(2, 4))
        return torch.matmul(h, h.t())


class QuantRecurrent(torch.nn.Module):
    """Every shape of the dynamic int8 recurrent kernels (qlstm_dynamic, qgru_dynamic): several sequences
    (batch_first, stacked, bidirectional; the step's GEMM with the projection added after) and one sequence
    (seq-first; the projection row as the step's bias), with and without biases, an initial state given or zero."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(4)
        self.lstm_b = torch.nn.LSTM(12, 20, 2, batch_first=True, bidirectional=True)
        self.lstm_1 = torch.nn.LSTM(12, 24, bias=False)
        self.gru_b = torch.nn.GRU(12, 18, 2, batch_first=True, bidirectional=True)
        self.gru_1 = torch.nn.GRU(12, 16)

    def forward(self, x, s, h0, c0):
        return self.lstm_b(x), self.lstm_1(s, (h0, c0)), self.gru_b(x), self.gru_1(s)

    @staticmethod
    def inputs() -> tuple:
        g = torch.Generator().manual_seed(1)
        return (torch.randn(3, 7, 12, generator=g), torch.randn(9, 1, 12, generator=g) * 2,
                torch.randn(1, 1, 24, generator=g) * 0.5, torch.randn(1, 1, 24, generator=g) * 0.5)


class QuantRecurrentReference(torch.nn.Module):
    """QuantRecurrent's forward with its layers as dynamic int8 computes them (exporter/quant/qrnn_reference.py)."""

    def __init__(self, m: QuantRecurrent):
        super().__init__()
        self.m = m

    def forward(self, x, s, h0, c0):
        from pockettorch.exporter.quant.qrnn_reference import dynamic_recurrent

        m = self.m
        return (dynamic_recurrent(m.lstm_b, x), dynamic_recurrent(m.lstm_1, s, (h0, c0)),
                dynamic_recurrent(m.gru_b, x), dynamic_recurrent(m.gru_1, s))
