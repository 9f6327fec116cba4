"""Cross-built runners (runtime/cross.py) for arm64-v8a, armeabi-v7a and 32-bit x86, run under qemu-user
(or natively where the host can), against eager PyTorch on a table of small models that together use every
op in the op table. Tier 2 (DESIGN.md): needs `ziglang` and qemu-user-static, skips with the reason otherwise.

Each ABI's runner is built once per session (cached by source hash in the build cache, zig's own cache
beside it); the models are exported once on the host and run by every runner with --input .npy files
and --output-dir."""
from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import pathlib
import struct
import subprocess

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils import _pytree as pytree

import pockettorch
from pockettorch import quant
from pockettorch.runtime import cross, manifest
from pockettorch.runtime.op_table import OPS
from support import QuantConvNet, QuantNet, QuantRecurrent, QuantRecurrentReference
from support_tools import BUILD_DIR

pytestmark = pytest.mark.slow

CROSS_ABIS = ("arm64-v8a", "armeabi-v7a", "x86", "x86_64")
EXPECTED_ISA = {"arm64-v8a": "neon", "armeabi-v7a": "neon", "x86": "portable", "x86_64": None}  # None: as the host
ELF_MACHINE = {"arm64-v8a": (2, 183), "armeabi-v7a": (1, 40), "x86": (1, 3), "x86_64": (2, 62)}  # (EI_CLASS, e_machine)
RUN_TIMEOUT = 120


# ---- the model table -------------------------------------------------------------------------------------

def rnd(*shape, seed=0, lo=-1.0, hi=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g) * (hi - lo) + lo


def ints(*shape, seed=0, lo=0, hi=10, dtype=torch.int64):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(lo, hi, shape, generator=g, dtype=dtype)


class Fn(nn.Module):
    def __init__(self, fn, **params):
        super().__init__()
        self.fn = fn
        for k, v in params.items():
            setattr(self, k, nn.Parameter(v, requires_grad=False) if v.is_floating_point() else v)

    def forward(self, *xs):
        return self.fn(self, *xs)


def _bn(c, seed):
    bn = nn.BatchNorm2d(c)
    bn.running_mean.copy_(rnd(c, seed=seed, lo=-0.5, hi=0.5))
    bn.running_var.copy_(rnd(c, seed=seed + 1, lo=0.5, hi=2.0))
    bn.weight.data.copy_(rnd(c, seed=seed + 2, lo=0.5, hi=1.5))
    bn.bias.data.copy_(rnd(c, seed=seed + 3))
    return bn


class ConvNet(nn.Module):
    """conv2d (dense, depthwise, strided, dilated, conv1d) with BN/activation fusion, standalone batch norm,
    conv_transpose2d, max/avg/adaptive pools, group norm."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.bn_in = _bn(3, 10)  # on the input: stays a batch_norm instruction
        self.conv = nn.Conv2d(3, 10, 3, padding=1)
        self.bn = _bn(10, 20)
        self.dw = nn.Conv2d(10, 10, 3, stride=2, padding=1, groups=10)
        self.dil = nn.Conv2d(10, 7, 3, dilation=2, padding=2, bias=False)
        self.up = nn.ConvTranspose2d(7, 5, 3, stride=2, padding=1, output_padding=1)
        self.gn = nn.GroupNorm(5, 5)
        self.c1 = nn.Conv1d(4, 6, 5, stride=2, padding=2)

    def forward(self, x, s):
        h = F.relu6(self.bn(self.conv(self.bn_in(x))))
        d = F.hardswish(self.dw(h))
        e = self.dil(d)
        u = self.gn(self.up(e))
        return (u, F.max_pool2d(h, 3, stride=2, padding=1, ceil_mode=True), F.avg_pool2d(h, 2),
                F.avg_pool2d(h, 3, stride=2, padding=1, count_include_pad=False),
                F.adaptive_avg_pool2d(e, (3, 2)), F.adaptive_max_pool2d(d, 1), self.c1(s).sigmoid())


class WinogradResidual(nn.Module):
    """Winograd F(4x4) at 24x24 (36 tiles), a stride-2 conv, Winograd F(2x2) at 12x12 (36 tiles) with a
    residual add and ReLU6 fused into it, then a 1x1 conv with a residual add fused into its GEMM tiles."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(16, 24, 3, padding=1), nn.Conv2d(24, 16, 3, 2, 1)
        self.c3, self.c4 = nn.Conv2d(16, 16, 3, padding=1), nn.Conv2d(16, 16, 1)

    def forward(self, x):
        z = self.c2(torch.relu(self.c1(x)))
        y = torch.clamp(self.c3(z) + z, 0, 6)
        return self.c4(y) + y


