"""Every generated Swift file is valid Swift to tree-sitter-swift, public API is
documented, and the typed API has one typed parameter per input and one property per output."""
from __future__ import annotations

import pytest
from ios_support import MODELS, SWIFT, bad_nodes

from pockettorch.sdk_templates import model_info
from pockettorch.sdk_templates.ios import swift_api


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


@pytest.mark.parametrize("key", list(MODELS))
def test_generated_swift_parses_without_errors(key, packages):
    files = sorted(packages[key].rglob("*.swift"))
    assert len(files) >= 6  # Package.swift, 4+ sources, the XCTest
    for path in files:
        tree = SWIFT.parse(path.read_bytes())
        assert not bad_nodes(tree), f"{path.relative_to(packages[key])}: {bad_nodes(tree)[:5]}"


def _is_public(node) -> bool:
    modifiers = next((c for c in node.children if c.type == "modifiers"), None)
    return modifiers is not None and any(c.text in (b"public", b"open") for c in modifiers.children)


@pytest.mark.parametrize("key", list(MODELS))
def test_every_public_declaration_has_a_doc_comment(key, packages):
    undocumented = []
    for path in sorted((packages[key] / "Sources").rglob("*.swift")):
        for node in _walk(SWIFT.parse(path.read_bytes()).root_node):
            if node.type.endswith("_declaration") and _is_public(node):
                before = node.prev_named_sibling
                if before is None or before.type != "comment" or not before.text.startswith(b"///"):
                    undocumented.append(f"{path.name}:{node.start_point[0] + 1} {node.text.splitlines()[0][:70]!r}")
    assert not undocumented, "\n".join(undocumented)


def _declarations(source: bytes, kind: str, name: str):
    return [n for n in _walk(SWIFT.parse(source).root_node)
            if n.type == kind and n.child_by_field_name("name") is not None
            and n.child_by_field_name("name").text.decode() == name]


@pytest.mark.parametrize("key", list(MODELS))
def test_typed_api_has_one_parameter_per_input_and_one_property_per_output(key, packages, ptm_files):
    info = model_info.read_model(ptm_files[key])
    api = swift_api.build(info)
    source = (packages[key] / "Sources" / api.module / f"{api.class_name}.swift").read_bytes()
    predictions = _declarations(source, "function_declaration", "prediction")
    assert len(predictions) == 2  # sync and async
    for fn in predictions:
        params = [(p.named_children[0].text.decode(), p.named_children[-1].text.decode())
                  for p in fn.named_children if p.type == "parameter"]
        assert params == [(t.swift_name, f"[{swift_api.DTYPES[t.dtype][0]}]") for t in api.inputs]
    (output,) = _declarations(source, "class_declaration", api.output_name)  # structs are class_declaration nodes
    properties = [(p.child_by_field_name("name").text.decode(),
                   next(c for c in p.named_children if c.type == "type_annotation").named_children[0].text.decode())
                  for p in output.child_by_field_name("body").named_children if p.type == "property_declaration"]
    assert properties == [(t.swift_name, f"[{swift_api.DTYPES[t.dtype][0]}]") for t in api.outputs]


@pytest.mark.parametrize("key", ["image", "dict_output"])
def test_library_code_has_no_force_unwraps_or_traps(key, packages):
    """`x!`, `try!` and `as!` crash the host app; the library reports errors as PocketTorchError instead."""
    found = []
    for path in sorted((packages[key] / "Sources").rglob("*.swift")):
        for node in _walk(SWIFT.parse(path.read_bytes()).root_node):
            forced = (node.type == "postfix_expression" and node.child_by_field_name("operation") is not None
                      and node.child_by_field_name("operation").type == "bang")
            forced |= node.type in ("try_operator", "as_operator") and node.text in (b"try!", b"as!")
            if forced:
                found.append(f"{path.name}:{node.start_point[0] + 1} {node.text[:40]!r}")
    assert not found, found
