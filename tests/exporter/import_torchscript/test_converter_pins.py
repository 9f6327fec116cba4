"""What PocketTorch relies on in torch._export.converter.TS2EPConverter (private, torch 2.13). If torch changes one
of these, this file says which assumption of exporter/torchscript_frontend/ broke."""
import inspect

import pytest
import torch
from torch._export.converter import TS2EPConverter

from pockettorch.exporter.torchscript_frontend.convert import _convert

from support_torchscript import BiLSTM, ConstantLoop, DataDependentIf, ShapeLoop, SizeArithmetic


def convert(module, inputs, kind="script"):
    ts = torch.jit.script(module.eval()) if kind == "script" else torch.jit.trace(module.eval(), inputs)
    return TS2EPConverter(ts, inputs).convert()


def targets(ep) -> list:
    return [n.target for n in ep.graph.nodes if n.op == "call_function"]


def test_tensor_if_becomes_torch_cond():
    ep = convert(DataDependentIf(), (torch.randn(2, 6),))
    assert torch.ops.higher_order.cond in targets(ep)


def test_constant_range_loop_is_unrolled():
    ep = convert(ConstantLoop(), (torch.randn(2, 8),))
    assert targets(ep).count(torch.ops.aten.linear.default) == 3
    assert targets(ep).count(torch.ops.aten.tanh.default) == 3


def test_shape_dependent_loop_raises_with_the_node_kind_and_cause():
    """convert.py keys its hint on the cause's text and finds the node in the converter's `node` frame local."""
    with pytest.raises(RuntimeError, match="failed for node prim::Loop") as info:
        convert(ShapeLoop(), (torch.randn(2, 3),))
    assert "dynamic value of number of iterations" in str(info.value.__cause__)
    frames = []
    tb = info.value.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_locals.get("node"))
        tb = tb.tb_next
    assert any(isinstance(n, torch._C.Node) and n.kind() == "prim::Loop" for n in frames)


def test_traced_sizes_become_item_calls():
    """torch.jit.trace records arithmetic on x.size(0) on tensors; the converter reads the result back with
    `_local_scalar_dense` (sizes.py folds it)."""
    ep = convert(SizeArithmetic(), (torch.randn(4, 3, 4),), kind="trace")
    assert torch.ops.aten._local_scalar_dense.default in targets(ep)


def test_the_steps_of_convert_that_the_importer_runs_without_its_retrace():
    """convert.py's _convert repeats TS2EPConverter.convert() without its Dim.AUTO retrace: the names it calls
    exist, and the graph module's inputs are named after TorchScript values (convert.py renames them)."""
    from torch._export import converter

    for name in ("get_block_to_lifted_attrs", "TS2FXGraphConverter", "TS2EPConverter"):
        assert hasattr(converter, name)
    source = inspect.getsource(converter.TS2EPConverter.convert)
    assert "TS2FXGraphConverter(" in source and "replace_quantized_ops_with_standard_ops(gm)" in source
    assert "retrace_as_exported_program" in source
    gm = _convert(torch.jit.script(torch.nn.Linear(4, 2)), (torch.randn(1, 4),))
    assert [n.name for n in gm.graph.nodes if n.op == "placeholder"] == ["input_1"]


def test_scripted_lstm_returning_its_state_is_a_converter_limit():
    with pytest.raises(RuntimeError, match="prim::If"):
        convert(BiLSTM(), (torch.randn(1, 5, 8),))
