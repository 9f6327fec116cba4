"""Small models for the delegation tests: what the test backend (fixtures/elementwise_backend.py) takes is float32
add, mul and relu on one shape; sigmoid and tanh are the unsupported ops that stay on the CPU."""
from __future__ import annotations

import torch


class AllSupported(torch.nn.Module):
    """Every op supported: one partition."""

    def forward(self, x, y):
        a = torch.relu(x + y)
        return torch.relu(a * y + x)


class SplitBySigmoid(torch.nn.Module):
    """An unsupported op in the middle: two partitions around it, a skip connection from the first to the second."""

    def forward(self, x, y):
        a = torch.relu(x + y) * y
        s = torch.sigmoid(a)
        return torch.relu((s + a) * x), a


class Islands(torch.nn.Module):
    """Supported ops only one at a time between unsupported ones: groups of one, below min_partition_nodes."""

    def forward(self, x, y):
        a = torch.sigmoid(x + y)
        b = torch.tanh(a * x)
        return torch.sigmoid(b + y)


class Diamond(torch.nn.Module):
    """add and mul are connected directly and through sigmoid: one group would need a cycle through the CPU."""

    def forward(self, x, y):
        a = x + y
        return a * torch.sigmoid(a)


def inputs(seed: int = 0, shape=(2, 3, 8)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g), torch.randn(*shape, generator=g)
