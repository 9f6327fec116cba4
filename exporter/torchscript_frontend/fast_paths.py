"""PyTorch's fused fast paths in scripted library modules, resolved on the TorchScript graph before conversion.

torch.jit.script of nn.TransformerEncoderLayer / nn.MultiheadAttention / nn.TransformerEncoder keeps their fast
paths: a chain of run-time checks (device, autograd, autocast, ranks, dtypes, built with list appends the converter
cannot take) guarding a fused kernel (aten::_transformer_encoder_layer_fwd, ...). PyTorch takes a fast path only when
its kernel computes what the code beside it computes, so the program keeps that code, the reference path, as
torch.export does for the Python module:

1. every `prim::If` with a fast-path kernel in one branch takes the other (its condition, and the early-return flag
   TorchScript derives from it, become False);
2. what the checks ask is answered with what holds for an inference program on the CPU runtime: no autograd
   (requires_grad, is_grad_enabled), no autocast, dense CPU tensors (device, is_nested), and the static facts of the
   graph: a tensor's rank (from the example inputs' ranks through the ops whose output rank follows from their
   inputs') and dtype (of the inputs and parameters), `x is x`;
3. TorchScript's own passes fold the rest (constant propagation, list-mutation removal, dead code elimination) until
   nothing changes, so the checks and their list appends disappear.

Graphs without a fast-path kernel are left untouched.
"""
from __future__ import annotations

import torch

FAST_PATH_KERNELS = frozenset({
    "aten::_transformer_encoder_layer_fwd", "aten::_native_multi_head_attention",
    "aten::_nested_tensor_from_mask", "aten::_nested_tensor_from_mask_left_aligned",
})
# Inference-time answers (see the module docstring).
_FALSE = frozenset({"aten::is_grad_enabled", "aten::is_autocast_enabled", "prim::requires_grad", "prim::is_nested"})
# prim::dtype's integer codes (c10::ScalarType) by TensorType.scalarType() name.
_DTYPE_CODES = {"Byte": 0, "Char": 1, "Short": 2, "Int": 3, "Long": 4, "Half": 5, "Float": 6, "Double": 7,
                "Bool": 11, "BFloat16": 15}
# Ops whose output has the rank of their first input, and broadcasting ones (the largest input rank).
_RANK_OF_FIRST = frozenset({
    "aten::layer_norm", "aten::dropout", "aten::relu", "aten::gelu", "aten::contiguous", "aten::softmax",
    "aten::transpose", "aten::permute", "aten::linear", "aten::scaled_dot_product_attention", "aten::masked_fill",
    "aten::to", "aten::clone", "aten::tanh", "aten::sigmoid", "aten::silu", "aten::neg", "aten::type_as",
    "aten::group_norm", "aten::batch_norm"})
_BROADCASTING = frozenset({"aten::add", "aten::sub", "aten::mul", "aten::div", "aten::where", "aten::pow"})
MAX_ROUNDS = 20


def resolve_fast_paths(graph: torch.Graph, ts_module) -> int:
    """Rewrite `graph` (the converter's inlined graph) in place; returns how many fast paths were dropped."""
    dropped = _take_reference_branches(graph)
    if not dropped:
        return 0
    for _ in range(MAX_ROUNDS):
        answered = _answer_checks(graph, ts_module)
        torch._C._jit_pass_constant_propagation(graph)
        torch._C._jit_pass_remove_mutation(graph)
        torch._C._jit_pass_dce(graph)
        dropped += _take_reference_branches(graph)
        if not answered:
            break
    return dropped


def _nodes(block):
    for node in list(block.nodes()):
        yield node
        for sub in node.blocks():
            yield from _nodes(sub)


def _has_kernel(block) -> bool:
    return any(n.kind() in FAST_PATH_KERNELS for n in block.nodes())


def _take_reference_branches(graph) -> int:
    count = 0
    for node in list(_nodes(graph.block())):
        if node.kind() != "prim::If":
            continue
        then_block, else_block = node.blocks()
        in_then, in_else = _has_kernel(then_block), _has_kernel(else_block)
        if in_then == in_else:
            continue
        condition = node.inputsAt(0)
        if condition.node().kind() == "prim::Constant" and condition.toIValue() == in_else:
            continue  # already taking the reference branch
        value = _constant_before(graph, node, in_else)
        node.replaceInput(0, value)
        condition.replaceAllUsesAfterNodeWith(node, value)  # the early-return flag TorchScript yields from it
        count += 1
    return count


def _constant_before(graph, node, value):
    constant = graph.insertConstant(value)
    constant.node().moveBefore(node)
    return constant


def _replace(graph, node, value) -> None:
    node.output().replaceAllUsesWith(_constant_before(graph, node, value))
    node.destroy()


def _tensor_type(value):
    t = value.type()
    return t if isinstance(t, torch._C.TensorType) else None


