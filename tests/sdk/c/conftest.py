"""Fixtures of the C SDK tests: the models, exported once per session (see c_sdk_support.py)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import pockettorch
from c_sdk_support import Model, quantization, specs


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Model]:
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("c_sdk_models")
    out = {}
    for name, (module, example) in specs().items():
        module.eval()
        path = root / f"{name}.ptm"
        pockettorch.export(module, example, name=name, quantization=quantization(name)).save(path)
        arrays = [t.numpy() for t in example]
        files = []
        for i, a in enumerate(arrays):
            files.append(root / f"{name}_in{i}.npy")
            np.save(files[-1], a)
        expected = pockettorch.load(path).run_numpy(arrays)
        out[name] = Model(name, path, tuple(files), tuple(expected))
    return out


