"""Models saved as TorchScript by the import tests, and the helper that saves, imports, runs and compares them."""
from __future__ import annotations

import pathlib

import torch
from torch import nn

import pockettorch
from support import assert_outputs_match


def save(module: nn.Module, inputs: tuple, path: pathlib.Path, kind: str, frozen: bool = False) -> pathlib.Path:
    """torch.jit.trace or torch.jit.script `module` (eval mode), optionally frozen, saved at `path`."""
    module = module.eval()
    ts = torch.jit.trace(module, inputs, check_trace=False) if kind == "trace" else torch.jit.script(module)
    if frozen:
        ts = torch.jit.freeze(ts)
    torch.jit.save(ts, str(path))
    return path


def import_and_compare(path, module: nn.Module, inputs: tuple, tol: float = 1e-4, **options):
    """Import the file, run the program on the C runtime, compare with the original module in eager mode."""
    with torch.no_grad():
        expected = module.eval()(*inputs)
    program = pockettorch.export(path, inputs, **options)
    with pockettorch.load(program.to_bytes()) as runtime:
        got = runtime(*inputs)
    assert_outputs_match(expected, got, tol)
    return program


class GRUTagger(nn.Module):
    """A GRU over frames, tagging every step."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(12, 16, num_layers=2, batch_first=True)
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        y, _ = self.gru(x)
        return self.head(y)


class BiLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 10, batch_first=True, bidirectional=True)

    def forward(self, x):
        y, (h, c) = self.lstm(x)
        return y, h


class DataDependentIf(nn.Module):
    """An `if` on a tensor's value (scripted: prim::If -> torch.cond). The false branch makes NaN and inf from
    inputs the true branch takes (log of negatives, division by zero)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)

    def forward(self, x):
        if x.sum() > 0:
            y = self.fc(x)
        else:
            y = torch.log(x) / (x - x)
        return y * 2


class ConstantPredicates(nn.Module):
    """`if`s decided by constants: a Python int attribute, a tensor buffer, the input's rank."""

    def __init__(self, mode: int = 1):
        super().__init__()
        self.mode = mode
        self.register_buffer("enabled", torch.tensor(0.0))
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        if self.mode == 1:
            x = self.fc(x)
        else:
            x = x - 1
        if bool(self.enabled > 0):
            x = x * 100
        if x.dim() == 2:
            x = torch.relu(x)
        return x


class ConstantLoop(nn.Module):
    """A loop over a constant range (unrolled by the converter) and one over a ModuleList."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList(nn.Linear(8, 8) for _ in range(3))

    def forward(self, x):
        for block in self.blocks:
            x = torch.tanh(block(x))
        for i in range(4):
            x = x * 0.5 + float(i)
        return x


class ShapeLoop(nn.Module):
    """A loop whose trip count is an input's size: no static unrolling exists in scripted code."""

    def forward(self, x):
        y = x
        for i in range(x.size(1)):
            y = y + x[:, i:i + 1]
        return y


class SizeArithmetic(nn.Module):
    """Shapes computed from sizes (traced: as tensors, read back as ints)."""

    def forward(self, x):
        half = x.size(0) // 2
        return x.reshape(half, x.size(1) * 2, -1).sum(-1) * x.size(2)


class SelfAttention(nn.Module):
    """nn.MultiheadAttention on its own, returning the averaged attention weights too (its fast path is scripted
    with it, dropped at import: exporter/torchscript_frontend/fast_paths.py)."""

    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(32, 4, batch_first=True)

    def forward(self, x):
        y, weights = self.attn(x, x, x)
        return y, weights


class SequenceFirstEncoder(nn.Module):
    """nn.TransformerEncoder of pre-norm GELU layers on (seq, batch, dim) inputs."""

    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(32, 4, 64, activation="gelu", norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

    def forward(self, x):
        return self.encoder(x)


class PaddedEncoderLayer(nn.Module):
    """A layer given a key padding mask: scripted, F._canonical_mask's casts are beyond the converter."""

    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)

    def forward(self, x, mask):
        return self.layer(x, src_key_padding_mask=mask)
