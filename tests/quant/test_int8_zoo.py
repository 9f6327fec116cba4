"""The zoo's mobilenet_v2 and resnet18 (at 96x96 to keep CI short; the graph is the full network) and one layer of
its transformer encoder, exported with static int8 and run on the C runtime: every int8 tensor the runtime writes is
close to the PT2E reference run on the same input and the program's output within 1 quantization step of it, and
the file is at most 0.28x the size of the float weights. Per tensor, a 1-step difference a kernel may make (float
rounding of the requantization) propagates: a 1x1 projection conv summing hundreds of inputs that each differ by
one step can differ by a few steps, so the CNNs' intermediate tensors are held to MAX_DRIFT; the one encoder layer
holds every int8 tensor to 1 step (docs/QUANTIZATION.md has the figures)."""
import pytest
import torch

from pockettorch.exporter import zoo

from quant_support import calibration, export_int8, int8_errors, lsb_error

pytestmark = pytest.mark.slow
MAX_DRIFT = {"mobilenet_v2": 4, "resnet18": 4, "transformer_encoder": 1}


def _model(name):
    if name == "transformer_encoder":
        torch.manual_seed(0)
        return zoo.TransformerEncoder(num_layers=1).eval(), (torch.randn(1, 32, 256),)
    model, _ = zoo.build(name)[:2]
    return model, (torch.randn(1, 3, 96, 96, generator=torch.Generator().manual_seed(0)),)


@pytest.mark.parametrize("name,int8_ops", [("mobilenet_v2", {"qconv2d": 52, "qbinary": 10, "qlinear": 1}),
                                           ("resnet18", {"qconv2d": 20, "qbinary": 8, "qmax_pool2d": 1}),
                                           ("transformer_encoder", {"qlinear": 4, "qbinary": 2})])
def test_zoo_model_static_int8_within_one_step(name, int8_ops):
    model, inputs = _model(name)
    program = export_int8(model, inputs)
    hist = program.graph.op_histogram()
    for op, count in int8_ops.items():
        assert hist.get(op) == count, hist
    x = tuple(t * 0.9 for t in calibration(inputs, 1, seed=7)[0])
    errors = int8_errors(program, x)
    assert max(errors.values()) <= MAX_DRIFT[name], {k: v for k, v in errors.items() if v > 1}
    if name != "transformer_encoder":  # its output is a float layer_norm's
        assert lsb_error(program, x) <= 1.0 + 1e-4
    float_bytes = 4 * sum(p.numel() for p in model.parameters())
    assert len(program.to_bytes()) <= 0.28 * float_bytes