class DwPwResidual(nn.Module):
    """mobilenet's depthwise conv + projection (1 MiB intermediate: conv_dw_pw) with the block's residual add."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(4)
        self.dw, self.pw = nn.Conv2d(64, 64, 3, 1, 1, groups=64), nn.Conv2d(64, 64, 1)

    def forward(self, x):
        return self.pw(F.relu6(self.dw(x))) + x


class Depthwise(nn.Module):
    """Depthwise row kernels over rows longer than a vector block and not a multiple of it (37 columns): dilated
    5x5, stride 3, a 9x9 window (more taps than the NEON kernel's table) and a non-clamp activation."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(6)
        self.dil = nn.Conv2d(8, 8, 5, padding=4, dilation=2, groups=8)
        self.s3 = nn.Conv2d(8, 8, 3, stride=3, padding=1, groups=8)
        self.big = nn.Conv2d(8, 8, 9, padding=4, groups=8)

    def forward(self, x):
        return F.relu6(self.dil(x)), F.gelu(self.s3(x)), self.big(x).clamp(-0.5, 0.5)


class ThreadSplits(nn.Module):
    """The ways threads share a GEMM conv: a stem conv built from the im2col of whole output rows, a 1x1 conv
    with K <= 32 on 2304 pixels (row blocks within a thread's pixels), a 1x1 conv reducing 384 channels (K
    split across the threads, partial sums added by pixels)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.stem, self.pw = nn.Conv2d(3, 16, 3, 2, 1), nn.Conv2d(16, 24, 1)
        self.expand, self.project = nn.Conv2d(24, 384, 1), nn.Conv2d(384, 32, 1)

    def forward(self, x):
        h = self.pw(F.relu6(self.stem(x)))
        return self.project(F.relu6(self.expand(F.avg_pool2d(h, 4))))


class Linears(nn.Module):
    """linear with M = 1 and M > 1 and odd M/N/K around the micro-kernel edges (6 rows, 8/16-column
    NEON tiles, 32-column panels), fused activations, and matmul (broadcast batch, transposed rhs)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.l1 = nn.Linear(37, 45)  # N = 45: one full panel + 13 columns
        self.l2 = nn.Linear(67, 70)
        self.l3 = nn.Linear(5, 1)
        self.l4 = nn.Linear(1, 33, bias=False)
        self.l5 = nn.Linear(67, 96)

    def forward(self, v, a, b, c, p, q):
        return (self.l1(v), F.relu(self.l1(a)), F.gelu(self.l2(b)), self.l3(c), self.l4(c[:, :1]),
                self.l5(b[:1]).clamp(-0.3, 0.4), torch.matmul(p, q), p @ p.transpose(-1, -2), torch.bmm(p[0], q))


class Attention(nn.Module):
    """sdpa (plain, causal, additive and bool masks), softmax/log_softmax, layer_norm, a transformer layer."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(2)
        self.ln = nn.LayerNorm(16)
        self.layer = nn.TransformerEncoderLayer(16, 4, dim_feedforward=24, dropout=0.0, batch_first=True)

    def forward(self, q, k, v, mask, bmask, t):
        return (F.scaled_dot_product_attention(q, k, v), F.scaled_dot_product_attention(q, k, v, is_causal=True),
                F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
                F.scaled_dot_product_attention(q, k, v, attn_mask=bmask, scale=0.3),
                torch.softmax(t, -1), torch.log_softmax(t, 1), self.ln(t), self.layer(t))


def elementwise(x, y, i, j, b):
    """binary (broadcasting, ints, bitwise), compare, logical, unary, where, casts, fill."""
    big = torch.full((600, 600), 2.0)  # above the fold limit: a fill instruction
    return (x + y, x - y * 2, x * y, x / (y.abs() + 0.5), torch.pow(x.abs() + 0.1, y), torch.maximum(x, y),
            torch.minimum(x, y), torch.remainder(x * 5, 1.3), torch.atan2(x, y), torch.floor_divide(i, j + 1),
            i * j - i, i & j, i | j, i ^ j, x > y, i <= j, torch.logical_and(b, x > 0), torch.logical_xor(b, y < 0),
            torch.where(b, x, y), x.exp(), (x.abs() + 1e-3).log(), x.tanh(), x.sigmoid(), F.silu(x), F.gelu(x),
            F.elu(x), F.leaky_relu(x, 0.2), x.erf(), (x * 3).round(), (x * 3).floor(), x.sin(), x.cos(),
            F.softplus(x), F.mish(x), x.clamp(-0.2, 0.5), (x.abs() + 1).rsqrt(), torch.sign(x),
            (x * 4).to(torch.int32), i.to(torch.float32) / 3, b.to(torch.int64), (x * 100).to(torch.uint8),
            big.sum(0)[:7] + x[0, 0])


def reductions(x, i, b):
    """reduce (sum, mean, amax, amin, prod, var, norm, any, all), arg_reduce, cumsum."""
    mx, idx = x.max(dim=1)
    return (x.sum((0, 2)), x.mean(-1, keepdim=True), x.amax(1), x.amin((1, 2)), (x * 0.5 + 1).prod(2),
            x.var(1), torch.linalg.vector_norm(x, dim=-1), b.any(1), b.all(-1), x.argmax(2), x.argmin(0), mx, idx,
            i.sum(1), x.cumsum(1), i.cumsum(0), x.sum())


def data_movement(m, x, idx, gidx, y, img):
    """take (embedding, index_select, index with one tensor), gather, concat, slice/select/split, permute, reshape,
    expand/repeat, pad, flip, tril/triu, interpolate."""
    parts = torch.split(x, [1, 2], dim=1)
    return (m.emb[idx], torch.index_select(x, 2, idx[0]), x[:, :, idx[1]], torch.gather(x, 2, gidx),
            torch.cat([x, y], 1), x[:, 1:3:1, ::2], x[1], parts[1], x.permute(2, 0, 1),
            x.reshape(2, -1).unsqueeze(0), x[:, :1].expand(2, 4, 5), x.repeat(1, 2, 1), F.pad(x, (1, 2, 0, 1)),
            F.pad(x, (2, 1), value=-3.0), torch.flip(x, (0, 2)), torch.tril(x), torch.triu(x, 1),
            F.interpolate(img, scale_factor=2, mode="nearest"),
            F.interpolate(img, size=(5, 9), mode="bilinear", align_corners=False),
            F.interpolate(img, scale_factor=1.5, mode="bilinear", align_corners=True))


def indexing(m, x, i, j, sidx, src, bags):
    """advanced_index (several broadcast index tensors), index_put (set, accumulate), scatter (src, add, reduce),
    sort/argsort/topk, embedding_bag (with an empty bag), cumprod."""
    return (x[i[:, None], j[None, :]], x[:, j, 1:3], torch.index_put(x, (i, j), torch.tensor(5.0)),
            x.index_put((i[:, None], j[None, :]), src[:3, :3, :1], accumulate=True),
            torch.scatter(x, 2, sidx, src), torch.scatter_add(x, 2, sidx, src),
            torch.scatter_reduce(x, 2, sidx, src, "amax", include_self=False), torch.sort(x, dim=1),
            torch.argsort(x, dim=2, descending=True), torch.topk(x, 2, dim=2),
            F.embedding_bag(bags, m.table, m.offsets, mode="mean"), (x * 0.5 + 1).cumprod(1), i.cumprod(0))


class Sampling(nn.Module):
    """grid_sample (bilinear/nearest, every padding mode, both align_corners) and gru (stacked bidirectional,
    several sequences: the step's GEMM; one sequence: its GEMV)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.a = nn.GRU(6, 8, 2, batch_first=True, bidirectional=True)
        self.b = nn.GRU(6, 10)

    def forward(self, img, grid, x, s):
        return (F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False),
                F.grid_sample(img, grid, mode="nearest", padding_mode="border", align_corners=True),
                F.grid_sample(img, grid, mode="bilinear", padding_mode="reflection", align_corners=True),
                self.a(x), self.b(s))


class LSTMs(nn.Module):
    """lstm: several sequences through stacked bidirectional layers (the step's GEMM), one sequence (its GEMV)."""

    def __init__(self):
        super().__init__()
        self.a = nn.LSTM(6, 10, 2, batch_first=True, bidirectional=True)
        self.b = nn.LSTM(6, 12)

    def forward(self, x, s):
        return self.a(x), self.b(s)


class NanThroughFusedOps(nn.Module):
    """NaN and +-inf through the NEON epilogues: a GEMM conv with ReLU, Winograd (bypassed for a non-finite
    input) with a residual and ReLU6, a depthwise conv with hardtanh, a conv_dw_pw pair, linear with ReLU and
    GELU, and add with a clamp. Eager has NaN and inf exactly where the runtime must."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(5)
        self.c1, self.wg = nn.Conv2d(4, 16, 3, padding=1), nn.Conv2d(16, 16, 3, padding=1)
        self.dw, self.pw = nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.Conv2d(16, 16, 1)
        self.fc = nn.Linear(12, 20)

    def forward(self, x, v):
        h = torch.relu(self.c1(x))
        r = F.relu6(self.wg(h) + h)
        d = F.hardtanh(self.dw(r), -0.5, 0.75)
        return (r, d, self.pw(F.relu6(self.dw(h))) + h, torch.relu(self.fc(v)), F.gelu(self.fc(v)),
                torch.clamp(v + 0.5, 0.0, 1.0))


class WeightOnly(nn.Module):
    """Weight-only quantized layers (linear_wo, embedding_wo): an embedding table, a batch-1 GEMV with odd N and a
    small-M GEMM over K of several groups (with NaN/inf in its input)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(8)
        self.emb, self.fc1, self.fc2 = nn.Embedding(20, 64), nn.Linear(64, 37), nn.Linear(128, 19)

    def forward(self, ids, x, x2):
        return self.emb(ids), F.gelu(self.fc1(x)), self.fc2(x2)


def dequantized(module: nn.Module, bits: int) -> nn.Module:
    """A copy whose linear and embedding weights are torchao's dequantized ones (the weight-only reference)."""
    import copy

    from pockettorch.exporter.quant import wo_rewrite

    ref = copy.deepcopy(module)
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                m.weight.copy_(wo_rewrite.dequantize_weight(*wo_rewrite.quantize_weight(m.weight, bits, 32), bits, 32))
    return ref


def poisoned(t: torch.Tensor) -> torch.Tensor:
    flat = t.clone().view(-1)
    for k, value in enumerate((float("nan"), float("inf"), float("-inf"))):
        flat[(k * 131 + 7) % flat.numel()] = value
    return flat.view(t.shape)


@dataclasses.dataclass
class Case:
    name: str
    module: nn.Module
    inputs: tuple
    threads: int = 1
    tol: float = 1e-4
    dynamic_shapes: tuple | None = None  # torch.export's; the inputs' sizes lie inside the ranges
    quantization: object = None  # a pockettorch.quant scheme; then `reference` gives the expected outputs
    reference: nn.Module | None = None  # int8 schemes: the exporter's PT2E reference model when None
    backends: tuple[str, ...] = ()  # delegated at export; the cross runners have no backend, so the fallback runs


class Positions(nn.Module):
    """A dynamic length's positions (arange), as BERT's embeddings make them."""

    def forward(self, x):
        n = x.shape[1]
        return x + torch.arange(n).float() * 0.5, torch.arange(2, 2 * n + 2, 2, dtype=torch.int32)


def cases() -> list[Case]:
    return [
        Case("conv", ConvNet().eval(), (rnd(2, 3, 11, 9), rnd(2, 4, 13, seed=1)), threads=2),
        # mobilenet's depthwise conv + projection and expansion + strided depthwise conv, with 1 MiB
        # intermediates: fused into conv_dw_pw and conv_pw_dw
        Case("conv_pairs", nn.Sequential(nn.Conv2d(64, 64, 3, 1, 1, groups=64), nn.ReLU6(), nn.Conv2d(64, 8, 1),
                                         nn.Conv2d(8, 64, 1), nn.ReLU6(), nn.Conv2d(64, 64, 3, 2, 1, groups=64),
                                         nn.ReLU6()).eval(), (rnd(1, 64, 64, 64),), threads=2),
        Case("depthwise", Depthwise().eval(), (rnd(1, 8, 21, 37),)),
        Case("winograd_residual", WinogradResidual().eval(), (rnd(1, 16, 24, 24),), threads=2),
        Case("dw_pw_residual", DwPwResidual().eval(), (rnd(1, 64, 64, 64),), threads=2),
        Case("thread_splits", ThreadSplits().eval(), (rnd(1, 3, 96, 96),), threads=2),
        Case("linear", Linears().eval(), (rnd(1, 37), rnd(7, 37, seed=1), rnd(13, 67, seed=2), rnd(6, 5, seed=3),
                                          rnd(2, 3, 5, 7, seed=4), rnd(3, 7, 9, seed=5)), threads=2),
        Case("attention", Attention().eval(),
             (rnd(2, 3, 5, 8), rnd(2, 3, 7, 8, seed=1), rnd(2, 3, 7, 6, seed=2), rnd(5, 7, seed=3),
              rnd(2, 1, 5, 7, seed=4) > -0.6, rnd(2, 6, 16, seed=5))),
        Case("elementwise", Fn(lambda m, *a: elementwise(*a)).eval(),
             (rnd(3, 1, 7), rnd(4, 7, seed=1), ints(3, 1, 7, lo=-20, hi=20), ints(4, 7, seed=1, lo=0, hi=9),
              rnd(4, 7, seed=2) > 0)),
        Case("reduce", Fn(lambda m, *a: reductions(*a)).eval(),
             (rnd(3, 6, 5), ints(3, 6, 5, seed=1, lo=-50, hi=50), rnd(3, 6, 5, seed=2) > 0.8)),
        Case("lstm", LSTMs().eval(), (rnd(2, 5, 6), rnd(4, 1, 6, seed=1)), threads=2),
        Case("indexing", Fn(lambda m, *a: indexing(m, *a), table=rnd(10, 6, seed=11),
                            offsets=torch.tensor([0, 3, 3, 5])).eval(),
             (rnd(4, 6, 5), ints(3, hi=4, seed=1), ints(3, hi=6, seed=2), ints(4, 6, 2, hi=5, seed=3),
              rnd(4, 6, 2, seed=4), ints(8, hi=10, seed=5))),
        Case("sampling", Sampling().eval(), (rnd(2, 3, 7, 9), rnd(2, 5, 4, 2, seed=1, lo=-1.1, hi=1.1),
                                             rnd(2, 5, 6, seed=2), rnd(4, 1, 6, seed=3)), threads=2),
        Case("nan", NanThroughFusedOps().eval(), (poisoned(rnd(1, 4, 12, 12, seed=6)), poisoned(rnd(3, 12, seed=7))),
             threads=2),
        *(Case(f"weight_only_w{b}", WeightOnly().eval(), (ints(2, 3, hi=20), rnd(1, 64, seed=1),
                                                           poisoned(rnd(5, 128, seed=2))),
               threads=2, quantization=quant.weight_only(bits=b, group_size=32),
               reference=dequantized(WeightOnly().eval(), b)) for b in (4, 8)),
        Case("data", Fn(lambda m, *a: data_movement(m, *a), emb=rnd(10, 6, seed=9)).eval(),
             (rnd(2, 3, 5), ints(2, 4, hi=5), ints(2, 3, 4, hi=5, seed=2), rnd(2, 2, 5, seed=3),
              rnd(1, 2, 4, 6, seed=4))),
        Case("positions", Positions().eval(), (rnd(2, 9),),
             dynamic_shapes=({1: torch.export.Dim("n", min=1, max=16)},)),
        # int8 against the PT2E reference (static) or float (dynamic): within an LSB or two of the output's range
        Case("int8_static", QuantNet().eval(), (rnd(1, 2, 6, 6),), threads=2, tol=2e-2,
             quantization=quant.int8([(rnd(1, 2, 6, 6, seed=k),) for k in range(4)])),
        Case("int8_convs", QuantConvNet().eval(), (rnd(2, 3, 19, 23),), threads=2, tol=2e-2,
             quantization=quant.int8([(rnd(2, 3, 19, 23, seed=k),) for k in range(4)])),
        Case("int8_dynamic", nn.Sequential(nn.Linear(40, 24), nn.GELU(), nn.Linear(24, 8)).eval(), (rnd(3, 5, 40),),
             threads=2, tol=5e-2, quantization=quant.int8_dynamic()),
        # LSTM/GRU with int8 weights against the same math in torch (exporter/quant/qrnn_reference.py)
        Case("int8_recurrent", (recurrent := QuantRecurrent().eval()), QuantRecurrent.inputs(), threads=2, tol=1e-4,
             quantization=quant.int8_dynamic(), reference=QuantRecurrentReference(recurrent)),
        Case("delegated", nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 4)).eval(), (rnd(3, 12),),
             backends=("vulkan",)),
    ]


