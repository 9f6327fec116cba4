"""Models whose export needs the general indexing ops, exported and run on the C runtime against eager:
a small BERT sentence encoder (Hugging Face `BertModel` from a small config with random weights, mean pooling
on top: its attention mask is built with two index tensors), a Swin-like block (shifted windows with roll,
relative position bias, an AdaptiveAvgPool1d head that torch.export leaves as as_strided) and a small
`transformers` Swin model."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import pockettorch
from support import assert_matches_eager

transformers = pytest.importorskip("transformers")


class MeanPooledBert(nn.Module):
    """Sentence embeddings as sentence-transformers makes them: the mean of the token states under the mask."""

    def __init__(self, **config):
        super().__init__()
        torch.manual_seed(0)
        cfg = transformers.BertConfig(vocab_size=120, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                      intermediate_size=64, max_position_embeddings=64, **config)
        self.bert = transformers.BertModel(cfg).eval()

    def forward(self, input_ids, attention_mask, token_type_ids):
        h = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp(min=1e-9)


def _bert_inputs(batch=3, seq=11):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 120, (batch, seq), generator=g)
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[1, 7:] = 0   # padded sentences
    mask[2, 3:] = 0
    types = torch.zeros(batch, seq, dtype=torch.long)
    types[:, 5:] = 1
    return ids, mask, types


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_bert_sentence_encoder_matches_eager(attn):
    model = MeanPooledBert(attn_implementation=attn)
    inputs = _bert_inputs()
    program = assert_matches_eager(model, inputs, tol=1e-4)
    assert "advanced_index" in program.summary()
    got = pockettorch.load(program.to_bytes())(*inputs)
    with torch.no_grad():
        want = model(*inputs)
    assert float(nn.functional.cosine_similarity(got, want).min()) >= 0.9999


class SwinLikeBlock(nn.Module):
    """One shifted-window attention block with a relative position bias and Swin's pooled head."""

    def __init__(self, dim=16, heads=2, window=4, shift=2, res=8, classes=5):
        super().__init__()
        torch.manual_seed(0)
        self.dim, self.heads, self.w, self.shift, self.res = dim, heads, window, shift, res
        self.norm1, self.norm2, self.norm = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.rel_bias = nn.Parameter(torch.randn((2 * window - 1) ** 2, heads))
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + window - 1
        self.register_buffer("rel_index", rel[..., 0] * (2 * window - 1) + rel[..., 1])
        self.pool, self.head = nn.AdaptiveAvgPool1d(1), nn.Linear(dim, classes)

    def _windows(self, h):
        b, w, n = h.shape[0], self.w, self.res // self.w
        return h.view(b, n, w, n, w, self.dim).permute(0, 1, 3, 2, 4, 5).reshape(-1, w * w, self.dim)

    def forward(self, x):  # [B, res * res, dim]
        b, length, c = x.shape
        w, heads = self.w, self.heads
        h = torch.roll(self.norm1(x).view(b, self.res, self.res, c), (-self.shift, -self.shift), (1, 2))
        win = self._windows(h)
        q, k, v = self.qkv(win).reshape(-1, w * w, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        attn = (q * (c // heads) ** -0.5) @ k.transpose(-2, -1)
        bias = self.rel_bias[self.rel_index.view(-1)].view(w * w, w * w, -1).permute(2, 0, 1)
        o = self.proj(((attn + bias).softmax(-1) @ v).transpose(1, 2).reshape(-1, w * w, c))
        n = self.res // w
        o = o.view(b, n, n, w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(b, self.res, self.res, c)
        x = x + torch.roll(o, (self.shift, self.shift), (1, 2)).reshape(b, length, c)
        x = x + self.mlp(self.norm2(x))
        return self.head(self.pool(self.norm(x).transpose(1, 2)).flatten(1))


def test_swin_like_block_with_adaptive_avg_pool1d_matches_eager():
    x = torch.randn(2, 64, 16, generator=torch.Generator().manual_seed(2))
    assert_matches_eager(SwinLikeBlock(), (x,), tol=1e-4)


def test_transformers_swin_matches_eager():
    torch.manual_seed(0)
    cfg = transformers.SwinConfig(image_size=32, patch_size=4, embed_dim=16, depths=[2, 1], num_heads=[2, 2],
                                  window_size=4, num_labels=3)
    model = transformers.SwinForImageClassification(cfg).eval()

    class Logits(nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, pixels):
            return self.m(pixel_values=pixels).logits

    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    assert_matches_eager(Logits(), (x,), tol=1e-4)
