"""LSTM / GRU -> one lstm / gru op per direction (PyTorch's gate order; weights reordered at import)."""
from __future__ import annotations

import numpy as np

from pockettorch.exporter.onnx_frontend.registry import handles

# Gate blocks in PyTorch's order, as indices of ONNX's: LSTM i,f,g,o from i,o,f,c; GRU r,z,n from z,r,h.
LSTM_ORDER, GRU_ORDER = [0, 2, 3, 1], [1, 0, 2]


def _gates(w: np.ndarray, order: list[int]) -> np.ndarray:
    blocks = np.split(w, len(order), axis=0)
    return np.ascontiguousarray(np.concatenate([blocks[k] for k in order], axis=0), dtype=np.float32)


def _check(ctx, seq_len: int):
    if ctx.attr("activations") is not None or ctx.attr("clip") is not None or ctx.attr("input_forget", 0):
        raise ctx.unsupported("custom activations, clip and input_forget are not supported (PyTorch's cell only)")
    if ctx.has(4):
        lens = ctx.const(4)
        if lens is None or not np.all(lens == seq_len):
            raise ctx.unsupported("sequence_lens shorter than the sequence is not supported")
    for i in (1, 2):
        if ctx.const(i) is None:
            raise ctx.unsupported(f"weights (input {i}) computed at run time are not supported")


def _initial(ctx, i: int, d: int, batch: int, hidden: int, layout: int, name: str):
    t = ctx.input(i, "float32")
    if t is None:
        return ctx.constant(np.zeros((batch, hidden), np.float32), name)
    if t.is_constant:
        return ctx.constant(np.ascontiguousarray(t.data[d] if layout == 0 else t.data[:, d]), name, "float32")
    part = ctx.op("slice", [t], "float32", (1, batch, hidden) if layout == 0 else (batch, 1, hidden), 0,
                  f"_{name}{d}", axis=layout, start=d, step=1)
    return ctx.reshape(part, (batch, hidden), f"_{name}{d}v")


def _stack(ctx, parts: list, axis: int, index: int):
    """Per-direction results with a new dim 1 at `axis`, concatenated along it (the node's output `index`)."""
    views = []
    for k, p in enumerate(parts):
        shape = list(p.shape)
        shape.insert(axis, 1)
        views.append(ctx.reshape(p, shape, f"_d{k}", index))
    shape = list(views[0].shape)
    shape[axis] = len(views)
    if len(views) == 1:
        return ctx.op("reshape", [parts[0]], "float32", shape, index)
    return ctx.op("concat", views, "float32", shape, index, axis=axis)


@handles("LSTM", "GRU", notes={"LSTM": "forward/reverse/bidirectional, layout 0/1, initial states; no peepholes",
                               "GRU": "forward/reverse/bidirectional, layout 0/1, initial state; "
                                      "linear_before_reset=1 (PyTorch's)"})
def lower_rnn(ctx, node):
    lstm = node.op_type == "LSTM"
    x = ctx.input(0, "float32")
    layout = int(ctx.attr("layout", 0))
    seq, batch = (x.shape[0], x.shape[1]) if layout == 0 else (x.shape[1], x.shape[0])
    hidden = int(ctx.attr("hidden_size"))
    _check(ctx, seq)
    if lstm and ctx.has(7) and np.any(ctx.const(7) if ctx.const(7) is not None else 1):
        raise ctx.unsupported("peephole weights are not supported")
    if not lstm and not ctx.attr("linear_before_reset", 0):
        raise ctx.unsupported("linear_before_reset=0 is not supported (PyTorch's GRU applies the reset gate after "
                              "the hidden linear)")
    direction = ctx.attr("direction", "forward")
    dirs = 2 if direction == "bidirectional" else 1
    w, r = ctx.const(1), ctx.const(2)
    b = ctx.const(3) if ctx.has(3) else None
    order = LSTM_ORDER if lstm else GRU_ORDER
    g = len(order) * hidden
    ys, hs, cs = [], [], []
    for d in range(dirs):
        reverse = int(direction == "reverse" or d == 1)
        bias = np.zeros(2 * g, np.float32) if b is None else b[d]
        w_ih, w_hh = ctx.constant(_gates(w[d], order), "w_ih"), ctx.constant(_gates(r[d], order), "w_hh")
        b_ih, b_hh = _gates(bias[:g], order), _gates(bias[g:], order)
        h0 = _initial(ctx, 5, d, batch, hidden, layout, "h0")
        y_shape = (x.shape[0], x.shape[1], hidden)
        y = ctx.new("float32", y_shape, 0, f"_y{d}")
        h = ctx.new("float32", (batch, hidden), 1, f"_h{d}")
        if lstm:
            c0 = _initial(ctx, 6, d, batch, hidden, layout, "c0")
            c = ctx.new("float32", (batch, hidden), 2, f"_c{d}")
            ctx.emit("lstm", [x, h0, c0, w_ih, w_hh, ctx.constant(b_ih + b_hh, "bias")], [y, h, c],
                     batch_first=layout, reverse=reverse)
            cs.append(c)
        else:
            ctx.emit("gru", [x, h0, w_ih, w_hh, ctx.constant(b_ih, "b_ih"), ctx.constant(b_hh, "b_hh")], [y, h],
                     batch_first=layout, reverse=reverse)
        ys.append(y)
        hs.append(h)
    outs = [_stack(ctx, ys, 1 if layout == 0 else 2, 0) if node.output[0] else None,
            _stack(ctx, hs, layout, 1) if len(node.output) > 1 and node.output[1] else None]
    if lstm:
        outs.append(_stack(ctx, cs, layout, 2) if len(node.output) > 2 and node.output[2] else None)
    return outs
