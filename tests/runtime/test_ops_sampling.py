"""Resampling and rearranging ops end to end against eager torch: grid_sample, interpolate in every mode,
pixel_shuffle / pixel_unshuffle, einsum (diagonals included) and GRU layers. NaN and infinities in the inputs
(and in grid_sample's grid) must come out where eager puts them."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import pockettorch
from pockettorch import errors
from support import bytes_with_params


class Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def rnd(*shape, seed=0, special=False, infinities=True):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    if special:  # one NaN, one +inf, one -inf
        flat = x.view(-1)
        flat[0] = float("nan")
        if infinities:
            flat[flat.numel() // 2], flat[-1] = float("inf"), float("-inf")
    return x


# Eager itself disagrees on an infinity next to a zero-weight linear tap (2-D bilinear gives NaN, 1-D linear inf),
# so the (bi)linear cases check NaN propagation only.
LINEAR_MODES = ("bilinear", "linear")


def grid(n, oh, ow, seed=1, special=False):
    """Sample points in [-1.3, 1.3] (some outside the image), optionally with NaN / inf coordinates."""
    g = torch.rand(n, oh, ow, 2, generator=torch.Generator().manual_seed(seed)) * 2.6 - 1.3
    if special:
        g[0, 0, 0, 0], g[0, 0, 1, 1], g[0, -1, -1, 0] = float("nan"), float("inf"), float("-inf")
    return g


# -- grid_sample --

@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample(check_eager, mode, padding, align_corners):
    m = Fn(lambda x, g: F.grid_sample(x, g, mode=mode, padding_mode=padding, align_corners=align_corners))
    program = check_eager(m, (rnd(2, 3, 5, 7), grid(2, 4, 6)), threads=2)
    assert program.graph.op_histogram() == {"grid_sample": 1}


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
def test_grid_sample_nan_and_inf(check_eager, mode, padding):
    """NaN/inf pixels and NaN/inf grid coordinates, as eager (border/reflection clip NaN coordinates to 0)."""
    m = Fn(lambda x, g: F.grid_sample(x, g, mode=mode, padding_mode=padding, align_corners=False))
    check_eager(m, (rnd(1, 2, 4, 5, special=True), grid(1, 3, 4, special=True)))


def test_grid_sample_single_pixel_image_with_align_corners(check_eager):
    m = Fn(lambda x, g: F.grid_sample(x, g, padding_mode="reflection", align_corners=True))
    check_eager(m, (rnd(1, 2, 1, 1), grid(1, 3, 3)))


def test_affine_grid_then_grid_sample(check_eager):
    theta = torch.tensor([[[0.8, -0.3, 0.1], [0.2, 1.1, -0.2]]])
    m = Fn(lambda x: F.grid_sample(x, F.affine_grid(theta, [1, 3, 6, 6], align_corners=False), align_corners=False))
    check_eager(m, (rnd(1, 3, 6, 6),))


def test_grid_sample_bicubic_is_refused_at_export():
    m = Fn(lambda x, g: F.grid_sample(x, g, mode="bicubic", align_corners=False))
    with pytest.raises(errors.UnsupportedOpError, match="bicubic"):
        pockettorch.export(m, (rnd(1, 1, 4, 4), grid(1, 2, 2)))


# -- interpolate / upsample --

INTERP_CASES = [  # (mode, align_corners, size, scale_factor)
    ("nearest", None, (7, 11), None), ("nearest", None, None, 2), ("nearest", None, None, 0.6),
    ("nearest-exact", None, (7, 11), None), ("nearest-exact", None, None, 1.5),
    ("bilinear", False, (7, 11), None), ("bilinear", True, (7, 11), None), ("bilinear", False, None, 1.7),
    ("bilinear", True, None, 2), ("bilinear", False, (3, 2), None),
    ("bicubic", False, (7, 11), None), ("bicubic", True, (7, 11), None), ("bicubic", False, None, 2),
    ("bicubic", True, None, 1.5), ("bicubic", False, (3, 2), None), ("bicubic", False, (1, 1), None),
]


@pytest.mark.parametrize("mode,align_corners,size,scale", INTERP_CASES)
def test_interpolate(check_eager, mode, align_corners, size, scale):
    m = Fn(lambda x: F.interpolate(x, size=size, scale_factor=scale, mode=mode, align_corners=align_corners))
    program = check_eager(m, (rnd(2, 3, 5, 6, special=True, infinities=mode not in LINEAR_MODES),))
    assert program.graph.op_histogram() == {"interpolate": 1}


@pytest.mark.parametrize("module", [torch.nn.Upsample(scale_factor=2, mode="bicubic"),
                                    torch.nn.Upsample(size=(9, 4), mode="bilinear", align_corners=True),
                                    torch.nn.UpsamplingNearest2d(scale_factor=3),
                                    torch.nn.UpsamplingBilinear2d(size=(8, 8))], ids=repr)
def test_upsample_modules(check_eager, module):
    check_eager(module, (rnd(1, 2, 4, 5),))


@pytest.mark.parametrize("mode,size", [("nearest", 9), ("linear", 9), ("nearest-exact", 4)])
def test_interpolate_1d(check_eager, mode, size):
    x = rnd(2, 3, 6, special=True, infinities=mode not in LINEAR_MODES)
    check_eager(Fn(lambda x: F.interpolate(x, size=size, mode=mode)), (x,))


# -- pixel_shuffle --

@pytest.mark.parametrize("r,shape", [(2, (1, 8, 3, 5)), (3, (2, 9, 2, 2)), (2, (8, 4, 4))])
def test_pixel_shuffle(check_eager, r, shape):
    check_eager(torch.nn.PixelShuffle(r), (rnd(*shape, special=True),))


@pytest.mark.parametrize("r,shape", [(2, (1, 2, 6, 4)), (3, (2, 1, 3, 9))])
def test_pixel_unshuffle(check_eager, r, shape):
    check_eager(torch.nn.PixelUnshuffle(r), (rnd(*shape, special=True),))


# -- einsum --

EINSUM_CASES = [
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]), ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk->i", [(3, 4), (4, 5)]), ("i,j->ij", [(3,), (4,)]), ("bij,bjk->bki", [(2, 3, 4), (2, 4, 5)]),
    ("ii->i", [(4, 4)]), ("ii", [(4, 4)]), ("bii->bi", [(2, 3, 3)]), ("iij->ji", [(3, 3, 2)]),
    ("bnd,de,bne->bn", [(2, 3, 4), (4, 4), (2, 3, 4)]), ("...ij->...ji", [(2, 3, 4, 5)]),
    ("bchw,bkc->bkhw", [(2, 3, 4, 4), (2, 5, 3)]), ("i,i->", [(6,), (6,)]),
]


@pytest.mark.parametrize("equation,shapes", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum(check_eager, equation, shapes):
    inputs = tuple(rnd(*s, seed=i) for i, s in enumerate(shapes))
    check_eager(Fn(lambda *xs: torch.einsum(equation, *xs)), inputs)


def test_einsum_propagates_nan_and_inf(check_eager):
    check_eager(Fn(lambda a, b: torch.einsum("bij,bjk->bik", a, b)), (rnd(2, 3, 4, special=True), rnd(2, 4, 5)))


@pytest.mark.parametrize("offset,dims,shape", [(0, (0, 1), (4, 4)), (1, (0, 1), (3, 5)), (-2, (0, 1), (5, 3)),
                                               (0, (2, 0), (3, 2, 4)), (1, (-1, -2), (2, 3, 4))])
def test_diagonal(check_eager, offset, dims, shape):
    check_eager(Fn(lambda x: x.diagonal(offset, *dims) * 2), (rnd(*shape, special=True),))


# -- GRU --

@pytest.mark.parametrize("layers,bidirectional,batch_first,bias", [(1, False, False, True), (2, True, True, True),
                                                                   (2, False, True, False), (1, True, False, True)])
def test_gru(check_eager, layers, bidirectional, batch_first, bias):
    torch.manual_seed(0)
    gru = torch.nn.GRU(5, 6, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias)
    x = rnd(2, 4, 5) if batch_first else rnd(4, 2, 5)
    h0 = rnd(layers * (2 if bidirectional else 1), 2, 6, seed=3)
    program = check_eager(gru, (x, h0), threads=2)
    assert program.graph.op_histogram()["gru"] == layers * (2 if bidirectional else 1)  # one op a layer, direction


def test_gru_single_sequence_takes_the_gemv_path(check_eager):
    torch.manual_seed(0)
    check_eager(torch.nn.GRU(7, 9, batch_first=True), (rnd(1, 5, 7),))


def test_gru_nan_input(check_eager):
    torch.manual_seed(0)
    x = rnd(1, 3, 4)
    x[0, 1, 2] = float("nan")
    check_eager(torch.nn.GRU(4, 3, batch_first=True), (x,))


# -- hostile programs: the loader refuses parameters and operands the exporter never writes --

@pytest.mark.parametrize("params", [{"mode": 3}, {"mode": -1}, {"padding": 3}, {"padding": -1},
                                    {"align_corners": 2}], ids=str)
def test_grid_sample_bad_params_refused_at_load(params):
    program = pockettorch.export(Fn(lambda x, g: F.grid_sample(x, g, align_corners=False)),
                                 (rnd(1, 2, 4, 4), grid(1, 3, 3)))
    with pytest.raises(errors.BadParamsError):
        pockettorch.load(bytes_with_params(program, "grid_sample", params))


@pytest.mark.parametrize("op,module,inputs", [
    ("gru", torch.nn.GRU(3, 4, batch_first=True), (rnd(2, 5, 3),)),
    ("grid_sample", Fn(lambda x, g: F.grid_sample(x, g, align_corners=True)), (rnd(1, 2, 4, 4), grid(1, 3, 3))),
], ids=["gru", "grid_sample"])
def test_swapped_operands_refused_at_load(op, module, inputs):
    """Operands exchanged in the file (the grid for the image, w_ih for w_hh) give a load error, not a crash."""
    program = pockettorch.export(module, inputs)
    node = next(n for n in program.graph.nodes if n.op == op)
    a, b = (0, 1) if op == "grid_sample" else (2, 3)
    node.inputs[a], node.inputs[b] = node.inputs[b], node.inputs[a]
    program._bytes = None
    with pytest.raises(errors.BadOperandsError):
        pockettorch.load(program.to_bytes())
