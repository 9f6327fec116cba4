"""Lowering of reductions: sum, mean, amax/amin, prod, any/all, var, norm, argmax/argmin."""
from __future__ import annotations

from pockettorch.exporter.lowering import lowers  # noqa: F401
