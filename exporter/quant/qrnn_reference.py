"""The dynamic int8 LSTM/GRU in torch: what the runtime's qlstm_dynamic / qgru_dynamic compute, written as
torch.ao.nn.quantized.dynamic.LSTM/GRU do it (int8 weights, activations quantized at run time, float gates and
state), with PocketTorch's choices: weights int8 symmetric per output row (int8_flow.quantize_weight, torchao's
observer) and activations int8 per row (report.dynamic_rows, the qlinear_dynamic reference).

quant_report() compares these with the float module; the tests compare the runtime with them.
"""
from __future__ import annotations

import torch
from torch import nn


def _weight(w: torch.Tensor) -> torch.Tensor:
    from pockettorch.exporter.quant.int8_flow import quantize_weight

    q, s = quantize_weight(w.detach().numpy())
    return torch.from_numpy(q).float() * torch.from_numpy(s)[:, None]


def _project(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    from pockettorch.exporter.quant.report import dynamic_rows

    return torch.nn.functional.linear(dynamic_rows(x), w, b)


def _direction(mod, k: int, x: torch.Tensor, state: list[torch.Tensor], reverse: bool):
    """One layer and direction (x [T, B, I]) of `mod`: y [T, B, H] and the final states."""
    sfx = f"_l{k // (2 if mod.bidirectional else 1)}" + ("_reverse" if reverse else "")
    w_ih, w_hh = _weight(getattr(mod, "weight_ih" + sfx)), _weight(getattr(mod, "weight_hh" + sfx))
    b_ih = getattr(mod, "bias_ih" + sfx) if mod.bias else None
    b_hh = getattr(mod, "bias_hh" + sfx) if mod.bias else None
    T, B = x.shape[0], x.shape[1]
    proj = _project(x.reshape(T * B, -1), w_ih, b_ih).reshape(T, B, -1)
    h = state[0]
    c = state[1] if len(state) > 1 else None
    ys = [None] * T
    for t in (reversed(range(T)) if reverse else range(T)):
        hp = _project(h, w_hh, b_hh)
        if c is not None:  # LSTM: i, f, g, o
            i, f, g, o = (proj[t] + hp).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        else:  # GRU: r, z, n (b_hn inside the reset gate's product)
            xr, xz, xn = proj[t].chunk(3, 1)
            hr, hz, hn = hp.chunk(3, 1)
            r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            h = (1 - z) * n + z * h
        ys[t] = h
    return torch.stack(ys), [h] if c is None else [h, c]


@torch.no_grad()
def dynamic_recurrent(mod: nn.LSTM | nn.GRU, x: torch.Tensor, hx=None):
    """mod(x, hx) with int8 weights and per-row int8 activations; same outputs as the module (batched input)."""
    lstm = isinstance(mod, nn.LSTM)
    if mod.batch_first:
        x = x.transpose(0, 1)
    dirs = 2 if mod.bidirectional else 1
    zeros = x.new_zeros(mod.num_layers * dirs, x.shape[1], mod.hidden_size)
    states = list(hx) if lstm and hx is not None else [hx] if hx is not None else [zeros]
    if lstm and hx is None:
        states = [zeros, zeros.clone()]
    finals = [[] for _ in states]
    for layer in range(mod.num_layers):
        outs = []
        for d in range(dirs):
            k = layer * dirs + d
            y, last = _direction(mod, k, x, [s[k] for s in states], bool(d))
            outs.append(y)
            for f, s in zip(finals, last):
                f.append(s)
        x = torch.cat(outs, 2) if dirs == 2 else outs[0]
    y = x.transpose(0, 1) if mod.batch_first else x
    final = [torch.stack(f) for f in finals]
    return (y, tuple(final)) if lstm else (y, final[0])
