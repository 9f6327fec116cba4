"""Architectures composed from torch.nn building blocks, as people write them for sequence, image and audio tasks."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _seeded(seed: int = 0) -> torch.Generator:
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed + 1)


class RecurrentTagger(nn.Module):
    """Embedding -> (GRU | LSTM), several layers, both directions -> per-step classifier (a sequence tagger)."""

    def __init__(self, cell: type, vocab: int = 50, dim: int = 16, hidden: int = 24, tags: int = 5):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.rnn = cell(dim, hidden, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(2 * hidden, tags)

    def forward(self, ids):
        y, _ = self.rnn(self.embed(ids))
        return self.head(y).log_softmax(-1)


class SpeechCommandGRU(nn.Module):
    """Conv1d front end over features (time-major GRU, batch_first=False) -> last state -> classes."""

    def __init__(self, features: int = 20, hidden: int = 32, classes: int = 10):
        super().__init__()
        self.front = nn.Sequential(nn.Conv1d(features, 32, 5, stride=2, padding=2), nn.BatchNorm1d(32), nn.ReLU())
        self.gru = nn.GRU(32, hidden, num_layers=1)
        self.out = nn.Linear(hidden, classes)

    def forward(self, feats):  # [B, F, T]
        h = self.front(feats).permute(2, 0, 1)  # [T, B, C]
        _, last = self.gru(h)
        return self.out(last[-1])


class UNet(nn.Module):
    """A two-level UNet: conv blocks, max-pool down, bilinear or transposed-conv up, skip concatenation."""

    def __init__(self, transposed: bool, ch: int = 8, classes: int = 3):
        super().__init__()

        def block(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(),
                                 nn.Conv2d(o, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU())

        self.enc1, self.enc2, self.mid = block(3, ch), block(ch, 2 * ch), block(2 * ch, 4 * ch)
        if transposed:
            self.up2, self.up1 = nn.ConvTranspose2d(4 * ch, 4 * ch, 2, 2), nn.ConvTranspose2d(2 * ch, 2 * ch, 2, 2)
        else:
            self.up2 = self.up1 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.dec2, self.dec1 = block(6 * ch, 2 * ch), block(3 * ch, ch)
        self.head = nn.Conv2d(ch, classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        m = self.mid(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.head(d1)


class ConvAutoencoder(nn.Module):
    """Strided-conv encoder to a latent vector and a transposed-conv decoder back to the image."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU(),
                                 nn.Flatten(), nn.Linear(16 * 4 * 4, 12))
        self.dec = nn.Sequential(nn.Linear(12, 16 * 4 * 4), nn.ReLU(), nn.Unflatten(1, (16, 4, 4)),
                                 nn.ConvTranspose2d(16, 8, 3, 2, 1, output_padding=1), nn.ReLU(),
                                 nn.ConvTranspose2d(8, 1, 3, 2, 1, output_padding=1), nn.Sigmoid())

    def forward(self, x):
        return self.dec(self.enc(x))


class SuperResolution(nn.Module):
    """ESPCN: convolutions to r^2 channels per output channel, then pixel_shuffle (sub-pixel upscaling)."""

    def __init__(self, r: int = 3):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.Tanh(), nn.Conv2d(16, 8, 3, padding=1), nn.Tanh(),
                                  nn.Conv2d(8, r * r, 3, padding=1))
        self.shuffle = nn.PixelShuffle(r)

    def forward(self, x):
        return self.shuffle(self.body(x))


