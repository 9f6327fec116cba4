"""Lowering of the remaining ATen ops: fill, cumsum, flip, triangular, interpolate, attention helpers."""
from __future__ import annotations

from pockettorch.exporter.lowering import lowers  # noqa: F401
