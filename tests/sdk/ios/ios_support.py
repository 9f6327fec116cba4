"""Helpers for the iOS SDK tests: small test models, and tree-sitter views of Swift and C sources."""
from __future__ import annotations

import pathlib
import subprocess

import torch
import tree_sitter
import tree_sitter_c
import tree_sitter_swift
from torch import nn
from torch.export import Dim

import pockettorch

SWIFT = tree_sitter.Parser(tree_sitter.Language(tree_sitter_swift.language()))
C = tree_sitter.Parser(tree_sitter.Language(tree_sitter_c.language()))


class TwoInputs(nn.Module):
    """Two float inputs of different shapes, a tuple of two outputs. The inputs are named like members and
    locals of the generated Swift (`model`, `values`), which it must not confuse with them."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(4, 3), nn.Linear(5, 3)

    def forward(self, model, values):
        return self.a(model) + self.b(values), self.a(model).relu()


class TokenIds(nn.Module):
    """An int64 input (token ids) through an embedding."""

    def __init__(self):
        super().__init__()
        self.embedding, self.head = nn.Embedding(10, 6), nn.Linear(6, 4)

    def forward(self, input_ids):
        return self.head(self.embedding(input_ids).mean(1))


class DictOutput(nn.Module):
    """A dict output whose keys are no valid Swift names ('class' is a keyword, 'top score' has a space)."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        scores = self.head(x)
        return {"scores": scores, "class": scores.argmax(-1), "top score": scores.amax(-1)}


class TinyClassifier(nn.Module):
    """An image classifier (NCHW 16x16 RGB) with labels and normalization in its metadata."""

    def __init__(self):
        super().__init__()
        self.conv, self.head = nn.Conv2d(3, 4, 3), nn.Linear(4, 5)

    def forward(self, pixel_values):
        return self.head(self.conv(pixel_values).mean((2, 3)))


IMAGE_METADATA = {
    "labels": ["cat", "dog", 'say "cheese"', "back\\slash", "naïve 🙂"],
    "image": {"layout": "NCHW", "size": [16, 16], "channels": "RGB", "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]},
}

# name -> (module factory, example inputs, export name, metadata); names chosen to need sanitising.
MODELS = {
    "two_inputs": (TwoInputs, lambda: (torch.randn(1, 4), torch.randn(2, 5)), "two inputs", {}),
    "int64_input": (TokenIds, lambda: (torch.tensor([[1, 7, 3, 9]]),), "data", {}),  # 'Data' would shadow Foundation
    "dict_output": (DictOutput, lambda: (torch.randn(1, 4),), "dict-output", {}),
    "image": (TinyClassifier, lambda: (torch.randn(1, 3, 16, 16),), "tiny-classifier", IMAGE_METADATA),
    # a dynamic sequence length (1..8): the package takes any length in range (Model.run, prediction by count)
    "dynamic_length": (TokenIds, lambda: (torch.tensor([[1, 7, 3, 9]]),), "dynamic-length", {},
                       ({1: Dim("seq", min=1, max=8)},)),
}


def export_model(key: str, folder: pathlib.Path) -> pathlib.Path:
    factory, inputs, name, metadata, *dynamic = MODELS[key]
    torch.manual_seed(0)
    module = factory().eval()
    path = folder / f"{key}.ptm"
    pockettorch.export(module, inputs(), name=name, metadata=metadata,
                       dynamic_shapes=dynamic[0] if dynamic else None).save(path)
    return path


def bad_nodes(tree: tree_sitter.Tree) -> list[str]:
    """Every ERROR or MISSING node, as 'line:col type text'."""
    out, stack = [], [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            out.append(f"{node.start_point[0] + 1}:{node.start_point[1] + 1} {node.type} {node.text[:60]!r}")
        stack.extend(node.children)
    return out


def _walk(node: tree_sitter.Node):
    yield node
    for child in node.children:
        yield from _walk(child)


def swift_calls(source: bytes) -> list[tuple[str, int]]:
    """(callee, argument count) of every call to a plain identifier, in source order: `f(a, b)` -> ('f', 2)."""
    calls = []
    for node in _walk(SWIFT.parse(source).root_node):
        if node.type != "call_expression" or node.children[0].type != "simple_identifier":
            continue
        suffix = next(c for c in node.children if c.type == "call_suffix")
        args = [c for c in suffix.children if c.type == "value_arguments"]
        count = sum(1 for c in args[0].children if c.type == "value_argument") if args else 0
        count += sum(1 for c in suffix.children if c.type == "lambda_literal")  # trailing closures
        calls.append((node.children[0].text.decode(), count))
    return calls


def c_calls(source: bytes, in_functions: tuple[str, ...]) -> list[tuple[str, int]]:
    """(callee, argument count) of every call to a plain identifier made in the C functions `in_functions`,
    in source order."""
    calls = []
    for definition in C.parse(source).root_node.named_children:
        if definition.type != "function_definition":
            continue
        declarator = definition.child_by_field_name("declarator")
        while declarator.type != "function_declarator":  # int* f(...) nests the name in pointer declarators
            declarator = declarator.child_by_field_name("declarator")
        if declarator.child_by_field_name("declarator").text.decode() not in in_functions:
            continue
        for node in _walk(definition):
            if node.type == "call_expression" and node.child_by_field_name("function").type == "identifier":
                args = node.child_by_field_name("arguments")
                calls.append((node.child_by_field_name("function").text.decode(), args.named_child_count))
    return calls


def c_declarations(header: pathlib.Path, include: pathlib.Path) -> tuple[dict[str, int], set[str]]:
    """(function name -> parameter count, typedef'd struct names) of a C header, preprocessed by gcc as C
    (so `extern "C"` guards and includes resolve the way Clang sees them when Swift imports the module)."""
    text = subprocess.run(["gcc", "-E", "-P", "-std=c11", "-I", str(include), str(header)],
                          check=True, capture_output=True).stdout
    tree = C.parse(text)
    assert not bad_nodes(tree), f"{header} does not parse as C: {bad_nodes(tree)[:3]}"
    functions, structs = {}, set()
    for node in _walk(tree.root_node):
        if node.type == "function_declarator" and node.parent.type in ("declaration", "pointer_declarator"):
            params = [p for p in node.child_by_field_name("parameters").named_children
                      if p.type == "parameter_declaration"]
            is_void = len(params) == 1 and params[0].child_by_field_name("declarator") is None \
                and params[0].child_by_field_name("type").text == b"void"
            functions[node.child_by_field_name("declarator").text.decode()] = 0 if is_void else len(params)
        elif node.type == "type_definition" and node.child_by_field_name("type").type == "struct_specifier":
            structs.add(node.child_by_field_name("declarator").text.decode())
    return functions, structs
