"""Architectures beyond the zoo imported from TorchScript: recurrent layers, `if`s on tensor values (torch.cond,
run as both branches + where), `if`s decided by constants, loops over constant ranges, and the loop that cannot be
imported (its trip count is an input's size)."""
import pytest
import torch

import pockettorch
from pockettorch import errors
from support_torchscript import (BiLSTM, ConstantLoop, ConstantPredicates, DataDependentIf, GRUTagger,
                                 PaddedEncoderLayer, SelfAttention, SequenceFirstEncoder, ShapeLoop, SizeArithmetic,
                                 import_and_compare, save)


@pytest.mark.slow
def test_scripted_gru_runs_as_gru_ops(tmp_path):
    model, inputs = GRUTagger(), (torch.randn(2, 7, 12),)
    program = import_and_compare(save(model, inputs, tmp_path / "gru.pt", "script"), model, inputs)
    assert program.graph.op_histogram()["gru"] == 2  # one op per layer, as from Python


@pytest.mark.parametrize("model,shape", [(SelfAttention, (2, 5, 32)), (SequenceFirstEncoder, (5, 2, 32))],
                         ids=["multihead_attention", "seq_first_prenorm_encoder"])
def test_scripted_attention_fast_paths_are_dropped(model, shape, tmp_path):
    """Scripted attention modules carry PyTorch's fused fast paths; the program keeps the reference code (the same
    program as from Python) and matches eager, which takes the fast path under no_grad."""
    torch.manual_seed(0)
    model, inputs = model().eval(), (torch.randn(shape),)
    program = import_and_compare(save(model, inputs, tmp_path / "attn.pt", "script"), model, inputs)
    assert program.graph.op_histogram() == pockettorch.export(model, inputs).graph.op_histogram()


def test_scripted_padding_mask_fails_clearly(tmp_path):
    model = PaddedEncoderLayer().eval()
    inputs = (torch.randn(2, 5, 32), torch.tensor([[False] * 5, [False] * 3 + [True] * 2]))
    with pytest.raises(errors.ExportFailedError) as info:
        pockettorch.export(save(model, inputs, tmp_path / "pad.pt", "script"), inputs)
    assert "TorchScript conversion failed" in str(info.value) and "torch.jit.trace" in info.value.hint


def test_traced_bidirectional_lstm_with_hidden_state(tmp_path):
    model, inputs = BiLSTM(), (torch.randn(1, 5, 8),)
    program = import_and_compare(save(model, inputs, tmp_path / "lstm.ts", "trace", frozen=True), model, inputs)
    assert program.graph.op_histogram()["lstm"] == 2


@pytest.mark.parametrize("sign", [1, -1], ids=["true-branch", "false-branch"])
def test_scripted_data_dependent_if_runs_both_branches_and_selects(sign, tmp_path):
    """The program keeps the `if`: the same file answers for inputs taking either branch. The false branch makes
    NaN and inf where the true branch is taken; `where` keeps them out of the output, as eager does."""
    model = DataDependentIf()
    export_inputs = (torch.rand(2, 6) + 0.1,)
    path = save(model, export_inputs, tmp_path / "if.pt", "script")
    program = pockettorch.export(path, export_inputs)
    assert program.graph.op_histogram()["where"] == 1
    x = sign * (torch.rand(2, 6) + 0.1)
    with pockettorch.load(program.to_bytes()) as runtime:
        got = runtime(x)
    expected = model(x).detach()
    assert torch.isfinite(got).all() == torch.isfinite(expected).all()
    if sign > 0:
        assert torch.isfinite(got).all()  # the untaken branch's NaN and inf did not leak
    from support import assert_outputs_match
    assert_outputs_match(expected, got)


@pytest.mark.parametrize("kind", ["script", "trace"])
def test_constant_predicates_are_decided_at_export(kind, tmp_path):
    model, inputs = ConstantPredicates(), (torch.randn(3, 4),)
    program = import_and_compare(save(model, inputs, tmp_path / "c.pt", kind), model, inputs)
    ops = program.graph.op_histogram()
    assert "where" not in ops and "compare" not in ops  # no branch left to run
    assert ops == {"linear": 1}  # mode 1's linear (+ the relu fused into it); the disabled *100 is gone


