"""Lowering of sequence ops: cumsum, cumprod, flip, tril / triu and LSTM / GRU layers (kept undecomposed by capture)."""
from __future__ import annotations

import numpy as np

from pockettorch.exporter.lower import torch_dtype_name
from pockettorch.exporter.lowering import lowers
from pockettorch.exporter.lowering.common import aten_name, call_arg, norm_dim
from pockettorch.exporter.lowering.shape import _slice
from pockettorch.runtime import error_catalogue as errors

CUMULATIVE_DTYPES = ("float32", "int64", "int32")


@lowers("cumsum")
@lowers("cumprod")
def lower_cumulative(ctx, node):
    """cumsum / cumprod: the op-table entry is named as the ATen op."""
    op = aten_name(node.target)
    out_dtype = torch_dtype_name(ctx.meta(node).dtype)
    if out_dtype not in CUMULATIVE_DTYPES:
        raise errors.UnsupportedOpError(f"{op} producing {out_dtype}; supported: {', '.join(CUMULATIVE_DTYPES)}")
    x = ctx.tensor(node.args[0], out_dtype)  # torch promotes bool / small ints to int64 first
    return ctx.unary(op, x, axis=norm_dim(int(call_arg(node, 1, "dim", 0)), len(x.shape)))


@lowers("flip")
def lower_flip(ctx, node):
    x = ctx.tensor(node.args[0])
    rank = len(x.shape)
    axes = sorted({norm_dim(int(d), rank) for d in node.args[1]})
    if rank == 0:
        axes = []
    axes = [a for a in axes if x.shape[a] > 1]  # flipping a size-1 dim changes nothing
    return ctx.unary("flip", x, axes=axes)


@lowers("triangular")
def lower_triangular(ctx, node):
    x = ctx.tensor(node.args[0])
    if len(x.shape) < 2:
        raise errors.UnsupportedOpError(f"{node.target} needs a tensor of rank >= 2, got rank {len(x.shape)}")
    diagonal = node.args[1] if len(node.args) > 1 else node.kwargs.get("diagonal", 0)
    return ctx.unary("triangular", x, upper=int(aten_name(node.target) == "triu"), diagonal=int(diagonal))


@lowers("lstm")
def lower_lstm(ctx, node):
    """One `lstm` op per layer and direction (b_ih + b_hh folded into one bias)."""
    return _lower_recurrent(ctx, node, "lstm", 4, list(node.args[1]))


@lowers("gru")
def lower_gru(ctx, node):
    """One `gru` op per layer and direction (b_ih and b_hh kept apart: b_hn is scaled by the reset gate)."""
    return _lower_recurrent(ctx, node, "gru", 3, [node.args[1]])


def _lower_recurrent(ctx, node, op: str, gates: int, hx: list):
    """aten.lstm.input / aten.gru.input -> one `op` per layer and direction; a bidirectional layer's two outputs
    are concatenated. Returns [output, final state per hx entry (layers * directions stacked)]."""
    x_arg, _, params, has_biases, layers, dropout, train, bidirectional, batch_first = node.args
    name = op.upper()
    if train and dropout:
        raise errors.UnsupportedOpError(f"{name} with dropout in training mode (call model.eval())")
    dirs, per = (2 if bidirectional else 1), (4 if has_biases else 2)
    if len(params) != layers * dirs * per:
        raise errors.UnsupportedOpError(f"{name} with {len(params)} weights for {layers} layer(s) x {dirs} "
                                        f"direction(s); projections (proj_size) are not supported")
    x = ctx.tensor(x_arg, "float32")
    states_all = [ctx.tensor(t, "float32") for t in hx]
    if len(x.shape) != 3 or len(states_all[0].shape) != 3:
        raise errors.UnsupportedOpError(f"{name} input of rank {len(x.shape)}; expected a batched sequence")
    batch, hidden = states_all[0].shape[1], states_all[0].shape[2]
    lead = (batch, x.shape[1]) if batch_first else (x.shape[0], batch)  # the output's dims before the features
    layer_in, finals = x, [[] for _ in states_all]
    for layer in range(layers):
        outs = []
        for d in range(dirs):
            k = layer * dirs + d
            w_ih, w_hh = (ctx.tensor(p, "float32") for p in params[k * per:k * per + 2])
            biases = [ctx.tensor(p, "float32") for p in params[k * per + 2:k * per + 4]] if has_biases else []
            if not all(t.is_constant for t in [w_ih, w_hh, *biases]):
                raise errors.UnsupportedOpError(f"{name} weights computed by the model; they must be parameters")
            zeros = np.zeros(gates * hidden, np.float32)
            if op == "lstm":
                bias = biases[0].data + biases[1].data if biases else zeros
                biases = [ctx.graph.constant(bias, f"{node.name}_b{k}", "float32")]
            elif not biases:
                biases = [ctx.graph.constant(zeros, f"{node.name}_b{k}_{tag}", "float32") for tag in ("ih", "hh")]
            state = []
            for i, t in enumerate(states_all):
                one = ctx.graph.tensor(f"{node.name}_s{i}_{k}", "float32", (1, batch, hidden))
                state.append(ctx.reshape(_slice(ctx, t, 0, k, 1, one), (batch, hidden)))
            y = ctx.graph.tensor(f"{node.name}_y{k}", "float32", lead + (hidden,))
            last = [ctx.graph.tensor(f"{node.name}_s{i}n{k}", "float32", (batch, hidden)) for i in range(len(state))]
            ctx.emit(op, [layer_in, *state, w_ih, w_hh, *biases], [y, *last], batch_first=int(bool(batch_first)),
                     reverse=d)
            outs.append(y)
            for i, t in enumerate(last):
                finals[i].append(ctx.reshape(t, (1, batch, hidden)))
        if dirs == 1:
            layer_in = outs[0]
        else:
            layer_in = ctx.graph.tensor(f"{node.name}_out{layer}", "float32", lead + (2 * hidden,))
            ctx.emit("concat", outs, [layer_in], axis=2)
    return [layer_in, *(_stack(ctx, parts, f"{node.name}_s{i}n") for i, parts in enumerate(finals))]


def _stack(ctx, parts, name):
    if len(parts) == 1:
        return parts[0]
    out = ctx.graph.tensor(name, "float32", (len(parts),) + parts[0].shape[1:])
    ctx.emit("concat", parts, [out], axis=0)
    return out
