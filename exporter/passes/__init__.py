"""Graph passes over the IR, run in order by `run_passes`. Constant folding happens during lowering
(exporter/lower.py), where torch can evaluate the ATen ops directly."""
from __future__ import annotations

from pockettorch.exporter.ir import Graph
from pockettorch.exporter.passes.dce import eliminate_dead_code
from pockettorch.exporter.passes.fold_batchnorm import fold_batchnorm
from pockettorch.exporter.passes.fuse_activation import fuse_activations
from pockettorch.exporter.passes.fuse_conv_pairs import fuse_conv_pairs
from pockettorch.exporter.passes.fuse_residual import fuse_residual_adds
from pockettorch.exporter.passes.simplify_views import simplify_views

# Residual adds after the conv pairs: a pair keeps its add (its kernels have no residual input).
PIPELINE = (eliminate_dead_code, simplify_views, fold_batchnorm, fuse_activations, fuse_conv_pairs,
            fuse_residual_adds, eliminate_dead_code)


def run_passes(graph: Graph) -> dict[str, int]:
    """Run every pass; returns how many rewrites each made (for the export summary)."""
    counts: dict[str, int] = {}
    for p in PIPELINE:
        counts[p.__name__] = counts.get(p.__name__, 0) + p(graph)
    return counts
