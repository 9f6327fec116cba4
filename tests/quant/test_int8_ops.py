"""Static int8, op by op: each model is exported with quant.int8 (torchao PT2E + PocketTorch's quantizer), lowered
onto the int8 ops, run on the C runtime and compared with the PT2E reference (the converted model in eager): within
1 LSB of the output scale, and every conv/linear/add instruction within 1 step of the reference decomposition on its
own inputs. Each case also names the int8 ops it must lower onto, so a pattern that silently stays
float fails."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from quant_support import export_int8, lsb_error, replay_errors


class Convs(nn.Module):
    """3x3, strided, 1x1, depthwise, grouped; relu, relu6, no activation; conv without bias."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, padding=1)
        self.bn = nn.BatchNorm2d(16)
        self.c2 = nn.Conv2d(16, 16, 3, stride=2, padding=1, groups=16)
        self.c3 = nn.Conv2d(16, 24, 1, bias=False)
        self.c4 = nn.Conv2d(24, 24, 3, padding=2, dilation=2, groups=2)
        self.c5 = nn.Conv2d(24, 8, (1, 3), stride=(1, 2))

    def forward(self, x):
        y = F.relu(self.bn(self.c1(x)))
        y = F.relu6(self.c2(y))
        y = self.c3(y)
        y = F.hardtanh(self.c4(y), -1.0, 2.0)
        return self.c5(y)


class Linears(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(20, 32)
        self.b = nn.Linear(32, 12, bias=False)

    def forward(self, x):
        return self.b(F.relu(self.a(x)))


class Binary(nn.Module):
    """add, mul, add + relu, broadcasting."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(4, 4, 1)

    def forward(self, x, y):
        a = self.c(x)
        s = F.relu(a + x)
        m = s * y  # y [1, 4, 1, 1] broadcasts
        return m + a


class Pools(nn.Module):
    def forward(self, x):
        a = F.max_pool2d(x, 3, stride=2, padding=1)
        b = F.avg_pool2d(x, 2, ceil_mode=True, count_include_pad=False)
        c = F.avg_pool2d(x, 3, stride=2, padding=1)
        g = F.adaptive_avg_pool2d(x, 1)
        return torch.cat([a.flatten(1), b.flatten(1), c.flatten(1), g.flatten(1)], 1)


class Luts(nn.Module):
    def __init__(self):
        super().__init__()
        self.l = nn.Linear(16, 16)

    def forward(self, x):
        y = self.l(x)
        return torch.cat([torch.sigmoid(y), torch.tanh(y), F.hardswish(y), F.gelu(y)], -1)


class Attention(nn.Module):
    """q @ k^T of two activations, a softmax left float between them, then @ v."""

    def __init__(self):
        super().__init__()
        self.q, self.k, self.v = nn.Linear(16, 16), nn.Linear(16, 16), nn.Linear(16, 16)

    def forward(self, x):
        s = torch.matmul(self.q(x), self.k(x).transpose(-1, -2))
        return torch.matmul(torch.softmax(s, -1), self.v(x))


CASES = {
    "conv": (Convs, [(1, 3, 17, 19)], {"qconv2d": 5}),
    "linear": (Linears, [(3, 5, 20)], {"qlinear": 2}),
    "binary": (Binary, [(1, 4, 6, 6), (1, 4, 1, 1)], {"qbinary": 3}),
    "pool_concat": (Pools, [(1, 3, 9, 11)], {"qmax_pool2d": 1, "qavg_pool2d": 3, "qconcat": 1}),
    "lut": (Luts, [(2, 16)], {"qlut": 4, "qconcat": 1}),
    "matmul": (Attention, [(2, 7, 16)], {"qmatmul": 2, "qlinear": 3, "softmax": 1}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_int8_ops_match_the_pt2e_reference_within_one_lsb(case):
    factory, shapes, expected = CASES[case]
    torch.manual_seed(0)
    model = factory().eval()
    inputs = tuple(torch.randn(s) for s in shapes)
    program = export_int8(model, inputs)
    hist = program.graph.op_histogram()
    for op, count in expected.items():
        assert hist.get(op, 0) == count, hist
    assert program.metadata["inputs"][0]["dtype"] == "float32" and program.metadata["outputs"][0]["dtype"] == "float32"
    for seed in range(2):
        g = torch.Generator().manual_seed(100 + seed)
        x = tuple(torch.randn(s, generator=g) * 1.5 for s in shapes)  # beyond the calibration range too
        assert lsb_error(program, x) <= 1.0 + 1e-4
        if any(op in expected for op in ("qconv2d", "qlinear", "qbinary")):
            errors = replay_errors(program, x)  # each such instruction on its own inputs, not only the output
            assert max(errors.values()) <= 1, errors


def test_skipped_modules_stay_float():
    torch.manual_seed(0)
    model = Linears().eval()
    x = (torch.randn(2, 20),)
    program = export_int8(model, x, skip=["b"])
    hist = program.graph.op_histogram()
    assert hist.get("qlinear") == 1 and hist.get("linear") == 1, hist
    report = program.quant_report()
    assert any(r["reason"] == "skip='b'" for r in report.float_ops), report


class TwoBranches(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 8)
        self.b = nn.Linear(1, 8)

    def forward(self, x):
        return self.a(x[:, 1:]) + self.b(x[:, :1])


def test_a_layer_that_quantizes_badly_stays_float():
    """Branch b sees values 1e5 times larger in one calibration batch than in the first: on the first its int8 output
    is mostly zero steps, so b stays float (and the report says why) while a is int8."""
    import pockettorch
    from pockettorch import quant

    torch.manual_seed(0)
    model = TwoBranches().eval()
    x = torch.randn(4, 9)
    small, large = x.clone(), x.clone()
    small[:, 0] *= 1e-3
    large[:, 0] *= 1e2
    program = pockettorch.export(model, (x,), quantization=quant.int8([(small,), (large,)]))
    hist = program.graph.op_histogram()
    assert hist.get("qlinear") == 1 and hist.get("linear") == 1, hist
    reasons = [r["reason"] for r in program.quant_report().float_ops]
    assert any("dB" in r for r in reasons), reasons
