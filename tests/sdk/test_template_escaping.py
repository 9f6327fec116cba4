"""Every value a template prints is escaped for its position, or is a known identifier or number.

A lint over the Jinja2 syntax tree of every template, so a future template edit cannot print a model's string raw
(a model file is untrusted input: see sdk_templates/escape.py), and unit checks of the escaping filters themselves.
The end-to-end check (hostile names through all three SDKs, built with the real tools) is test_hostile_names.py.
"""
from __future__ import annotations

import pytest
from jinja2 import nodes

from pockettorch.sdk_templates import escape, render

TEMPLATES = sorted(p for p in render.TEMPLATES.rglob("*.j2"))

# Filters whose output is safe wherever the template put them: the escaping filters, and the two iOS filters that
# turn catalogue names (runtime/error_catalogue.py, not model input) into Swift identifiers.
ESCAPING = set(escape.FILTERS) | {"error_case", "declared"}
# Filters that only reshape a value: safe when what they reshape is.
RESHAPING = {"join", "list", "map", "first", "selectattr", "upper", "lower", "trim", "replace"}
# Values printed as they are. Each is an identifier from sdk_templates/names.py or a validated command-line option,
# a number, a dtype or image-layout name from a fixed set, a hex digest, or a constant of the generator.
SAFE_VALUES = {
    # shared: tensors as each generator describes them (name and ident differ: only ident is listed)
    "t.ident", "t.index", "t.macro", "t.ctype", "t.descr", "t.dtype", "t.shape", "t.numel", "t.nbytes", "t.code",
    "t.swift_name", "t.element", "t.tensor_class", "t.array_type", "e.code", "e.name", "code", "case", "element",
    "c_standard",  # runtime/manifest.py's C_STANDARD, a number
    "r.dim", "r.min", "r.max",  # a dynamic dim's index and range: ints the loader checked
    # C
    "prefix", "PREFIX", "kind", "memory_align", "arena_bytes", "workspace_bytes", "memory_bytes", "model_bytes",
    "model.sha256", "opt_flags", "libc_symbols", "first_input", "row",
    # Android
    "package", "runtime_package", "jni_runtime_path", "class_name", "library", "asset", "sha256", "abi", "abis",
    "kernels", "c_flags", "min_sdk", "compile_sdk", "jvm_target", "coroutines", "image.width", "image.height",
    "image.channels", "image.layout", "image.mean", "image.std", "v", "inputs[].ident", "outputs[].ident",
    "labels", "inputs", "outputs", "tensors",
    # iOS
    "api.module", "api.c_module", "api.class_name", "api.output_name", "api.outputs", "api.image_input.swift_name",
    "api.topk_output.swift_name", "cls", "out", "version", "model_resource", "info.sha256", "info.image.channels",
    "info.image.height", "info.image.width", "info.image.layout", "img.channels", "img.height", "img.width",
    "img.layout", "img.mean", "img.std", "tolerance.atol", "tolerance.rtol", "catalogue",
}


def _path(node: nodes.Node) -> str | None:
    """'t.ident' for t.ident, 'inputs[].ident' for inputs[i].ident; None for anything else."""
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        base = _path(node.node)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, nodes.Getitem):
        base = _path(node.node)
        return base if isinstance(node.arg, nodes.Slice) else (f"{base}[]" if base else None)
    return None


def unsafe(node: nodes.Node, macros: set[str]) -> list[str]:
    """The printed sub-expressions of `node` that are neither escaped nor known safe."""
    if isinstance(node, nodes.Const):
        return []
    if isinstance(node, nodes.Filter):
        if node.name in ESCAPING or node.name == "length":
            return []
        if node.name in RESHAPING:
            return unsafe(node.node, macros)
        return [f"filter {node.name}"]
    if isinstance(node, nodes.CondExpr):
        return unsafe(node.expr1, macros) + (unsafe(node.expr2, macros) if node.expr2 else [])
    if isinstance(node, nodes.Concat):
        return [bad for n in node.nodes for bad in unsafe(n, macros)]
    if isinstance(node, (nodes.Add, nodes.Sub, nodes.Mul, nodes.Or, nodes.And)):
        return unsafe(node.left, macros) + unsafe(node.right, macros)
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name in macros:
        return []  # the macro's own output statements are checked where it is defined
    path = _path(node)
    return [] if path in SAFE_VALUES else [path or type(node).__name__]


def test_every_printed_value_is_escaped_or_known_safe():
    env = render.environment("c")
    problems = []
    for template in TEMPLATES:
        tree = env.parse(template.read_text())
        macros = {m.name for m in tree.find_all(nodes.Macro)}
        for output in tree.find_all(nodes.Output):
            for node in output.nodes:
                if not isinstance(node, nodes.TemplateData):
                    problems += [f"{template.relative_to(render.TEMPLATES)}:{node.lineno}: {bad}"
                                 for bad in unsafe(node, macros)]
    assert not problems, "printed without an escaping filter (see sdk_templates/escape.py):\n" + "\n".join(problems)


def test_the_lint_catches_a_raw_model_name():
    tree = render.environment("c").parse('/* {{ model.name }} {{ t.name | upper }} {{ t.ident }} */')
    found = [bad for output in tree.find_all(nodes.Output) for node in output.nodes
             if not isinstance(node, nodes.TemplateData) for bad in unsafe(node, set())]
    assert found == ["model.name", "t.name"]


HOSTILE = ["a\n*/ int injected(void) { return 1; } /*", "x */ #include <stdio.h>", '"""${x}$y\\(z)"""', "a\\",
           "??/", "\u2028\u2029\u202e\0\r\t", "-->--<!--", "`` | ```", "$(shell touch m)", "\ud800"]


@pytest.mark.parametrize("text", HOSTILE)
def test_comment_filters_keep_one_line_and_cannot_close_the_comment(text):
    c = escape.c_comment(text)
    assert "*/" not in c and "/*" not in c and "\\" not in c and "??" not in c and c.isprintable()
    assert "\\" not in escape.hash_comment(text) and escape.hash_comment(text).isprintable()
    x = escape.xml_comment(text)
    assert "--" not in x and not x.endswith("-") and x.isprintable()


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_code_span_is_one_line_and_closes_where_it_should(text):
    span = escape.markdown_code(text)
    fence = len(span) - len(span.lstrip("`"))
    inner = span[fence:-fence]
    assert span.isprintable() and "`" * fence not in inner and "|" not in inner.replace("\\|", "")


def test_file_word_refuses_anything_but_plain_file_names():
    assert escape.file_word("runtime/src/x-1.c") == "runtime/src/x-1.c"
    for bad in ("a b", "$(x)", "a\nb", "a#b", "a;b", ""):
        with pytest.raises(ValueError):
            escape.file_word(bad)