@dataclasses.dataclass
class Exported:
    path: pathlib.Path
    inputs: list[pathlib.Path]
    expected: list[np.ndarray]
    threads: int
    tol: float
    ops: set[str]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Exported]:
    out = {}
    root = tmp_path_factory.mktemp("cross-models")
    for case in cases():
        d = root / case.name
        d.mkdir()
        program = pockettorch.export(case.module, case.inputs, name=case.name, dynamic_shapes=case.dynamic_shapes,
                                     quantization=case.quantization, backends=list(case.backends) or None)
        program.save(d / "model.ptm")
        files = []
        for k, t in enumerate(case.inputs):
            np.save(d / f"in_{k}.npy", t.numpy())
            files.append(d / f"in_{k}.npy")
        with torch.no_grad():
            reference = case.reference or (program.quantization.quantized_model if program.quantization else None)
            expected = (reference or case.module)(*case.inputs)
        leaves = [t.numpy() for t in pytree.tree_leaves(expected)]
        ops = {op for op, _ in pockettorch.load(d / "model.ptm").instructions()}
        out[case.name] = Exported(d / "model.ptm", files, leaves, case.threads, case.tol, ops)
    return out


# ---- the runners -------------------------------------------------------------------------------------

_BUILDS: dict[str, concurrent.futures.Future] = {}


