"""Fixtures for the Android SDK tests: small exported models (an image classifier with labels, two inputs, int64
token ids, dict outputs; quantized programs: static int8, dynamic int8, int4 weight-only), their generated SDKs,
and those SDKs built with the real tools (android_support.py).

Everything expensive is session-scoped, batched and cached by content: one kotlinc call compiles every SDK plus
the host tests, one gcc call per SDK builds its JNI library.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import pathlib

import numpy as np
import pytest
import torch
from torch import nn
from torch.export import Dim

import pockettorch
from pockettorch import quant
from pockettorch.sdk_templates import render
from pockettorch.sdk_templates.android import generator
from android_support import (HERE, RUNTIME_JARS, GeneratedSdk, javac_stubs, jni_library, kotlinc, readme_snippet,
                             require_kotlin, run_java)
from support import QuantNet

# ---- the models ------------------------------------------------------------------------------------------

class TinyClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


class TwoInputs(nn.Module):
    def forward(self, a, b):
        return a + b, a * b - 1.0


class TokenEmbed(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.embed = nn.Embedding(10, 4)

    def forward(self, tokens):
        return self.embed(tokens)


class DictHeads(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(2)
        self.fc = nn.Linear(6, 3)

    def forward(self, features):
        logits = self.fc(features)
        return {"logits": logits, "class": torch.softmax(logits, dim=-1)}


class KeywordSpotter(nn.Module):
    """An LSTM and a linear head: under dynamic int8, qlstm_dynamic and qlinear_dynamic."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(5)
        self.lstm, self.fc = nn.LSTM(16, 32, batch_first=True), nn.Linear(32, 4)

    def forward(self, x):
        return self.fc(self.lstm(x)[0][:, -1])


class LinearHeavy(nn.Module):
    """Two linears and an embedding-free MLP: under weight_only(bits=4), linear_wo."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(6)
        self.fc1, self.fc2 = nn.Linear(64, 96), nn.Linear(96, 8)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


IMAGE = {"layout": "NCHW", "size": [8, 8], "channels": "RGB", "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]}
LABELS = ["cat", "dog", "bird", "fish", "frog"]


@dataclasses.dataclass(frozen=True)
class Case:
    key: str  # also the Kotlin host test's file stem and package suffix
    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    name: str
    metadata: dict
    class_name: str | None = None
    dynamic_shapes: tuple | None = None  # torch.export's form: the program takes those dims at any size in range
    quantization: object = None  # a pockettorch.quant scheme

    @property
    def package(self) -> str:
        return f"com.test.{self.key}"


def _cases() -> list[Case]:
    g = torch.Generator().manual_seed(3)
    return [
        Case("classifier", TinyClassifier(), (torch.rand(1, 3, 8, 8, generator=g),), "tiny_classifier",
             {"image": IMAGE, "labels": LABELS}),
        Case("multi", TwoInputs(), (torch.randn(1, 4, generator=g), torch.randn(1, 4, generator=g)), "two_inputs", {}),
        Case("embed", TokenEmbed(), (torch.tensor([[1, 7, 3]], dtype=torch.int64),), "token_embed", {}),
        Case("heads", DictHeads(), (torch.randn(1, 6, generator=g),), "dict_heads", {}, class_name="Heads"),
        Case("dynamic", TokenEmbed(), (torch.tensor([[1, 7, 3]], dtype=torch.int64),), "token_embed_dynamic", {},
             dynamic_shapes=({1: Dim("seq", min=1, max=6)},)),
        # quantized programs keep float32 inputs and outputs: the SDK carries them unchanged (QuantizedHost.kt)
        Case("int8", QuantNet().eval(), (torch.randn(1, 2, 6, 6, generator=g),), "int8_net", {}, class_name="Int8Net",
             quantization=quant.int8([(torch.randn(1, 2, 6, 6, generator=g),) for _ in range(4)])),
        Case("int8dyn", KeywordSpotter().eval(), (torch.randn(1, 5, 16, generator=g),), "int8_dynamic_net", {},
             class_name="Int8DynamicNet", quantization=quant.int8_dynamic()),
        Case("w4", LinearHeavy().eval(), (torch.randn(1, 64, generator=g),), "w4_net", {}, class_name="W4Net",
             quantization=quant.weight_only(bits=4, group_size=32)),
    ]


@pytest.fixture(scope="session")
def sdk_root(tmp_path_factory) -> pathlib.Path:
    return tmp_path_factory.mktemp("android-sdk")


@pytest.fixture(scope="session")
def sdks(sdk_root) -> dict[str, GeneratedSdk]:
    """Each test model exported, and its SDK generated into <root>/<key>/sdk."""
    out = {}
    for case in _cases():
        folder = sdk_root / case.key
        folder.mkdir()
        ptm = folder / f"{case.name}.ptm"
        pockettorch.export(case.module, case.inputs, name=case.name, metadata=case.metadata,
                           dynamic_shapes=case.dynamic_shapes, quantization=case.quantization).save(ptm)
        for i, t in enumerate(case.inputs):
            np.ascontiguousarray(t.numpy()).tofile(folder / f"input_{i}.bin")
        sdk = generator.generate(ptm, case.package, case.class_name)
        render.write_tree(folder / "sdk", sdk.files, generator.TARGET)
        out[case.key] = GeneratedSdk(ptm, folder / "sdk", sdk, case)
    return out


@pytest.fixture(scope="session")
def android_stubs() -> pathlib.Path:
    require_kotlin()
    return javac_stubs()


@pytest.fixture(scope="session")
def kotlin_classes(sdks, android_stubs, sdk_root) -> pathlib.Path:
    """Every generated SDK (Android-only files against the stubs), its README's example and the host tests,
    in one kotlinc call."""
    (sdk_root / "readme").mkdir()
    sources = [f for s in sdks.values() for f in s.kotlin_files] + sorted((HERE / "kotlin").glob("*.kt"))
    sources += [readme_snippet(s, sdk_root / "readme") for s in sdks.values()]
    return kotlinc(sources, [android_stubs, *RUNTIME_JARS])


@pytest.fixture(scope="session")
def jni_libraries(sdks) -> dict[str, pathlib.Path]:
    """{model key: folder of its SDK's native library built for the host (and gcc.log)}."""
    require_kotlin()
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(sdks, pool.map(jni_library, sdks.values())))


@pytest.fixture(scope="session")
def run_host_test(kotlin_classes, jni_libraries):
    """run_host_test(main_class, *args) runs a Kotlin host test main on the JVM with the JNI libraries."""
    return lambda main_class, *args: run_java(kotlin_classes, list(jni_libraries.values()), main_class, *args)
