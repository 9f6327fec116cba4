"""Hostile names (tests/support_hostile.py) through the Android SDK: kotlinc -Werror compiles the Kotlin (against the
android.* stubs) and the names come back unchanged on the JVM, no injected Kotlin function is declared, gcc builds
the JNI glue, CMake configures the native build on the host without running the injected command,
build.gradle.kts parses (tree-sitter-kotlin), AndroidManifest.xml parses with no injected element, and the README
has the same Markdown structure as the one of the same model with plain names."""
from __future__ import annotations

import json
import pathlib
import subprocess
import xml.etree.ElementTree as ET

import markdown_it
import pytest
import tree_sitter
import tree_sitter_kotlin
from android_support import (HERE, RUNTIME_JARS, GeneratedSdk, javac_stubs, jni_library, kotlinc, require_kotlin,
                             run_java)
from support_hostile import MARKER_WORD, export_hostile, injected

from pockettorch.sdk_templates import render
from pockettorch.sdk_templates.android import generator

pytestmark = pytest.mark.slow
PACKAGE = "com.hostile_sdk.v2"  # unusual but valid: underscores and digits must build too
KOTLIN = tree_sitter.Parser(tree_sitter.Language(tree_sitter_kotlin.language()))


def _generate(root: pathlib.Path, hostile: bool) -> tuple[GeneratedSdk, dict]:
    root.mkdir()
    names = export_hostile(root / "model.ptm", hostile)
    sdk = generator.generate(root / "model.ptm", PACKAGE, "Hostile")
    render.write_tree(root / "sdk", sdk.files, generator.TARGET)
    return GeneratedSdk(root / "model.ptm", root / "sdk", sdk), names


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return _generate(tmp_path_factory.mktemp("android-hostile") / "hostile", True)


def _kotlin_errors_and_functions(source: bytes) -> tuple[list[str], list[str]]:
    errors, functions, stack = [], [], [KOTLIN.parse(source).root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            errors.append(f"{node.start_point[0] + 1}: {node.text[:60]!r}")
        if node.type == "function_declaration":
            functions.append(next(c.text.decode() for c in node.children
                                  if c.type in ("simple_identifier", "identifier")))
        stack.extend(node.children)
    return errors, functions


def test_kotlin_compiles_declares_nothing_injected_and_names_round_trip(hostile):
    require_kotlin()
    sdk, names = hostile
    for path in sdk.kotlin_files + [sdk.out / "build.gradle.kts"]:
        errors, functions = _kotlin_errors_and_functions(path.read_bytes())
        assert not [f for f in functions if MARKER_WORD in f], path
    # kotlinc checks the sources below; the build script is only parsed (tree-sitter-kotlin misreads a few
    # valid constructs of the sources, none of the script's)
    assert _kotlin_errors_and_functions((sdk.out / "build.gradle.kts").read_bytes())[0] == []
    classes = kotlinc(sdk.kotlin_files + [HERE / "kotlin_hostile" / "HostileHost.kt"], [javac_stubs(), *RUNTIME_JARS])
    proc = run_java(classes, [], f"{PACKAGE}.host.HostileHostKt")
    assert proc.returncode == 0, proc.stderr
    want = [names["model"], names["input"], names["output"], *names["labels"]]
    assert proc.stdout.splitlines() == [",".join(str(ord(c)) for c in text) for text in want]


def test_jni_glue_compiles_without_warnings(hostile):
    require_kotlin()
    assert (jni_library(hostile[0]) / "gcc.log").read_text() == ""


def test_native_cmake_configures_without_running_anything(hostile, tmp_path):
    sdk, _ = hostile
    # the host has no Android liblog: libm stands in for it
    proc = subprocess.run(["cmake", "-S", str(sdk.cpp), "-B", "build", "-Dlog-lib=m"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not injected(tmp_path) and not injected(sdk.out)


def test_manifest_and_json_hold_the_names_as_data(hostile):
    sdk, names = hostile
    root = ET.parse(sdk.out / "src" / "main" / "AndroidManifest.xml").getroot()
    assert [e.tag for e in root.iter()] == ["manifest"]
    assert json.loads((sdk.out / "pockettorch-manifest.json").read_text())["model"] == names["model"]


def _blocks(readme: pathlib.Path) -> list[str]:
    return [f"{t.type}:{t.tag}" for t in markdown_it.MarkdownIt("commonmark").enable("table").parse(readme.read_text())]


def test_readme_has_the_structure_of_a_plain_named_model(hostile, tmp_path):
    plain, _ = _generate(tmp_path / "plain", False)
    assert _blocks(hostile[0].out / "README.md") == _blocks(plain.out / "README.md")