def _runner(abi: str) -> pathlib.Path:
    """The ABI's runner; the first call starts the builds of every ABI this host can run, in parallel (a
    cold zig build of one target is ~45 s, mostly single-threaded: together they take about as long)."""
    if not _BUILDS:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(CROSS_ABIS))
        for a in CROSS_ABIS:
            if cross.launcher(a) is not None:
                _BUILDS[a] = pool.submit(cross.build_runner_for, a, BUILD_DIR)
        pool.shutdown(wait=False)
    return _BUILDS[abi].result()


@pytest.fixture(scope="module", params=CROSS_ABIS)
def target(request) -> tuple[str, list[str]]:
    """(abi, command prefix that runs that ABI's runner)."""
    abi = request.param
    if not cross.have_ziglang():
        pytest.skip(f"ziglang is not installed (pip install '{cross.ZIGLANG_PIN}'): cannot cross-build for {abi}")
    prefix = cross.launcher(abi)
    if prefix is None:
        pytest.skip(f"this host cannot run {abi} binaries and {cross.ABIS[abi].qemu} is not installed "
                    f"(apt-get install qemu-user-static)")
    runner = _runner(abi)
    if prefix == [] and not cross.can_execute([str(runner)]):  # e.g. a kernel without 32-bit x86 support
        q = cross.ABIS[abi].qemu
        qemu = [p for p in (f"/usr/bin/{q}",) if os.access(p, os.X_OK)]
        if not qemu or not cross.can_execute([*qemu, str(runner)]):
            pytest.skip(f"this host does not execute {abi} binaries and {q} is not installed")
        prefix = qemu
    return abi, [*prefix, str(runner)]


