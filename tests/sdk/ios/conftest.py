"""Test models exported once per session, and the Swift package generated for each."""
from __future__ import annotations

import pathlib

import pytest
from ios_support import MODELS, export_model

from pockettorch.sdk_templates.ios import generator


@pytest.fixture(scope="session")
def ptm_files(tmp_path_factory) -> dict[str, pathlib.Path]:
    folder = tmp_path_factory.mktemp("ios-models")
    return {key: export_model(key, folder) for key in MODELS}


@pytest.fixture(scope="session")
def packages(ptm_files, tmp_path_factory) -> dict[str, pathlib.Path]:
    """Model key -> folder of its generated Swift package."""
    root = tmp_path_factory.mktemp("ios-packages")
    out = {}
    for key, path in ptm_files.items():
        generator.generate(path, root / key)
        out[key] = root / key
    return out
