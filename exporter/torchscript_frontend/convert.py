"""TorchScript module -> an fx.GraphModule the normal exporter captures.

torch._export.converter (private, pinned by tests/exporter/import_torchscript/test_converter_pins.py) turns the
TorchScript graph into FX: loops with a constant trip count are unrolled, `prim::If` on a
tensor becomes torch.cond (exporter/control_flow.py inlines it), an `if` on a constant is decided. What it cannot do
fails here with the TorchScript op, the source line the archive records, the submodule, and a hint.
"""
from __future__ import annotations

import re
import warnings

import torch

from pockettorch.exporter.torchscript_frontend.fast_paths import resolve_fast_paths
from pockettorch.exporter.torchscript_frontend.sizes import fold_size_items, size_items
from pockettorch.runtime import error_catalogue as errors

# Why the converter refuses a node (its messages, torch 2.13) -> what the user can do about it.
_HINTS = (
    ("dynamic value of number of iterations",
     "a loop whose trip count depends on an input's shape or values cannot be unrolled: save the model with "
     "torch.jit.trace at the shape you deploy (it unrolls the loop), or loop over a constant range"),
    ("dynamic value of condition",
     "a while-style loop whose condition depends on tensor values cannot be unrolled: save the model with "
     "torch.jit.trace at the shape you deploy, or loop over a constant range"),
    ("prim::SetAttr",
     "the model assigns a module attribute inside an `if`: move the assignment out, or save the model with "
     "torch.jit.trace"),
)
_DEFAULT_HINT = ("export the model from Python (pockettorch.export(module, example_inputs)), or save it with "
                 "torch.jit.trace, which records only tensor ops")


def argument_names(ts_module) -> list[str]:
    """forward's argument names (without self), as the scripted or traced module's schema records them."""
    return [a.name for a in ts_module.forward.schema.arguments[1:]]


