"""Hostile names (tests/support_hostile.py, and a hostile .ptm file name) through the Swift package.

No Swift compiler runs here, so this is a syntax check: tree-sitter-swift parses every Swift file (Package.swift,
sources, tests) with no ERROR node, declares and calls no injected function, and the string literals it reads back
decode to the original names and labels; the README keeps the Markdown structure of a plain-named model's.
"""
from __future__ import annotations

import pathlib
import re

import markdown_it
import pytest
from ios_support import SWIFT, bad_nodes
from support_hostile import MARKER_WORD, export_hostile

from pockettorch.sdk_templates.ios import generator

HOSTILE_FILE = "m\n*\\(INJECTED_swift()) $(touch INJECTED-ran) \"q\" \u2028 --> ``` .ptm"


def _generate(root: pathlib.Path, hostile: bool) -> tuple[pathlib.Path, dict]:
    root.mkdir()
    path = root / (HOSTILE_FILE if hostile else "plain.ptm")
    names = export_hostile(path, hostile)
    generator.generate(path, root / "package", class_name="Hostile")
    return root / "package", names


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return _generate(tmp_path_factory.mktemp("ios-hostile") / "hostile", True)


def _decode(literal) -> str:
    """The value of a Swift line_string_literal node (the escapes swift_string writes)."""
    out = []
    for part in literal.children:
        text = part.text.decode()
        if part.type == "line_str_text":
            out.append(text)
        elif part.type == "str_escaped_char":
            unicode = re.fullmatch(r"\\u\{([0-9a-fA-F]+)\}", text)
            out.append(chr(int(unicode[1], 16)) if unicode else {"\\n": "\n", "\\t": "\t"}.get(text, text[1:]))
    return "".join(out)


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


def test_swift_parses_declares_nothing_injected_and_names_round_trip(hostile):
    package, names = hostile
    strings: set[str] = set()
    for path in sorted(package.rglob("*.swift")):
        tree = SWIFT.parse(path.read_bytes())
        assert bad_nodes(tree) == [], path
        for node in _walk(tree.root_node):
            if node.type == "simple_identifier":  # a declared or called name: none may come from a payload
                assert MARKER_WORD not in node.text.decode(), path
            if node.type == "line_string_literal":
                strings.add(_decode(node))
    assert {names["input"], names["output"], *names["labels"]} <= strings


def test_readme_has_the_structure_of_a_plain_named_model(hostile, tmp_path):
    plain, _ = _generate(tmp_path / "plain", False)

    def blocks(readme: pathlib.Path) -> list[str]:
        parser = markdown_it.MarkdownIt("commonmark").enable("table")
        return [f"{t.type}:{t.tag}" for t in parser.parse(readme.read_text())]

    assert blocks(hostile[0] / "README.md") == blocks(plain / "README.md")