def run_runner(cmd: list[str], *args, env=None) -> dict:
    proc = subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, timeout=RUN_TIMEOUT,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout)


def compare(got: np.ndarray, expected: np.ndarray, tol: float, what: str) -> None:
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    assert got.dtype == expected.dtype, f"{what}: dtype {got.dtype} != {expected.dtype}"
    if expected.dtype.kind != "f":
        assert np.array_equal(got, expected), f"{what}: {got} != {expected}"
        return
    nan = np.isnan(expected)
    assert np.array_equal(nan, np.isnan(got)), f"{what}: NaN positions differ"
    e, g = expected[~nan], got[~nan]
    inf = np.isinf(e)
    assert np.array_equal(g[inf], e[inf]), f"{what}: infinities differ"
    e, g = e[~inf], g[~inf]
    if e.size == 0:
        return
    scale = max(float(np.abs(e).max()), 1e-6)
    err = float(np.abs(g.astype(np.float64) - e).max())
    assert err <= tol * scale, f"{what}: max error {err:.3g} > {tol} x max|eager| {scale:.3g}"


def run_and_compare(target, model: Exported, out: pathlib.Path, env=None) -> dict:
    abi, cmd = target
    report = run_runner(cmd, model.path, "--input", *model.inputs, "--output-dir", out, "--iters", "1",
                        "--warmup", "0", "--threads", model.threads, env=env)
    for k, e in enumerate(model.expected):
        compare(np.load(out / f"output_{k}.npy"), e, model.tol, f"{abi} {model.path.parent.name} output {k}")
    assert not (out / f"output_{len(model.expected)}.npy").exists()
    return report


