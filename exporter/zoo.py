"""The built-in model zoo: standard architectures defined here (torchvision does not import beside the CPU
torch on these machines), with seeded random weights. Nothing is downloaded.

    module, example_inputs, metadata = zoo.build("mobilenet_v2")
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

IMAGENET = {"image": {"layout": "NCHW", "size": [224, 224], "channels": "RGB",
                      "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}


def _randomize_batchnorm(module: nn.Module) -> None:
    """Give BatchNorms non-trivial statistics so BN folding is exercised like a trained model's."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)


def _init_like_torchvision(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
    _randomize_batchnorm(module)


# ---- mlp ----
class MLP(nn.Module):
    def __init__(self, sizes=(784, 512, 512, 10)):
        super().__init__()
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


# ---- mobilenet_v2 (Sandler et al. 2018, torchvision's layout) ----
def _make_divisible(v: float, divisor: int = 8) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class ConvBNReLU6(nn.Sequential):
    def __init__(self, cin, cout, kernel=3, stride=1, groups=1, relu=True):
        layers = [nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        if relu:
            layers.append(nn.ReLU6(inplace=True))
        super().__init__(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand_ratio):
        super().__init__()
        hidden = int(round(cin * expand_ratio))
        self.use_residual = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU6(cin, hidden, kernel=1))
        layers += [ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden), ConvBNReLU6(hidden, cout, kernel=1, relu=False)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(nn.Module):
    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))

    def __init__(self, num_classes=1000, width_mult=1.0):
        super().__init__()
        cin = _make_divisible(32 * width_mult)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult))
        features: list[nn.Module] = [ConvBNReLU6(3, cin, stride=2)]
        for t, c, n, s in self.SETTINGS:
            cout = _make_divisible(c * width_mult)
            for i in range(n):
                features.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        features.append(ConvBNReLU6(cin, self.last_channel, kernel=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(self.last_channel, num_classes))
        _init_like_torchvision(self)

    def forward(self, x):
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.classifier(x)


# ---- resnet18 (He et al. 2016, torchvision's layout) ----
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            stages.append(nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout)))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)
        _init_like_torchvision(self)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ---- transformer encoder ----
class TransformerEncoder(nn.Module):
    """4 post-norm encoder layers (d_model 256, 4 heads, feed-forward 2048), each with its own weights."""

    def __init__(self, d_model=256, nhead=4, dim_feedforward=2048, num_layers=4):
        super().__init__()
        # Separate constructions give each layer its own random weights (nn.TransformerEncoder deep-copies one layer).
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.1, batch_first=True)
            for _ in range(num_layers))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


# ---- lstm ----
class LSTMClassifier(nn.Module):
    """2-layer LSTM over a sequence of feature frames (e.g. 40 MFCCs), classifying from the last step."""

    def __init__(self, features=40, hidden=128, layers=2, classes=12):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, layers, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x):
        y, _ = self.lstm(x)
        return self.fc(y[:, -1])


KEYWORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "silence", "unknown"]


@dataclass(frozen=True)
class ZooEntry:
    name: str
    description: str
    factory: Callable[[], nn.Module]
    input_shapes: tuple[tuple[int, ...], ...]
    metadata: dict


ZOO: dict[str, ZooEntry] = {e.name: e for e in (
    ZooEntry("mlp", "MLP 784-512-512-10 (MNIST-sized)", MLP, ((1, 784),),
             {"labels": [str(d) for d in range(10)]}),
    ZooEntry("mobilenet_v2", "MobileNetV2 1.0, 224x224, 1000 classes", MobileNetV2, ((1, 3, 224, 224),), IMAGENET),
    ZooEntry("resnet18", "ResNet-18, 224x224, 1000 classes", ResNet18, ((1, 3, 224, 224),), IMAGENET),
    ZooEntry("transformer_encoder", "Transformer encoder, 4 layers, d_model 256, 4 heads, ff 2048, seq 128",
             TransformerEncoder, ((1, 128, 256),), {}),
    ZooEntry("lstm", "2-layer LSTM classifier (40 features x 32 frames, hidden 128, 12 keywords)", LSTMClassifier,
             ((1, 32, 40),), {"labels": KEYWORDS}),
)}


def build(name: str, seed: int = 0) -> tuple[nn.Module, tuple[torch.Tensor, ...], dict]:
    """(module in eval mode, example inputs, metadata) for a zoo model, deterministic for a seed."""
    if name not in ZOO:
        raise KeyError(f"unknown zoo model {name!r}; available: {', '.join(ZOO)}")
    entry = ZOO[name]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = entry.factory().eval()
        inputs = tuple(torch.randn(shape) for shape in entry.input_shapes)
    return module, inputs, dict(entry.metadata)
