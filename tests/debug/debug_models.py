"""Models for the numerical debugger's tests, also loaded by the CLI as FILE.py:build (so keep it importable alone)."""
import torch
from torch import nn


class Net(nn.Module):
    """A conv + batch norm + ReLU that the exporter fuses into one instruction, then a small MLP."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.fc1 = nn.Linear(8 * 6 * 6, 32)
        self.norm = nn.LayerNorm(32)
        self.fc2 = nn.Linear(32, 5)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))  # FUSED_LINE
        h = self.fc1(y.flatten(1))
        h = self.norm(h)  # NORM_LINE
        h = h * torch.sigmoid(h)
        return torch.softmax(self.fc2(h), dim=-1)  # SOFTMAX_LINE


def build():
    torch.manual_seed(0)
    model = Net()
    with torch.no_grad():  # a batch norm that does something
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
    return model.eval(), (torch.randn(2, 3, 6, 6),)