# ---- tests -------------------------------------------------------------------------------------------

def test_models_cover_every_op(models):
    used = set().union(*(m.ops for m in models.values()))
    missing = {op.name for op in OPS} - used
    assert not missing, f"no cross-test model uses {sorted(missing)}"


@pytest.mark.parametrize("name", [c.name for c in cases()])
def test_model_matches_eager(target, models, name, tmp_path):
    report = run_and_compare(target, models[name], tmp_path)
    expected_isa = EXPECTED_ISA[target[0]] or pockettorch.load(models[name].path).isa  # the host's detection
    assert report["isa"] == expected_isa


def test_portable_path_matches_eager(target, models, tmp_path):
    """PKT_MAX_ISA=portable: the plain C kernels on the same target (the NEON GEMM's reference)."""
    report = run_and_compare(target, models["linear"], tmp_path, env={"PKT_MAX_ISA": "portable"})
    assert report["isa"] == "portable"


# PKT_MAX_ISA caps per ABI: every int8 GEMM path of the target (arm64 under qemu's default "max" CPU: i8mm, sdot,
# plain NEON, portable; armv7: NEON, portable; x86-64: as tests/quant/test_int8_recurrent.py; x86: portable only)
INT8_CAPS = {"arm64-v8a": ("neon", "neon:dotprod", "neon:", "portable"), "armeabi-v7a": ("neon", "portable"),
             "x86": ("portable",), "x86_64": ("avx512", "avx512:", "avx2", "avx2:", "portable")}


