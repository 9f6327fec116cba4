"""The models the benchmarks run: the zoo's (pockettorch.exporter.zoo) and the bench's own, which need packages
the zoo does not (transformers). Every entry is built with seeded random weights; nothing is downloaded.

    module, example_inputs, metadata = models.build("bert_base")
    models.dynamic_shapes("bert_base")   # torch.export's dynamic_shapes for the `pockettorch_dynamic` column

A model with dynamic shapes is also exported once with its dims dynamic up to their bound (peers/pockettorch_dynamic):
run beside the program exported for the row's fixed shape, its ratio is the cost of being dynamic.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

BERT_BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
BERT_VOCAB = 30522  # bert-base-uncased's
SEQ_BOUND = 128  # the dynamic programs' largest sequence length


def _bert_encoder():
    """transformers' BertModel from a BERT-base-sized config: (input_ids, attention_mask) -> last hidden state."""
    import torch
    import transformers

    class BertEncoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            config = transformers.BertConfig(vocab_size=BERT_VOCAB, max_position_embeddings=512, **BERT_BASE)
            self.bert = transformers.BertModel(config, add_pooling_layer=False)

        def forward(self, input_ids, attention_mask):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return BertEncoder()


@dataclass(frozen=True)
class BenchModel:
    name: str
    description: str
    factory: Callable
    inputs: Callable  # () -> example inputs (seeded)
    dynamic: bool = False  # its sequence dim (dim 1 of every input) is also exported dynamic, 1..SEQ_BOUND


def _ffn_stack():
    """Four transformer feed-forward blocks (1024 -> 4096 -> 1024, GELU, residual) on one token: 32M weights read
    once a run, like a small language model decoding, the shape weight-only int4/int8 is for."""
    import torch

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.up, self.down = torch.nn.Linear(1024, 4096), torch.nn.Linear(4096, 1024)

        def forward(self, x):
            return x + self.down(torch.nn.functional.gelu(self.up(x)))

    return torch.nn.Sequential(*(Block() for _ in range(4)))


def _ffn_inputs():
    import torch

    return (torch.randn(1, 1, 1024, generator=torch.Generator().manual_seed(0)),)  # [batch, token, hidden]


def _token_inputs(seq: int):
    def make():
        import torch

        g = torch.Generator().manual_seed(seq)
        return (torch.randint(0, BERT_VOCAB, (1, seq), generator=g), torch.ones(1, seq, dtype=torch.long))

    return make


BENCH: dict[str, BenchModel] = {m.name: m for m in (
    BenchModel("bert_base", "BertModel, BERT-base size (12 layers, hidden 768, 12 heads, ff 3072), batch 1, seq 128",
               _bert_encoder, _token_inputs(128), dynamic=True),
    BenchModel("bert_base_seq32", "the same BertModel at seq 32", _bert_encoder, _token_inputs(32),
               dynamic=True),
    BenchModel("ffn_stack", "4 feed-forward blocks (Linear 1024->4096, GELU, Linear 4096->1024, residual), batch 1 "
               "token: weight-bandwidth-bound, like LLM decoding", _ffn_stack, _ffn_inputs),
)}


def names() -> list[str]:
    from pockettorch.exporter import zoo

    return [*zoo.ZOO, *BENCH]


def known(name: str) -> bool:
    """A model of names(), or one with a quantization suffix (quant_variants: `mobilenet_v2@int8`)."""
    import quant_variants

    try:
        base, _ = quant_variants.split(name)
    except ValueError:
        return False
    return base in names()


def factory(name: str):
    """The model's module, in eval mode, for weights loaded from a state_dict: the zoo's on the meta device (no
    random init); the bench's with real tensors (their non-persistent buffers, e.g. BERT's position_ids, are in no
    state_dict)."""
    name = _base(name)
    if name in BENCH:
        return BENCH[name].factory().eval()
    import torch
    from pockettorch.exporter import zoo

    with torch.device("meta"):
        return zoo.ZOO[name].factory().eval()


def build(name: str, seed: int = 0):
    """(module in eval mode, example inputs, metadata), deterministic for a seed."""
    name = _base(name)
    if name not in BENCH:
        from pockettorch.exporter import zoo

        return zoo.build(name, seed)
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = BENCH[name].factory().eval()
    return module, BENCH[name].inputs(), {}


def dynamic_shapes(name: str):
    """torch.export's dynamic_shapes (sequence dim 1..SEQ_BOUND on every input), or None for a fixed-shape model."""
    import quant_variants

    name, scheme = quant_variants.split(name)
    if scheme or name not in BENCH or not BENCH[name].dynamic:  # quantized rows: fixed shapes only
        return None
    from torch.export import Dim

    seq = Dim("seq", min=1, max=SEQ_BOUND)
    return tuple({1: seq} for _ in BENCH[name].inputs())


def _base(name: str) -> str:
    """The float model a quantized row stands for (`mobilenet_v2@int8` -> `mobilenet_v2`)."""
    import quant_variants

    return quant_variants.split(name)[0]
