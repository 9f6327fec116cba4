"""torch.cond without a control-flow op in the runtime.

A tensor-dependent `if` reaches the exporter as `torch.ops.higher_order.cond(pred, true_fn, false_fn, operands)`:
TorchScript's `prim::If` (the TorchScript importer) and models that call torch.cond. `inline_conds` rewrites each
one in the unlifted module of a torch.export program:
- a predicate computed from constants only (parameters, buffers, literals) is evaluated now and only its branch is
  kept;
- any other predicate keeps both branches inlined, and every output becomes `where(pred, true_out, false_out)`.
  torch.cond's contract makes this exact: branches are functional (no side effects) and give outputs of one shape
  and dtype. A NaN or inf that only the unselected branch computes does not reach the output (`where` takes each
  element from the selected side), as in eager, which runs that branch alone. The cost: both branches run.
"""
from __future__ import annotations

import operator

import torch
from torch import fx

from pockettorch.runtime import error_catalogue as errors

COND = torch.ops.higher_order.cond


def has_cond(graph_module: fx.GraphModule) -> bool:
    return any(_is_cond(n) for m in graph_module.modules() if isinstance(m, fx.GraphModule) for n in m.graph.nodes)


def _is_cond(node: fx.Node) -> bool:
    return node.op == "call_function" and node.target is COND


def inline_conds(gm: fx.GraphModule) -> fx.GraphModule:
    """Rewrite every cond of `gm` (nested ones included, outermost first) in place; returns gm."""
    while True:
        cond = next((n for n in gm.graph.nodes if _is_cond(n)), None)
        if cond is None:
            break
        _inline_one(gm, cond)
    gm.graph.lint()
    gm.recompile()
    return gm


def _inline_one(gm: fx.GraphModule, cond: fx.Node) -> None:
    pred, true_attr, false_attr, operands = cond.args[:4]
    value = _constant_value(gm, pred)
    where = _source(cond)
    if value is None:
        _check_predicate(pred, where)
    branches = []
    for attr, taken in ((true_attr, True), (false_attr, False)):
        if value is None or bool(value) == taken:
            branches.append(_inline_branch(gm, _attr(gm, attr.target), list(operands), cond))
        else:
            branches.append(None)
    with gm.graph.inserting_before(cond):
        scalar_pred = None
        if value is None:
            scalar_pred = gm.graph.call_function(torch.ops.aten.reshape.default, (pred, []))
        for user in list(cond.users):
            if user.op != "call_function" or user.target is not operator.getitem:
                raise errors.ExportFailedError(f"torch.cond at {where}: its result is used as a whole by {user.name}; "
                                               "only its items can be inlined")
            i = user.args[1]
            true_out, false_out = (b[i] if b is not None else None for b in branches)
            if value is not None:
                replacement = true_out if value else false_out
            else:
                _check_same_meta(true_out, false_out, i, where)
                with gm.graph.inserting_before(user):
                    replacement = gm.graph.call_function(torch.ops.aten.where.self, (scalar_pred, true_out, false_out))
            _replace_uses(user, replacement)
            gm.graph.erase_node(user)
    gm.graph.erase_node(cond)
    for attr in (true_attr, false_attr):
        if not attr.users:
            gm.graph.erase_node(attr)


def _replace_uses(node: fx.Node, replacement) -> None:
    """Every use of `node` reads `replacement`, a node or a constant a branch returned (e.g. an int)."""
    if isinstance(replacement, fx.Node):
        node.replace_all_uses_with(replacement)
        return
    for use in list(node.users):
        use.args = fx.node.map_arg(use.args, lambda n: replacement if n is node else n)
        use.kwargs = fx.node.map_arg(use.kwargs, lambda n: replacement if n is node else n)


def _attr(module, target: str):
    for part in target.split("."):
        module = getattr(module, part)
    return module