def test_int8_recurrent_on_every_int8_path(target, models, tmp_path):
    """The dynamic int8 LSTM/GRU on each int8 GEMM micro-kernel the target has (the caps above the CPU's own
    level run the CPU's, which is still checked)."""
    rank = {"portable": 0, "neon": 1, "avx2": 2, "avx512": 3}
    best = EXPECTED_ISA[target[0]] or pockettorch.load(models["int8_recurrent"].path).isa
    for cap in INT8_CAPS[target[0]]:
        out = tmp_path / cap.replace(":", "_")
        out.mkdir()
        report = run_and_compare(target, models["int8_recurrent"], out, env={"PKT_MAX_ISA": cap})
        want = cap.split(":")[0]
        assert report["isa"] == (want if rank[want] <= rank[best] else best), (cap, report["isa"])


def test_runner_is_static_for_the_abi(target):
    abi, cmd = target
    data = pathlib.Path(cmd[-1]).read_bytes()
    assert data[:4] == b"\x7fELF"
    ei_class = data[4]
    machine = struct.unpack_from("<H", data, 18)[0]
    assert (ei_class, machine) == ELF_MACHINE[abi]
    if ei_class == 2:
        phoff, = struct.unpack_from("<Q", data, 32)
        phentsize, phnum = struct.unpack_from("<HH", data, 54)
    else:
        phoff, = struct.unpack_from("<I", data, 28)
        phentsize, phnum = struct.unpack_from("<HH", data, 42)
    types = {struct.unpack_from("<I", data, phoff + k * phentsize)[0] for k in range(phnum)}
    assert 3 not in types, "the runner has a PT_INTERP (dynamically linked)"
    assert 2 not in types, "the runner has a PT_DYNAMIC segment"