def _answer_checks(graph, ts_module) -> int:
    ranks = _ranks(graph, ts_module)
    count = 0
    for node in list(_nodes(graph.block())):
        kind = node.kind()
        if kind in _FALSE:
            _replace(graph, node, False)
        elif kind == "prim::device":
            _replace(graph, node, torch.device("cpu"))
        elif kind in ("aten::__is__", "aten::__isnot__") and node.inputsAt(0).unique() == node.inputsAt(1).unique():
            _replace(graph, node, kind == "aten::__is__")
        elif (kind == "prim::dtype" and (t := _tensor_type(node.inputsAt(0))) is not None
              and t.scalarType() in _DTYPE_CODES):
            _replace(graph, node, _DTYPE_CODES[t.scalarType()])
        elif (kind == "aten::is_floating_point" and (t := _tensor_type(node.inputsAt(0))) is not None
              and t.scalarType() in _DTYPE_CODES):
            _replace(graph, node, t.scalarType() in ("Half", "Float", "Double", "BFloat16"))
        elif kind == "aten::dim" and node.inputsAt(0).unique() in ranks:
            _replace(graph, node, ranks[node.inputsAt(0).unique()])
        else:
            continue
        count += 1
    return count


def _attribute(node, ts_module):
    """The module attribute a chain of prim::GetAttr from the module object reads (None when it is not one)."""
    path = []
    while node.kind() == "prim::GetAttr":
        path.append(node.s("name"))
        node = node.inputsAt(0).node()
    if node.kind() != "prim::CreateObject":
        return None
    value = ts_module
    for name in reversed(path):
        value = getattr(value, name, None)
    return value


def _ranks(graph, ts_module) -> dict[int, int]:
    """Value -> rank, for the tensors whose rank follows from the inputs' (and the parameters') ranks."""
    ranks: dict[int, int] = {}
    tuples: dict[int, list] = {}
    for v in graph.inputs():
        t = _tensor_type(v)
        if t is not None and t.dim() is not None:
            ranks[v.unique()] = t.dim()

    def visit(block):
        for node in block.nodes():
            for sub in node.blocks():
                visit(sub)
            _rank_of(node, ranks, tuples, ts_module)

    visit(graph.block())
    return ranks


def _rank_of(node, ranks: dict, tuples: dict, ts_module) -> None:
    kind = node.kind()
    known = ranks.get
    if kind == "prim::TupleConstruct":
        tuples[node.output().unique()] = [known(v.unique()) for v in node.inputs()]
        return
    if kind in ("prim::TupleUnpack", "prim::TupleIndex"):
        elems = tuples.get(node.inputsAt(0).unique())
        if elems is None:
            return
        if kind == "prim::TupleUnpack":
            pairs = list(zip(node.outputs(), elems))
        else:
            index = node.inputsAt(1).toIValue()
            pairs = [(node.output(), elems[index])] if isinstance(index, int) and -len(elems) <= index < len(elems) \
                else []
        ranks.update({o.unique(): r for o, r in pairs if r is not None})
        return
    if kind == "prim::If":
        then_out, else_out = (list(b.outputs()) for b in node.blocks())
        for out, a, b in zip(node.outputs(), then_out, else_out):
            if known(a.unique()) is not None and known(a.unique()) == known(b.unique()):
                ranks[out.unique()] = known(a.unique())
        return
    if kind == "prim::ListUnpack":
        source = node.inputsAt(0).node()
        if source.kind() in ("aten::chunk", "aten::split", "aten::unbind"):
            r = known(source.inputsAt(0).unique())
            if r is not None:
                for out in node.outputs():
                    ranks[out.unique()] = r - (source.kind() == "aten::unbind")
        return
    outs = [o for o in node.outputs() if _tensor_type(o) is not None]
    if not outs:
        return
    ins = [known(v.unique()) for v in node.inputs() if _tensor_type(v) is not None]
    rank = None
    if kind in _RANK_OF_FIRST and ins and ins[0] is not None:
        rank = ins[0]
    elif kind in _BROADCASTING and ins and None not in ins:
        rank = max(ins)
    elif kind == "aten::unsqueeze" and ins and ins[0] is not None:
        rank = ins[0] + 1
    elif kind == "aten::select" and ins and ins[0] is not None:
        rank = ins[0] - 1
    elif kind in ("aten::view", "aten::reshape") and node.inputsAt(1).node().kind() == "prim::ListConstruct":
        rank = node.inputsAt(1).node().inputsSize()
    elif kind == "aten::unflatten" and ins and ins[0] is not None \
            and node.inputsAt(2).node().kind() == "prim::ListConstruct":
        rank = ins[0] + node.inputsAt(2).node().inputsSize() - 1
    elif kind == "prim::GetAttr":
        value = _attribute(node, ts_module)
        rank = value.dim() if isinstance(value, torch.Tensor) else None
    if rank is not None:
        for out in outs:
            ranks[out.unique()] = rank
