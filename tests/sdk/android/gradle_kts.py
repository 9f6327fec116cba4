"""Read the settings out of a Gradle Kotlin DSL script by parsing it with tree-sitter-kotlin (not by regex).

settings(text) maps a dotted block path to the values set there, in order:
    android { defaultConfig { minSdk = 24 } }        -> {"android.defaultConfig.minSdk": [24]}
    ndk { abiFilters += listOf("a", "b") }           -> {"...ndk.abiFilters": [["a", "b"]]}
    plugins { id("com.android.library") }            -> {"plugins.id": [["com.android.library"]]}
String and number literals become Python values, listOf(...) a list, another call f(args) a tuple ("f", [args]),
anything else its source text.
"""
from __future__ import annotations

import tree_sitter
import tree_sitter_kotlin

_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_kotlin.language()))


def _value(node):
    if node.type == "string_literal":
        return "".join(c.text.decode() for c in node.children if c.type == "string_content")
    if node.type == "number_literal":
        return int(node.text)
    if node.type == "call_expression" and node.children[-1].type == "value_arguments":
        args = _arguments(node.children[-1])
        return args if node.children[0].text == b"listOf" else (node.children[0].text.decode(), args)
    return node.text.decode()


def _arguments(value_arguments) -> list:
    return [_value(arg.named_children[0]) for arg in value_arguments.named_children if arg.type == "value_argument"]


def _walk(node, path: tuple[str, ...], out: dict[str, list]) -> None:
    for child in node.named_children:
        if child.type == "assignment":
            target, value = child.named_children[0], child.named_children[-1]
            out.setdefault(".".join((*path, target.text.decode())), []).append(_value(value))
        elif child.type == "call_expression":
            name = child.children[0].text.decode()
            rest = child.children[1]
            if rest.type == "annotated_lambda":
                _walk(rest.named_children[0], (*path, name), out)
            elif rest.type == "value_arguments":
                out.setdefault(".".join((*path, name)), []).append(_arguments(rest))


def settings(text: str) -> dict[str, list]:
    tree = _PARSER.parse(text.encode())
    if tree.root_node.has_error:
        raise ValueError("the Gradle script does not parse as Kotlin")
    out: dict[str, list] = {}
    _walk(tree.root_node, (), out)
    return out


def imports(text: str) -> list[str]:
    tree = _PARSER.parse(text.encode())
    return [n.named_children[0].text.decode() for n in tree.root_node.named_children if n.type == "import"]