def test_build_is_cached(target):
    abi, cmd = target
    runner = pathlib.Path(cmd[-1])
    mtime = runner.stat().st_mtime_ns
    assert cross.build_runner_for(abi, BUILD_DIR) == runner
    assert runner.stat().st_mtime_ns == mtime


def test_build_has_no_warnings(target):
    """Warnings on 32-bit/ARM targets are how size_t truncation and shift bugs show up (npy.c had one)."""
    log = (pathlib.Path(target[1][-1]).parent / "build.log").read_text()
    assert "warning:" not in log and "error:" not in log, log[-4000:]


def test_arena_beyond_32_bit_address_space(target, models, tmp_path):
    """An arena larger than size_t on a 32-bit ABI is refused, not truncated (it used to wrap: the arena was
    allocated at the truncated size and a tensor placed at offset 2^32 - 64 written 64 bytes before it)."""
    from support_ptm import Ptm

    abi, cmd = target
    if ELF_MACHINE[abi][0] == 2:
        pytest.skip(f"{abi} is 64-bit: a 4 GiB arena is a real allocation there")
    p = Ptm.parse(models["linear"].path.read_bytes())
    t = p.tensors[p.outputs[0]]
    assert t.storage == 0 and 64 < t.nbytes
    t.offset = (1 << 32) - 64
    p.arena_bytes = -(-(t.offset + t.nbytes) // 64) * 64
    bad = tmp_path / "big_arena.ptm"
    bad.write_bytes(p.build())
    proc = subprocess.run([*cmd, str(bad), "--iters", "1", "--warmup", "0"], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)
    assert proc.returncode == 1 and "PKT_OUT_OF_MEMORY:" in proc.stderr, (proc.returncode, proc.stderr)


def test_errors_are_clear(target, models, tmp_path):
    """A bad input under emulation fails with the documented status and exit code, like on the host."""
    abi, cmd = target
    np.save(tmp_path / "bad.npy", np.zeros((2, 2), np.float32))
    m = models["linear"]
    proc = subprocess.run([*cmd, str(m.path), "--input", str(tmp_path / "bad.npy"), *map(str, m.inputs[1:])],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert proc.returncode == 1 and "PKT_INPUT_SHAPE:" in proc.stderr, proc.stderr


# ---- cross.py without the toolchain ----------------------------------------------------------------------

def test_missing_ziglang_is_a_clear_error(monkeypatch, tmp_path):
    from pockettorch import errors

    monkeypatch.setattr(cross, "have_ziglang", lambda: False)
    with pytest.raises(errors.NotSupportedError, match=r"pip install 'ziglang=="):
        cross.build_runner_for("arm64-v8a", tmp_path)


def test_unknown_abi(tmp_path):
    from pockettorch import errors

    with pytest.raises(errors.InvalidArgumentError, match="arm64-v8a"):
        cross.build_runner_for("mips", tmp_path)


def test_compile_command_is_baseline_and_static():
    if not cross.have_ziglang():
        pytest.skip("ziglang is not installed")
    for name, a in cross.ABIS.items():
        cmd = cross.compile_command(a, pathlib.Path("out"))
        assert "-march=native" not in cmd and "-mcpu=native" not in cmd
        assert "-mcpu=baseline" in cmd and "-static" in cmd and all(f in cmd for f in manifest.OPT_FLAGS)
        assert cmd[cmd.index("-target") + 1] == a.target
    v7 = cross.compile_command(cross.ABIS["armeabi-v7a"], pathlib.Path("out"))
    assert "-mfpu=neon" in v7 and "-mfloat-abi=hard" in v7