def to_graph_module(ts_module, args: tuple, static: bool = True) -> torch.fx.GraphModule:
    """The TorchScript module as a GraphModule whose inputs carry forward's argument names; `static`: the program
    has no dynamic dims, so a traced model's size arithmetic becomes numbers (sizes.py)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the converter's notes on specialised branches
            gm = _convert(ts_module, args)
        with torch.no_grad():
            gm(*args)  # what the converter wrote must run (it can emit calls that fail only when run)
    except errors.PocketTorchError:
        raise
    except Exception as exc:  # noqa: BLE001 - a private converter: any failure becomes one clear error
        raise _conversion_error(exc) from exc
    _rename_inputs(gm, argument_names(ts_module))
    _name_modules_by_weights(gm, ts_module)
    _canonical_convolutions(gm)
    if static:
        fold_size_items(gm, args)
    elif size_items(gm):
        raise errors.DynamicShapeError(
            "this traced model computes sizes as tensors (torch.jit.trace records x.size() that way), so its shapes "
            "cannot follow a dynamic dim", hint="export without dynamic dims, or save the model with torch.jit.script")
    return gm


def _convert(ts_module, args: tuple) -> torch.fx.GraphModule:
    """TS2EPConverter.convert() up to its FX graph. Its last step, a torch.export retrace with every dim
    Dim.AUTO, is left out: capture() exports the graph module itself, at the shapes the program has, and the
    symbolic retrace took longer than the whole rest of the import."""
    from torch._export import converter
    from torch._export.passes.replace_quantized_ops_with_standard_ops_pass import (
        replace_quantized_ops_with_standard_ops)

    ep_converter = converter.TS2EPConverter(ts_module, args)  # lifts the module's attributes
    resolve_fast_paths(ep_converter.ts_graph, ts_module)  # nn.TransformerEncoderLayer & co. (fast_paths.py)
    blocks_to_lifted_attrs, name_to_attribute_fqn = converter.get_block_to_lifted_attrs(ep_converter.ts_graph)
    gm = converter.TS2FXGraphConverter(
        ep_converter.ts_graph, ep_converter.name_to_param, ep_converter.name_to_buffer, blocks_to_lifted_attrs,
        ep_converter.name_to_non_tensor_attributes, ep_converter.name_to_constant, name_to_attribute_fqn).convert()
    replace_quantized_ops_with_standard_ops(gm)
    _replace_local_functions(gm)
    _lift_tensor_arguments(gm)
    return gm


def _float_of(t):
    return t.to(dtype=torch.float).item() if isinstance(t, torch.Tensor) else float(t)


# Functions the converter defines inside its handlers (aten::Float -> `to_float_tensor`): the code FX generates looks
# them up as module attributes, where they are not; the same function at module level.
_LOCAL_FUNCTIONS = {"to_float_tensor": _float_of}


def _replace_local_functions(gm: torch.fx.GraphModule) -> None:
    for module in gm.modules():  # torch.cond's branches are submodules
        if not isinstance(module, torch.fx.GraphModule):
            continue
        changed = False
        for node in module.graph.nodes:
            name = getattr(node.target, "__qualname__", "")
            if node.op == "call_function" and "<locals>" in name and name.rsplit(".", 1)[-1] in _LOCAL_FUNCTIONS:
                node.target = _LOCAL_FUNCTIONS[name.rsplit(".", 1)[-1]]
                changed = True
        if changed:
            module.recompile()


def _lift_tensor_arguments(gm: torch.fx.GraphModule) -> None:
    """Tensors the converter put straight into a node's arguments (an RNN's weight list) become attributes read
    by get_attr nodes: FX cannot write a tensor literal into the code it generates."""
    count = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_function":
            continue

        def lift(value):
            nonlocal count
            if not isinstance(value, torch.Tensor):
                return value
            name = f"_lifted_argument_{count}"
            count += 1
            setattr(gm, name, value)
            with gm.graph.inserting_before(node):
                return gm.graph.get_attr(name)

        node.args = torch.fx.node.map_aggregate(node.args, lift)
        node.kwargs = torch.fx.node.map_aggregate(node.kwargs, lift)
    if count:
        gm.recompile()


def _name_modules_by_weights(gm: torch.fx.GraphModule, ts_module) -> None:
    """The converter's graph is flat (no nn_module_stack, which torch.export carries through): an op that reads the
    parameters of one submodule (`3.weight`, `3.bias`) is marked as that module's, so quantization's `skip`, the
    quant report and inspect name layers as for a Python model. Frozen modules hold constants: they stay unnamed."""
    kinds = {name: m.original_name for name, m in ts_module.named_modules()}
    for node in gm.graph.nodes:
        if node.op != "call_function" or node.meta.get("nn_module_stack"):
            continue
        owners = set()
        torch.fx.node.map_arg((node.args, node.kwargs), lambda a: owners.add(
            str(a.target).rpartition(".")[0]) if a.op == "get_attr" and "." in str(a.target) else None)
        owners.discard("")
        if len(owners) == 1 and (owner := owners.pop()) in kinds:
            node.meta["nn_module_stack"] = {"L__self___" + owner.replace(".", "_"): (owner, kinds[owner])}


def _canonical_convolutions(gm: torch.fx.GraphModule) -> None:
    """A traced conv arrives as aten.convolution (TorchScript's aten::_convolution); as the aten.conv1d/conv2d a
    Python model exports it is what the int8 quantizer and the lowerings' fusions match."""
    aten = torch.ops.aten
    changed = False
    for node in gm.graph.nodes:
        if node.target is not aten.convolution.default or len(node.args) != 9 or node.kwargs:
            continue
        x, w, b, stride, padding, dilation, transposed, output_padding, groups = node.args
        rank = len(stride) if isinstance(stride, (list, tuple)) else 0
        if transposed or rank not in (1, 2) or any(output_padding):
            continue
        node.target = aten.conv2d.default if rank == 2 else aten.conv1d.default
        node.args = (x, w, b, stride, padding, dilation, groups)
        changed = True
    if changed:
        gm.recompile()


def _conversion_error(exc: Exception) -> errors.PocketTorchError:
    chain = _chain(exc)
    node = _failing_node(chain)
    cause = chain[-1]  # the converter wraps each enclosing block's failure around the innermost one
    why = _first_line(cause)
    hint = next((h for key, h in _HINTS if any(key in _first_line(e) for e in chain)), _DEFAULT_HINT)
    if node is None:
        return errors.ExportFailedError(f"TorchScript conversion failed: {type(cause).__name__}: {why}", hint=hint)
    return errors.UnsupportedOpError(f"TorchScript op {node.kind()}{describe_location(node)} cannot be converted: "
                                     f"{why}", hint=hint)


def _chain(exc: BaseException) -> list[BaseException]:
    chain = [exc]
    while chain[-1].__cause__ is not None and len(chain) < 100:
        chain.append(chain[-1].__cause__)
    return chain


def _failing_node(chain: list[BaseException]):
    """The innermost TorchScript node the converter was handling (its `node` local) when it raised."""
    found = None
    for failure in chain:
        tb = failure.__traceback__
        while tb is not None:
            candidate = tb.tb_frame.f_locals.get("node")
            if isinstance(candidate, torch._C.Node):
                found = candidate
            tb = tb.tb_next
    return found


def describe_location(node) -> str:
    """' at model.py line 12: `for i in range(x.size(1)):` in module inner' from what the archive records."""
    parts = []
    try:
        text = node.sourceRange()
    except RuntimeError:
        text = ""
    match = re.search(r'File "([^"]+)", line (\d+)', text)
    if match:
        lines = text.splitlines()
        marker = next((i for i, line in enumerate(lines) if line.strip() and set(line.strip()) == {"~"}), None)
        code = lines[marker - 1].strip() if marker else ""
        parts.append(f" at {match[1].rsplit('/', 1)[-1]} line {match[2]}" + (f": `{code}`" if code else ""))
    scope = node.scopeName()
    module = scope.rsplit("::", 1)[-1] if scope else ""
    if module:
        parts.append(f" in module {module}")
    return "".join(parts)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _rename_inputs(gm: torch.fx.GraphModule, names: list[str]) -> None:
    """The converter names inputs after TorchScript values (`x_1`); the program should say `x`."""
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    taken = {n.name for n in gm.graph.nodes} - {p.name for p in placeholders}
    for node, name in zip(placeholders, names):
        if re.fullmatch(r"[A-Za-z_]\w*", name) and name not in taken:
            node.name = node.target = name
            taken.add(name)
    codegen = gm.graph._codegen  # unlifted modules take forward's arguments through a pytree: name them there too
    info = getattr(codegen, "pytree_info", None)
    if info is not None and len(info.orig_args) == len(placeholders):
        codegen.pytree_info = info._replace(orig_args=[p.name for p in placeholders])
    gm.recompile()
