"""Shared test helpers: export a module, run it in the C runtime, compare with eager PyTorch."""
from __future__ import annotations

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))  # tests/support.py

from support import assert_matches_eager  # noqa: E402


@pytest.fixture
def check_eager():
    """check_eager(module, inputs, tol=1e-4, threads=1) exports, runs and compares every output."""
    return assert_matches_eager