def _inline_branch(gm: fx.GraphModule, branch: fx.GraphModule, operands: list, before: fx.Node) -> list:
    """Copy `branch`'s nodes before `before`, its placeholders bound to `operands`; its outputs' nodes."""
    env: dict[fx.Node, object] = {}
    placeholders = [n for n in branch.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != len(operands):
        raise errors.ExportFailedError(f"torch.cond branch {branch.__class__.__name__} takes {len(placeholders)} "
                                       f"operands, given {len(operands)}")
    env.update(zip(placeholders, operands))
    with gm.graph.inserting_before(before):
        for node in branch.graph.nodes:
            if node.op == "placeholder":
                continue
            if node.op == "output":
                outs = node.args[0]
                return [env[o] if isinstance(o, fx.Node) else o for o in (outs if isinstance(outs, (tuple, list)) else [outs])]
            if node.op == "get_attr":  # a nested cond's branches (or a constant): moved into gm under a fresh name
                name = _fresh_attr(gm, node.target)
                value = _attr(branch, node.target)
                if isinstance(value, torch.nn.Module):
                    gm.add_submodule(name, value)
                else:
                    setattr(gm, name, value)
                env[node] = gm.graph.get_attr(name)
                env[node].meta.update(node.meta)
            else:
                env[node] = gm.graph.node_copy(node, lambda n: env[n])
    raise errors.ExportFailedError("a torch.cond branch has no output")


def _fresh_attr(gm: fx.GraphModule, target: str) -> str:
    base = "inlined_" + target.replace(".", "_")
    name, i = base, 0
    while hasattr(gm, name):
        i += 1
        name = f"{base}_{i}"
    return name


def _constant_value(gm: fx.GraphModule, pred) -> bool | None:
    """The predicate's value when nothing it depends on is a model input, else None."""
    if isinstance(pred, (bool, int)):
        return bool(pred)
    values: dict[fx.Node, object] = {}

    def evaluate(node: fx.Node):
        if node in values:
            return values[node]
        if node.op == "get_attr":
            values[node] = _attr(gm, node.target)
        elif node.op == "call_function":
            args = fx.node.map_arg(node.args, evaluate)
            kwargs = fx.node.map_arg(node.kwargs, evaluate)
            if _depends_on_input((args, kwargs)):
                values[node] = _INPUT
            else:
                values[node] = node.target(*args, **kwargs)
        else:  # placeholders: the model's inputs
            values[node] = _INPUT
        return values[node]

    with torch.no_grad():
        value = evaluate(pred)
    if value is _INPUT:
        return None
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise errors.ExportFailedError(f"torch.cond predicate has {value.numel()} elements; it needs one")
        return bool(value.item())
    return bool(value)


_INPUT = object()  # marks a value that depends on a model input


def _depends_on_input(tree) -> bool:
    found = []
    fx.node.map_aggregate(tree, lambda a: found.append(a is _INPUT))
    return any(found)


def _check_predicate(pred, where: str) -> None:
    val = pred.meta.get("val") if isinstance(pred, fx.Node) else None
    if not isinstance(val, torch.Tensor):
        raise errors.DynamicShapeError(
            f"an `if` at {where} branches on a dynamic dim's size ({pred}); PocketTorch selects between branches "
            "by a tensor value only",
            hint="give that dim a fixed size (drop it from --dynamic / dynamic_shapes) or compute both paths and "
                 "select with torch.where")


def _check_same_meta(a, b, index: int, where: str) -> None:
    va = a.meta.get("val") if isinstance(a, fx.Node) else a
    vb = b.meta.get("val") if isinstance(b, fx.Node) else b
    if not isinstance(va, torch.Tensor) or not isinstance(vb, torch.Tensor):
        raise errors.UnsupportedOpError(
            f"the `if` at {where} returns a non-tensor value (output {index}: {va!r} / {vb!r}) that depends on a "
            "tensor's value", hint="return tensors from both branches")
    if tuple(va.shape) != tuple(vb.shape) or va.dtype != vb.dtype:
        raise errors.DynamicShapeError(
            f"the branches of the `if` at {where} give output {index} as {va.dtype}{list(va.shape)} and "
            f"{vb.dtype}{list(vb.shape)}; PocketTorch runs both and selects, which needs one shape and dtype",
            hint="make both branches return tensors of the same shape and dtype")


def _source(node: fx.Node) -> str:
    from pockettorch.exporter.lower import source_of

    return source_of(node)
