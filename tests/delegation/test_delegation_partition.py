"""The partitioner (exporter/partition.py) with the test-only backend (fixtures/elementwise_backend.py): which nodes
go to the backend, how groups are cut, what the program stores and reports. Programs are run through the Python
binding, which has no test backend compiled in, so every delegate runs its CPU fallback there (the runtime tests run
the backend itself)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import pockettorch
from pockettorch import errors
from pockettorch.exporter import backends as registry
from pockettorch.exporter.backends.base import Subgraph

import delegation_support as support
import models
from fixtures.elementwise_backend import ElementwiseTestBackend


@pytest.fixture(autouse=True)
def test_backend():
    support.register_test_backend()
    yield
    registry.unregister(ElementwiseTestBackend.name)


def _export(module, inputs, **kw):
    return pockettorch.export(module, inputs, backends=[ElementwiseTestBackend.name], **kw)


def _ops(program):
    return [n.op for n in program.graph.nodes]


def _eager_matches(program, module, inputs):
    with pockettorch.load(program.to_bytes()) as m:
        got = m(*inputs)
    want = module(*inputs)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-6, atol=1e-6)


def test_fully_supported_model_is_one_delegate_before_its_fallback():
    module, inputs = models.AllSupported(), models.inputs()
    program = _export(module, inputs)
    ops = _ops(program)
    assert ops[0] == "delegate" and "delegate" not in ops[1:]
    delegate = program.graph.nodes[0]
    assert delegate.params == {"delegate": 0, "fallback": len(ops) - 1}
    assert [t.name for t in delegate.inputs] == [t.name for t in program.graph.inputs]
    assert delegate.outputs == program.graph.outputs
    d = program.metadata["delegation"]
    assert d["cpu_ops"] == 0 and d["backends"] == {"test_elementwise": {"partitions": 1, "ops": len(ops) - 1,
                                                                         "transfers": 3}}
    assert program.metadata["format"] == "1.3"
    assert "delegated: test_elementwise 3 ops in 1 partition, 3 transfers; cpu 0 ops" in program.summary()
    _eager_matches(program, module, inputs)


def test_unsupported_op_in_the_middle_splits_the_graph():
    module, inputs = models.SplitBySigmoid(), models.inputs(1)
    program = _export(module, inputs)
    ops = _ops(program)
    assert ops == ["delegate", "binary", "binary", "unary", "delegate", "binary", "binary", "unary"]
    first, second = program.graph.nodes[0], program.graph.nodes[4]
    assert (first.params, second.params) == ({"delegate": 0, "fallback": 2}, {"delegate": 1, "fallback": 3})
    # `a` leaves the first partition twice (to sigmoid and as a program output) and enters the second
    a = program.graph.nodes[2].outputs[0]
    assert first.outputs == [a] and a in second.inputs and a in program.graph.outputs
    d = program.metadata["delegation"]
    assert (d["cpu_ops"], d["backends"]["test_elementwise"]["partitions"]) == (1, 2)
    assert [e["transfers"] for e in d["delegates"]] == [3, 4]  # x, y -> a;  s, a, x -> out
    _eager_matches(program, module, inputs)


def test_islands_smaller_than_min_partition_nodes_stay_on_the_cpu():
    module, inputs = models.Islands(), models.inputs(2)
    program = _export(module, inputs)
    assert "delegate" not in _ops(program)
    # add+sigmoid fuse into one binary node with a sigmoid activation, which the backend does not take: only the
    # mul is supported, alone between CPU nodes
    assert program.metadata["delegation"] == {"cpu_ops": 4, "backends": {}, "delegates": []}
    assert program.metadata["format"] == "1.1"  # no DELEGATES section
    _eager_matches(program, module, inputs)


def test_groups_stay_convex():
    """add -> mul directly and add -> sigmoid -> mul: one group {add, mul} would have to wait for the CPU in its
    middle, so with groups of one allowed each is its own partition, in an order the loader accepts."""

    class EveryNode(ElementwiseTestBackend):
        min_partition_nodes = 1

    registry.register(EveryNode)
    module, inputs = models.Diamond(), models.inputs(3)
    program = _export(module, inputs)
    assert _ops(program) == ["delegate", "binary", "unary", "delegate", "binary"]
    assert program.metadata["delegation"]["backends"]["test_elementwise"]["partitions"] == 2
    _eager_matches(program, module, inputs)


def test_memory_plan_keeps_a_delegates_outputs_off_its_inputs():
    program = _export(models.SplitBySigmoid(), models.inputs())
    offsets = program.plan.offsets
    for node in program.graph.nodes:
        if node.op != "delegate":
            continue
        ins = [(offsets[id(t)], offsets[id(t)] + t.nbytes) for t in node.inputs if not t.is_constant]
        for out in node.outputs:
            lo, hi = offsets[id(out)], offsets[id(out)] + out.nbytes
            assert all(hi <= a or b <= lo for a, b in ins), f"{out.name} overlaps an input of {node}"


def test_backend_options_reach_compile_and_constants_are_inputs():
    seen: list[Subgraph] = []

    class Recording(ElementwiseTestBackend):
        def compile(self, subgraph):
            seen.append(subgraph)
            return super().compile(subgraph)

    registry.register(Recording)

    class WithWeight(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.randn(2, 3, 8))

        def forward(self, x, y):
            return torch.relu(x * self.w + y)

    module, inputs = WithWeight(), models.inputs(4)
    program = _export(module, inputs, backend_options={"test_elementwise": {"precision": "fp16"}})
    assert len(seen) == 1 and seen[0].options == {"precision": "fp16"}
    assert sum(t.is_constant for t in seen[0].inputs) == 1  # the weight: the backend's to upload at init
    assert program.metadata["delegation"]["delegates"][0]["transfers"] == 3  # x, y in; out
    with torch.no_grad():
        _eager_matches(program, module, inputs)


def test_bad_requests_are_refused():
    module, inputs = models.AllSupported(), models.inputs()
    with pytest.raises(errors.InvalidArgumentError, match="no delegate backend named 'nope'"):
        pockettorch.export(module, inputs, backends=["nope"])
    with pytest.raises(errors.InvalidArgumentError, match="not in backends"):
        _export(module, inputs, backend_options={"vulkan": {"precision": "fp16"}})
    seq = torch.export.Dim("seq", min=2, max=8)
    with pytest.raises(errors.InvalidArgumentError, match="static shapes"):
        _export(module, inputs, dynamic_shapes=({1: seq}, {1: seq}))


def test_a_backend_that_compiles_nothing_is_refused():
    class Empty(ElementwiseTestBackend):
        def compile(self, subgraph):
            return b""

    registry.register(Empty)
    with pytest.raises(errors.InvalidArgumentError, match="expected non-empty bytes"):
        _export(models.AllSupported(), models.inputs())


def test_inspect_shows_the_partition(tmp_path):
    from click.testing import CliRunner

    from pockettorch.cli import cli

    path = _export(models.SplitBySigmoid(), models.inputs()).save(tmp_path / "split.ptm")
    result = CliRunner().invoke(cli, ["inspect", path])
    assert result.exit_code == 0, result.output
    assert "delegated: test_elementwise 5 ops in 2 partitions, 7 transfers; cpu 1 ops" in result.output
    assert "delegate 0: test_elementwise, 2 ops, inactive here (backend 'test_elementwise' is not compiled" in result.output
