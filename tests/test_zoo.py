"""Every zoo model exports, runs in the C runtime and matches eager PyTorch within 1e-4 of the output's max magnitude."""
import pytest

from pockettorch.exporter import zoo


@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_zoo_model_matches_eager(name, check_eager):
    module, inputs, metadata = zoo.build(name)
    program = check_eager(module, inputs, tol=1e-4, name=name, metadata=metadata)
    assert program.plan.arena_bytes <= program.plan.naive_bytes
    assert program.metadata["user"] == metadata


@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_zoo_model_matches_eager_on_two_threads(name, check_eager):
    """Two threads: the weights are packed on the session's pool (each packer splits its panels or row
    blocks over the threads), so a pack that skips or overlaps a share shows up here."""
    module, inputs, metadata = zoo.build(name)
    check_eager(module, inputs, tol=1e-4, threads=2, name=name, metadata=metadata)


@pytest.mark.parametrize("name", ["mobilenet_v2", "resnet18"])
def test_conv_nets_fold_batchnorm_and_fuse_activations(name):
    import pockettorch

    module, inputs, _ = zoo.build(name)
    hist = pockettorch.export(module, inputs).graph.op_histogram()
    assert "batch_norm" not in hist, hist
    assert "unary" not in hist, hist  # every ReLU/ReLU6 fused into its conv or add


def test_zoo_models_are_deterministic():
    a, xa, _ = zoo.build("mlp")
    b, xb, _ = zoo.build("mlp")
    assert all((p == q).all() for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert (xa[0] == xb[0]).all()


def test_transformer_layers_have_their_own_weights():
    m, _, _ = zoo.build("transformer_encoder")
    w = [layer.linear1.weight for layer in m.layers]
    assert len(w) == 4 and not (w[0] == w[1]).all()
