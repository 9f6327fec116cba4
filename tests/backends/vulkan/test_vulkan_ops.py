"""Each op the Vulkan backend takes, on lavapipe, against eager torch: small exported modules compiled whole into
one blob and run through the backend's C interface (harness.c)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import pockettorch
from pockettorch.exporter.backends.vulkan import VulkanBackend
from vkharness import run_graph


def check(vk, module, *inputs, tol=1e-4, precision="fp32"):
    module = module.eval()
    prog = pockettorch.export(module, inputs)
    be = VulkanBackend()
    unsupported = [n.op for n in prog.graph.nodes if not be.supports(n)]
    assert not unsupported, unsupported
    got = run_graph(vk, prog.graph, [i.numpy() for i in inputs], {"precision": precision})
    with torch.no_grad():
        want = module(*inputs)
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want):
        w = w.numpy()
        err = np.max(np.abs(g - w)) / max(np.max(np.abs(w)), 1e-6)
        assert err <= tol, (err, prog.summary())
    return prog


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def test_conv_kinds(vk):
    """1x1 (GEMM), 3x3 stride 2 (im2col GEMM), depthwise and grouped (direct), odd sizes, bias + residual + act."""
    torch.manual_seed(0)

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 5, 3, stride=2, padding=1)
            self.b = nn.Conv2d(5, 5, 3, padding=2, dilation=2, groups=5)
            self.c = nn.Conv2d(5, 6, 1)
            self.d = nn.Conv2d(6, 6, (3, 1), padding=(1, 0), groups=2, bias=False)

        def forward(self, x):
            y = F.relu6(self.a(x))
            y = F.relu(self.b(y)) + y
            y = self.c(y)
            return torch.sigmoid(self.d(y)) * y

    check(vk, M(), torch.randn(2, 3, 13, 11))


def test_fused_conv_pairs(vk, monkeypatch):
    """The exporter's conv_pw_dw and conv_dw_pw (with its residual) as two dispatches each (the pass fuses small
    intermediates too here, to keep the sizes small)."""
    import sys
    monkeypatch.setattr(sys.modules["pockettorch.exporter.passes.fuse_conv_pairs"], "MIN_INTERMEDIATE_BYTES", 0)
    torch.manual_seed(1)

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.pw = nn.Conv2d(8, 16, 1)
            self.dw = nn.Conv2d(16, 16, 3, stride=2, padding=1, groups=16)
            self.dw2 = nn.Conv2d(16, 16, 3, padding=1, groups=16)
            self.pw2 = nn.Conv2d(16, 16, 1)

        def forward(self, x):
            y = F.relu6(self.dw(F.relu6(self.pw(x))))
            return self.pw2(F.relu6(self.dw2(y))) + y

    prog = check(vk, M(), torch.randn(1, 8, 10, 9))
    assert {"conv_pw_dw", "conv_dw_pw"} <= {n.op for n in prog.graph.nodes}


def test_linear_matmul_odd_sizes(vk):
    torch.manual_seed(2)
    lin = nn.Linear(37, 19)
    m = Lambda(lambda x, y: F.gelu(lin(x)) @ y.transpose(-1, -2) + torch.bmm(x[:, :, :5], y[:, :, :5].transpose(1, 2)))
    check(vk, m, torch.randn(3, 17, 37), torch.randn(3, 7, 19))


def test_broadcasting_elementwise(vk):
    m = Lambda(lambda a, b, c: torch.maximum(a - b, c) / (b.abs() + 1) * 0.5 + torch.tanh(a) - torch.exp(-c).sqrt())
    check(vk, m, torch.randn(2, 1, 5, 7), torch.randn(3, 1, 7), torch.randn(1, 5, 1))


def test_pools_and_reduce(vk):
    m = Lambda(lambda x: (F.max_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
                          F.avg_pool2d(x, 2, count_include_pad=False), F.adaptive_avg_pool2d(x, (3, 2)),
                          F.adaptive_max_pool2d(x, 2), x.mean(dim=(2, 3), keepdim=True), x.sum(1), x.amax(-1)))
    check(vk, m, torch.randn(2, 3, 11, 9))


def test_softmax_layer_norm(vk):
    ln = nn.LayerNorm(33)
    m = Lambda(lambda x: (ln(x), torch.softmax(x, -1), torch.log_softmax(x, 1), torch.softmax(x * 30, 0)))
    check(vk, m, torch.randn(4, 5, 33))


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa(vk, causal):
    m = Lambda(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
    check(vk, m, torch.randn(1, 2, 9, 16), torch.randn(1, 2, 9, 16), torch.randn(1, 2, 9, 8))


def test_data_movement(vk):
    m = Lambda(lambda x, y: (torch.cat([x.permute(0, 2, 1), y], 1).reshape(2, -1)[:, 3::2],
                             x[:, 1:4].expand(3, 2, 3, 3), x.transpose(0, 1).contiguous()))
    check(vk, m, torch.randn(2, 4, 3), torch.randn(2, 5, 4))


def test_fp16_storage(vk):
    """precision="fp16": half buffers, float math, within 1e-2 of eager."""
    torch.manual_seed(3)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, groups=8), nn.Flatten(),
                      nn.Linear(8 * 7 * 5, 10), nn.LayerNorm(10), nn.Softmax(-1))
    check(vk, m, torch.randn(1, 3, 9, 7), tol=1e-2, precision="fp16")
    assert "running fp32" not in vk.device  # lavapipe has 16-bit storage buffers
