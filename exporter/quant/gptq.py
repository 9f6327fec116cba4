"""GPTQ (Frantar et al. 2022, arXiv:2210.17323) for the weight-only format: symmetric int groups with float scales.

Round-to-nearest rounds every weight on its own; GPTQ rounds the columns (input features) of a linear one by one
and moves each column's rounding error onto the columns not yet rounded, weighted by the inverse of the layer's
input Hessian H = X^T X (X: the layer's inputs on calibration data). That minimises ||X W^T - X Wq^T|| rather than
||W - Wq||. A group's scale is round-to-nearest's (torchao's symmetric choose_qparams_affine of the float
weights), so the result is stored in exactly the format round-to-nearest produces and the loader and kernels see
no difference.

torchao 0.18 has GPTQ (torchao.prototype.gptq) but it runs on CUDA only and produces its Int4Tensor (asymmetric,
zero points, tinygemm layout), not symmetric groups; hence this file, which follows the paper's Algorithm 1 with
its lazy block updates and its reference implementation's damping.
"""
from __future__ import annotations

import torch

from pockettorch.exporter.quant.wo_rewrite import QRANGE, group_scales

DAMP = 0.1  # of the mean of H's diagonal, added to its diagonal (see gptq_quantize)
BLOCK = 64  # columns updated one by one before the later columns get the block's errors in one product


def gptq_quantize(w: torch.Tensor, hessian: torch.Tensor, bits: int, group_size: int,
                  damp: float = DAMP) -> tuple[torch.Tensor, torch.Tensor]:
    """(q int8 [N, K] in the bits' range, scales float32 [N, K / group_size]) of w [N, K] given H [K, K].

    Dequantized (q * scale), the result is what the runtime computes with, as for quantize_weight. Columns go in
    descending order of H's diagonal (the paper's act-order: the features with the largest inputs first, so
    the others can absorb their error), with each group's scale fixed beforehand from the float weights
    (round-to-nearest's scale; "static groups"), so groups stay contiguous in K as the format stores them.
    The damping is 10% of the mean diagonal rather than the paper's 1%: with a few thousand calibration rows
    (a few sentences) 1% fits the calibration inputs and generalises worse (measured on all-MiniLM-L6-v2)."""
    qmin, qmax = QRANGE[bits]
    n, k = w.shape
    W = w.detach().to(torch.float32).clone()
    H = hessian.detach().to(torch.float64).clone()
    dead = torch.diagonal(H) == 0  # features never seen non-zero: their weights cannot matter
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    scales = group_scales(w, bits, group_size)  # of the original weights, dead features included
    order = torch.argsort(torch.diagonal(H), descending=True, stable=True)
    H = H[order][:, order]
    H += torch.eye(k, dtype=H.dtype) * (damp * torch.diagonal(H).mean())
    # The upper Cholesky factor of H^-1: row i holds how the columns after i absorb column i's rounding error.
    Hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True).to(torch.float32)

    Wt = W[:, order].T.contiguous()  # [K, N] in act order: a column of W is a contiguous row here
    St = scales.repeat_interleave(group_size, dim=1)[:, order].T.contiguous()  # each column's group scale
    q = torch.zeros(k, n, dtype=torch.int8)
    for b0 in range(0, k, BLOCK):
        b1 = min(b0 + BLOCK, k)
        block, Hb = Wt[b0:b1], Hinv[b0:b1, b0:b1]
        err = torch.empty_like(block)
        for i in range(b1 - b0):
            qi = torch.clamp(torch.round(block[i] / St[b0 + i]), qmin, qmax)
            q[b0 + i] = qi.to(torch.int8)
            err[i] = (block[i] - qi * St[b0 + i]) / Hb[i, i]
            block[i + 1:].addr_(Hb[i, i + 1:], err[i], alpha=-1.0)
        if b1 < k:
            Wt[b1:].addmm_(Hinv[b0:b1, b1:].T, err, alpha=-1.0)
    out = torch.empty_like(q)
    out[order] = q
    return out.T.contiguous(), scales


class HessianAccumulator:
    """X^T X over every row of a layer's inputs (the leading dims flattened), and the number of rows (-1: a value
    that cannot be the layer's input was seen)."""

    def __init__(self, features: int):
        self._h = torch.zeros(features, features, dtype=torch.float32)  # float32: ample for tens of batches
        self.rows = 0

    def add(self, x: torch.Tensor) -> None:
        if x.dim() == 0 or x.shape[-1] != self._h.shape[0] or not x.is_floating_point():
            self.rows = -1  # not the layer's input after all: the layer falls back to round-to-nearest
        if self.rows < 0:
            return
        x = x.detach().reshape(-1, x.shape[-1]).to(torch.float32)
        x = x[torch.isfinite(x).all(dim=1)]  # a NaN row would poison H; the kernels treat it as eager does
        self._h.addmm_(x.T, x)
        self.rows += x.shape[0]

    @property
    def h(self) -> torch.Tensor:
        return self._h.to(torch.float64)
