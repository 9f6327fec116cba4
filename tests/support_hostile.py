"""A model whose every name is hostile: the corpus the SDK tests generate and build all three SDKs from.

Each attack is one string; the model's name holds all of them (with NUL), its input and output names too, and each
is also one label. Every payload says INJECTED, and the shell commands create the file MARKER (relative, so the
generated sources are the same in every session and their slow builds are cached), so a test asserts nothing
injected survived by no MARKER appearing where the tools ran and by the strings coming back unchanged as data.
"""
from __future__ import annotations

import pathlib

import torch

import pockettorch

MARKER_WORD = "INJECTED"
MARKER = "INJECTED-ran"
_TOUCH = f"touch {MARKER}"
ATTACKS = [
    f"\nall:\n\t{_TOUCH}\n",  # a Makefile rule
    f"$(shell {_TOUCH}) `{_TOUCH}` $({_TOUCH})",  # make / shell expansions
    f"\nexecute_process(COMMAND {_TOUCH})\n# ${{INJECTED}} $<1:INJECTED> ]] #[[ ;)",  # CMake
    "*/\nint INJECTED_c(void) { return 1; }\n/*",  # close a C/Kotlin/Swift comment
    '"\n#include <INJECTED.h>\n"??/',  # close a C string; trigraph backslash
    '""" ${INJECTED_kt()} $INJECTED /** */ fun INJECTED_kt(): Int = 1 //',  # Kotlin templates
    '\\(INJECTED_swift()) \\ */ func INJECTED_swift() {} /*',  # Swift interpolation
    "--> <INJECTED/> <!-- & < > ' \"",  # XML
    "\n```\n# INJECTED\n| a | b |\n`",  # Markdown
    "\u2028INJECTED\u2029 \r\t\u202e \\u000a ; ) 'x'",  # line separators, bidi override, escapes as text
]


class _Classifier(torch.nn.Module):
    def __init__(self, classes: int):
        super().__init__()
        self.linear = torch.nn.Linear(4, classes)

    def forward(self, x):
        return self.linear(x)


def injected(root: pathlib.Path) -> list[pathlib.Path]:
    """Marker files an injected command created anywhere under `root` (where the builds ran)."""
    return sorted(root.rglob(MARKER))


def export_hostile(path: pathlib.Path, hostile: bool = True) -> dict:
    """Write the hostile model to `path` (with hostile=False: the same model with plain names, to compare with);
    returns its names: {"model", "input", "output", "labels"}."""
    corpus = ATTACKS if hostile else [f"label{i}" for i in range(len(ATTACKS))]
    joined = "".join(corpus) if hostile else "x"
    names = {"model": "\0".join(corpus) if hostile else "plain", "input": joined + "in", "output": joined + "out",
             "labels": corpus}
    torch.manual_seed(0)
    program = pockettorch.export(_Classifier(len(corpus)).eval(), (torch.randn(1, 4),), name=names["model"],
                                 metadata={"labels": corpus})
    # input/output names come from Python identifiers at export; a file can hold any string: write them here
    program.metadata["inputs"][0]["name"] = program.graph.inputs[0].name = names["input"]
    program.metadata["outputs"][0]["name"] = program.graph.outputs[0].name = names["output"]
    program.save(path)
    return names