class SpaceToDepthNet(nn.Module):
    """pixel_unshuffle stem (as in efficient detectors) and a bicubic resize back to the input size."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(12, 16, 3, padding=1), nn.SiLU())
        self.head = nn.Conv2d(16, 3, 1)

    def forward(self, x):
        y = self.head(self.stem(x))
        return F.interpolate(y, size=x.shape[-2:], mode="bicubic", align_corners=False)


class SpatialTransformer(nn.Module):
    """A spatial transformer network: a localization net predicts an affine grid that grid_sample applies."""

    def __init__(self):
        super().__init__()
        self.loc = nn.Sequential(nn.Conv2d(1, 8, 5, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                                 nn.Linear(32, 6))
        with torch.no_grad():
            self.loc[-1].weight.mul_(0.1)
            self.loc[-1].bias.copy_(torch.tensor([1.0, 0, 0, 0, 1.0, 0]))

    def forward(self, x):
        theta = self.loc(x).view(-1, 2, 3)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class EinsumAttention(nn.Module):
    """Multi-head attention written with einsum (as in many research codebases), with a bilinear pooling head."""

    def __init__(self, dim: int = 32, heads: int = 4):
        super().__init__()
        self.heads, self.qkv, self.proj = heads, nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.bilinear = nn.Parameter(torch.randn(dim, dim) * 0.1)

    def forward(self, x):  # [B, N, D]
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).unbind(2)
        att = torch.einsum("bqhd,bkhd->bhqk", q, k).mul(float(d // self.heads) ** -0.5).softmax(-1)
        y = self.proj(torch.einsum("bhqk,bkhd->bqhd", att, v).reshape(b, n, d))
        return torch.einsum("bnd,de,bne->bn", y, self.bilinear, x)


class TemporalConvNet(nn.Module):
    """TCN: causal dilated conv1d blocks with residuals (left padding), as used for keyword spotting."""

    def __init__(self, ch: int = 16):
        super().__init__()
        self.inp = nn.Conv1d(4, ch, 1)
        self.convs = nn.ModuleList(nn.Conv1d(ch, ch, 3, dilation=d) for d in (1, 2, 4))
        self.out = nn.Linear(ch, 6)

    def forward(self, x):
        h = self.inp(x)
        for conv in self.convs:
            h = h + F.gelu(conv(F.pad(h, (2 * conv.dilation[0], 0))))
        return self.out(h.mean(-1))


class TransformerSeq2Seq(nn.Module):
    """nn.Transformer with embeddings, a causal target mask and an output projection."""

    def __init__(self, vocab: int = 40, dim: int = 32):
        super().__init__()
        self.src, self.tgt = nn.Embedding(vocab, dim), nn.Embedding(vocab, dim)
        self.core = nn.Transformer(dim, 4, 2, 2, 64, dropout=0.0, batch_first=True)
        self.out = nn.Linear(dim, vocab)

    def forward(self, src, tgt):
        mask = nn.Transformer.generate_square_subsequent_mask(tgt.shape[1])
        return self.out(self.core(self.src(src), self.tgt(tgt), tgt_mask=mask, tgt_is_causal=True))


def _ids(*shape, vocab: int = 40):
    return torch.randint(0, vocab, shape, generator=torch.Generator().manual_seed(5))


def _rand(*shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(6))


def _build(factory, *inputs):
    def build():
        _seeded()
        return factory(), inputs
    return build


ARCHITECTURES = {
    "gru_tagger": _build(lambda: RecurrentTagger(nn.GRU), _ids(2, 7)),
    "lstm_tagger": _build(lambda: RecurrentTagger(nn.LSTM), _ids(2, 7)),
    "speech_command_gru": _build(SpeechCommandGRU, _rand(2, 20, 16)),
    "unet_bilinear": _build(lambda: UNet(transposed=False), _rand(1, 3, 16, 16)),
    "unet_transposed": _build(lambda: UNet(transposed=True), _rand(1, 3, 16, 16)),
    "conv_autoencoder": _build(ConvAutoencoder, _rand(2, 1, 16, 16)),
    "espcn_pixel_shuffle": _build(SuperResolution, _rand(1, 1, 8, 8)),
    "space_to_depth_bicubic": _build(SpaceToDepthNet, _rand(1, 3, 8, 12)),
    "spatial_transformer": _build(SpatialTransformer, _rand(2, 1, 12, 12)),
    "einsum_attention": _build(EinsumAttention, _rand(2, 6, 32)),
    "temporal_conv_net": _build(TemporalConvNet, _rand(2, 4, 20)),
    "transformer_seq2seq": _build(TransformerSeq2Seq, _ids(2, 6), _ids(2, 5)),
}
