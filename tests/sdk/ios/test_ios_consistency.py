"""The Swift code and the C runtime agree: every C function the Swift code calls exists with that arity, the
driver that stands in for Swift makes the same calls, and the Swift error enum is the error catalogue."""
from __future__ import annotations

import pathlib

import pytest
from ios_support import MODELS, SWIFT, bad_nodes, c_calls, c_declarations, swift_calls

from pockettorch import errors
from pockettorch.sdk_templates import escape
from pockettorch.sdk_templates.ios import swift_api

DRIVER = pathlib.Path(__file__).with_name("model_driver.c")


def declarations(package: pathlib.Path):
    (c_root,) = (package / "Sources").glob("*CRuntime")
    include = c_root / "include"
    return c_declarations(include / "pockettorch" / "pockettorch.h", include)


def swift_sources(package: pathlib.Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((package / "Sources").rglob("*.swift"))}


@pytest.mark.parametrize("key", list(MODELS))
def test_every_c_call_in_swift_exists_with_that_arity(key, packages):
    functions, structs = declarations(packages[key])
    assert {"pkt_program_load_file", "pkt_session_run"} <= set(functions)  # the header parse found the API
    called = 0
    for name, source in swift_sources(packages[key]).items():
        for callee, argc in swift_calls(source):
            if callee.startswith("pkt_") or callee in functions:
                called += 1
                if callee in structs:  # zero-initialising a C struct, e.g. pkt_tensor_info()
                    assert argc == 0, f"{name}: {callee}({argc} args) initialises a C struct"
                    continue
                assert callee in functions, f"{name} calls {callee}, which the C headers do not declare"
                assert argc == functions[callee], f"{name}: {callee} takes {functions[callee]}, Swift passes {argc}"
    assert called >= 10


def test_driver_makes_the_same_calls_in_the_same_order_as_swift_model(packages):
    package = packages["two_inputs"]
    functions, _ = declarations(package)
    (model_swift,) = (package / "Sources").rglob("Model.swift")
    swift = [c for c in swift_calls(model_swift.read_bytes()) if c[0] in functions]
    # the driver's stand-ins for Model's init, deinit and run(_:), in that (source) order
    driver = [c for c in c_calls(DRIVER.read_bytes(), ("model_init", "model_free", "model_run")) if c[0] in functions]
    assert driver == swift and len(swift) >= 12


def _switch_returns(enum_source: bytes, prop: str) -> dict[str, str]:
    """`case .x: return <literal>` entries of the enum's computed property `prop`, as {case: literal text}."""
    tree = SWIFT.parse(enum_source)
    assert not bad_nodes(tree)
    stack, found = [tree.root_node], None
    while stack and found is None:
        node = stack.pop()
        if node.type == "property_declaration" and node.child_by_field_name("name").text.decode() == prop:
            found = node
        stack.extend(node.children)
    assert found is not None, f"no property {prop}"
    out, stack = {}, [found]
    while stack:
        node = stack.pop()
        if node.type == "switch_entry":
            pattern = node.children[1].text.decode().lstrip(".")
            statement = next(c for c in node.named_children if c.type == "statements")
            value = statement.named_children[0].named_children[-1]
            out[pattern] = value.text.decode()
        stack.extend(node.children)
    return out


def test_swift_error_enum_is_the_catalogue(packages):
    (source,) = (packages["two_inputs"] / "Sources").rglob("PocketTorchError.swift")
    text = source.read_bytes()
    expected = {swift_api.error_case(e.name): e for e in errors.CATALOGUE if e.code}
    codes = _switch_returns(text, "code")
    assert set(codes) == set(expected), "Swift cases differ from the catalogue"
    names, hints, messages = (_switch_returns(text, p) for p in ("name", "hint", "message"))
    for case, spec in expected.items():
        assert int(codes[case]) == spec.code, case
        assert names[case] == f'"PKT_{spec.name}"', case
        assert hints[case] == escape.swift_string(spec.hint), case
        assert messages[case] == escape.swift_string(spec.message), case
