"""sample_apps/ios: valid Swift, C calls the runtime declares, and only what the package it is built on provides."""
from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest
from ios_support import SWIFT, bad_nodes, c_declarations, swift_calls

REPO = pathlib.Path(__file__).resolve().parents[3]
SAMPLE_APP = REPO / "sample_apps" / "ios"
APPLE_MODULES = {"Darwin", "Foundation", "CoreGraphics", "PhotosUI", "SwiftUI", "UIKit"}


def app_sources() -> dict[str, bytes]:
    return {str(p.relative_to(SAMPLE_APP)): p.read_bytes() for p in sorted(SAMPLE_APP.rglob("*.swift"))
            if "Generated" not in p.parts}


def _walk(node):
    yield node
    for child in node.children:
        yield from _walk(child)


def test_sample_app_swift_parses_without_errors():
    sources = app_sources()
    assert {"Demo/ContentView.swift", "Bench/Benchmark.swift", "Bench/BenchApp.swift"} <= set(sources)
    for name, source in sources.items():
        tree = SWIFT.parse(source)
        assert not bad_nodes(tree), f"{name}: {bad_nodes(tree)[:5]}"


def test_bench_app_c_calls_exist_with_that_arity():
    include = REPO / "runtime" / "include"
    functions, structs = c_declarations(include / "pockettorch" / "pockettorch.h", include)
    called = set()
    for name, source in app_sources().items():
        for callee, argc in swift_calls(source):
            if callee.startswith("pkt_"):
                called.add(callee)
                expected = 0 if callee in structs else functions.get(callee)
                assert expected == argc, f"{name}: {callee} called with {argc} args; the header declares {expected}"
    assert {"pkt_program_load_file", "pkt_session_create", "pkt_session_set_input", "pkt_session_run"} <= called


@pytest.mark.slow
def test_apps_use_only_what_the_generated_package_provides(tmp_path):
    """Runs generate_package.sh as the README says, then checks the apps' imports and the package API they use."""
    env = {**os.environ, "POCKETTORCH": str(pathlib.Path(sys.executable).with_name("pockettorch"))}
    subprocess.run([str(SAMPLE_APP / "generate_package.sh"), str(tmp_path)], check=True, env=env, timeout=600,
                   capture_output=True)
    package = tmp_path / "Classifier"
    products = set(re.findall(r'\.library\(name: "([^"]+)"', (package / "Package.swift").read_text()))
    project = (SAMPLE_APP / "project.yml").read_text()
    for name, source in app_sources().items():
        imports = {n.named_children[0].text.decode() for n in _walk(SWIFT.parse(source).root_node)
                   if n.type == "import_declaration"}
        for module in imports - APPLE_MODULES:
            assert module in products, f"{name} imports {module}; the package's products are {sorted(products)}"
            assert f"product: {module}" in project, f"project.yml does not link {module}"
    declared = set()
    for path in (package / "Sources").rglob("*.swift"):
        for node in _walk(SWIFT.parse(path.read_bytes()).root_node):
            if node.type in ("class_declaration", "protocol_declaration", "function_declaration"):
                declared.add(node.child_by_field_name("name").text.decode())
            elif node.type == "property_declaration":
                declared.add(node.child_by_field_name("name").text.decode())
    used_by_demo = {"MobilenetV2", "MobilenetV2Output", "Classification", "PocketTorchError", "prediction", "top",
                    "output", "index", "label", "score", "name", "detail", "hint"}
    assert used_by_demo <= declared, f"missing from the package: {sorted(used_by_demo - declared)}"
    assert (package / "Sources" / "Classifier" / "ImageInput.swift").is_file()  # prediction(image:)


def _struct_fields(source: bytes, struct: str) -> list[str]:
    for node in _walk(SWIFT.parse(source).root_node):
        if node.type == "class_declaration" and node.child_by_field_name("name").text.decode() == struct:
            body = node.child_by_field_name("body")
            return [p.child_by_field_name("name").text.decode() for p in body.named_children
                    if p.type == "property_declaration" and b"static" not in p.text.split(b"=")[0]]
    raise AssertionError(f"no struct {struct}")


def test_bench_report_has_the_run_json_fields():
    """The bench app's report, keys as JSONEncoder's convertToSnakeCase writes them, holds every field of
    RUN_JSON.md's table (`ops` and `instructions` only exist with --profile, which the app does not offer) plus
    samples_ms."""
    table = (REPO / "runtime" / "tools" / "RUN_JSON.md").read_text()
    documented = re.findall(r"^\| `([a-z_0-9]+)`", table, flags=re.M)
    latency = re.findall(r"`latency_ms\.(\w+)` / `(\w+)`(?: / `(\w+)`)?(?: / `(\w+)`)?", table)
    report = (SAMPLE_APP / "Bench" / "RunReport.swift").read_bytes()
    snake = [re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", f).lower() for f in _struct_fields(report, "RunReport")]
    assert sorted(snake) == sorted({*documented, "samples_ms"} - {"ops", "instructions"})
    stats = _struct_fields((SAMPLE_APP / "Bench" / "LatencyStats.swift").read_bytes(), "LatencyStats")
    assert sorted(stats) == sorted(f for row in latency for f in row if f)


def test_bench_app_takes_what_the_ios_device_backend_passes():
    """device/ios.py launches the app with the bundle id and options below; project.yml and BenchArguments agree."""
    import yaml

    from pockettorch.device import ios

    project = yaml.safe_load((SAMPLE_APP / "project.yml").read_text())
    assert project["settings"]["base"]["BENCH_BUNDLE_ID"] == ios.BUNDLE_ID
    bench = project["targets"]["PocketTorchBench"]
    assert bench["settings"]["base"]["PRODUCT_BUNDLE_IDENTIFIER"] == "$(BENCH_BUNDLE_ID)"
    assert bench["info"]["properties"]["UIFileSharingEnabled"] is True  # Documents over house_arrest
    source = (SAMPLE_APP / "Bench" / "BenchArguments.swift").read_bytes()
    literals = {n.text.decode().strip('"') for n in _walk(SWIFT.parse(source).root_node)
                if n.type == "line_string_literal"}
    passed = {"--model", "--output", *ios.RUNNER_TO_APP.values()}
    assert passed <= literals, f"options the backend passes and the app does not know: {sorted(passed - literals)}"
