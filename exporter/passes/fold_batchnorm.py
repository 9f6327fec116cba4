"""Fold inference BatchNorm into the preceding conv2d / linear when both have constant parameters."""
from __future__ import annotations

import numpy as np

from pockettorch.exporter.ir import Graph
from pockettorch.exporter.passes.producer import absorb, fusable_producer
from pockettorch.runtime.op_table import enum_value

NO_ACT = enum_value("ACT", "NONE")


def fold_batchnorm(graph: Graph) -> int:
    users = graph.consumers()
    outputs = {id(t) for t in graph.outputs}
    folded = 0
    for bn in list(graph.nodes):
        if bn.op != "batch_norm":
            continue
        x, mean, var, gamma, beta = bn.inputs
        # through a reshape only if it keeps the channel axis (conv1d's [N, C, 1, L] -> [N, C, L])
        prev, reshape = fusable_producer(graph, x, {"conv2d", "linear"}, users, outputs,
                                         lambda r: r.inputs[0].shape[:2] == r.outputs[0].shape[:2])
        if (prev is None or prev.params.get("act", NO_ACT) != NO_ACT
                or not all(t.is_constant for t in prev.inputs[1:] + bn.inputs[1:])):
            continue
        if prev.op == "linear" and len(prev.outputs[0].shape) != 2:
            continue  # BatchNorm1d over [N, C, L] normalizes dim 1, not the linear's features
        scale = gamma.data.astype(np.float64) / np.sqrt(var.data.astype(np.float64) + bn.params["eps"])
        w = prev.inputs[1].data.astype(np.float64)
        b = prev.inputs[2].data.astype(np.float64) if len(prev.inputs) == 3 else np.zeros(w.shape[0])
        w = w * scale.reshape((-1,) + (1,) * (w.ndim - 1))
        b = (b - mean.data) * scale + beta.data
        prev.inputs = [prev.inputs[0], graph.constant(w, prev.inputs[1].name + "_bn", "float32"),
                       graph.constant(b, prev.op + "_bias_bn", "float32")]
        absorb(prev, reshape, bn, graph)
        folded += 1
    return folded