def test_python_torch_cond_with_constant_and_tensor_predicates(check_eager):
    """The same inlining serves nn.Modules that call torch.cond directly."""

    class CondModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("flag", torch.tensor(1.0))

        def forward(self, x):
            y = torch.cond(x.mean() > 0, lambda t: t.exp(), lambda t: t.abs().sqrt(), (x,))
            return torch.cond(self.flag > 0, lambda t: t + 1, lambda t: t - 1, (y,))

    model = CondModel()
    program = check_eager(model, (torch.randn(4, 5).abs(),))
    assert program.graph.op_histogram()["where"] == 1
    with pockettorch.load(program.to_bytes()) as runtime:
        x = -torch.randn(4, 5).abs()
        torch.testing.assert_close(runtime(x), model(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["script", "trace"])
def test_loops_over_constant_ranges_are_unrolled(kind, tmp_path):
    model, inputs = ConstantLoop(), (torch.randn(2, 8),)
    program = import_and_compare(save(model, inputs, tmp_path / "loop.pt", kind, frozen=kind == "script"),
                                 model, inputs)
    assert program.graph.op_histogram()["linear"] == 3


def test_shape_dependent_loop_fails_naming_the_loop(tmp_path):
    model, inputs = ShapeLoop(), (torch.randn(2, 3),)
    path = save(model, inputs, tmp_path / "shape_loop.pt", "script")
    with pytest.raises(errors.UnsupportedOpError) as info:
        pockettorch.export(path, inputs)
    message = str(info.value)
    assert "prim::Loop" in message
    assert "for i in range(x.size(1))" in message  # the statement, from the archive's debug info
    assert "torch.jit.trace" in info.value.hint


def test_shape_dependent_loop_imports_when_traced(tmp_path):
    """The hint's way out: tracing unrolls the loop at the example's shape."""
    model, inputs = ShapeLoop(), (torch.randn(2, 3),)
    import_and_compare(save(model, inputs, tmp_path / "traced_loop.pt", "trace"), model, inputs)


def test_dict_example_inputs_and_dynamic_dims_by_name(tmp_path):
    class Pair(torch.nn.Module):
        def forward(self, tokens, scale):
            return tokens * scale.sum()

    model = Pair()
    inputs = (torch.randn(1, 6), torch.randn(1, 6))
    path = save(model, inputs, tmp_path / "pair.pt", "script")
    seq = torch.export.Dim("seq", min=2, max=16)
    program = pockettorch.export(path, {"scale": inputs[1], "tokens": inputs[0]},
                                 dynamic_shapes={"tokens": {1: seq}, "scale": {1: seq}})
    assert [i["name"] for i in program.metadata["inputs"]] == ["tokens", "scale"]
    with pockettorch.load(program.to_bytes()) as runtime:
        for n in (3, 16):
            a, b = torch.randn(1, n), torch.randn(1, n)
            torch.testing.assert_close(runtime(a, b), model(a, b), rtol=1e-5, atol=1e-5)


def test_traced_size_arithmetic_is_folded(tmp_path):
    model, inputs = SizeArithmetic(), (torch.randn(4, 3, 5),)
    import_and_compare(save(model, inputs, tmp_path / "sizes.pt", "trace"), model, inputs)


def test_traced_size_arithmetic_with_a_dynamic_dim_fails_clearly(tmp_path):
    model, inputs = SizeArithmetic(), (torch.randn(4, 3, 5),)
    path = save(model, inputs, tmp_path / "sizes.pt", "trace")
    with pytest.raises(errors.DynamicShapeError, match="computes sizes as tensors"):
        pockettorch.export(path, inputs, dynamic_shapes=({0: torch.export.Dim("n", min=2, max=8)},))
