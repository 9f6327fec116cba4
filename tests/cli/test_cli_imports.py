"""`pockettorch --help` and `pockettorch inspect` start fast because they import nothing heavy: torch, jinja2,
the device libraries and yaml load only in the commands that use them. Checked on the modules a real CLI process
imported (not on wall time): each case runs `pockettorch.cli.main` in a fresh interpreter and lists sys.modules."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

import pockettorch

HEAVY = ("torch", "jinja2", "adbutils", "pymobiledevice3", "yaml")
PROBE = """
import json, sys
from pockettorch.cli import main
code = main(sys.argv[1:])
print("\\n" + json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def imported_by(*args: str) -> tuple[int, set[str]]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result["code"], set(result["modules"])


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("imports") / "m.ptm"
    pockettorch.export(torch.nn.Linear(4, 2), (torch.randn(1, 4),), reference=True).save(path)
    return str(path)


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["sdk", "--help"], ["sdk", "android", "--help"],
                                  ["sdk", "ios", "--help"], ["sdk", "c", "--help"], ["farm", "--help"],
                                  ["farm", "run", "--help"], ["devices", "--help"], ["export", "--help"],
                                  ["run", "--help"], ["bench", "--help"], ["verify", "--help"], ["debug", "--help"]])
def test_help_imports_nothing_heavy(args):
    code, modules = imported_by(*args)
    assert code == 0
    assert not modules & {*HEAVY, "numpy"}, sorted(modules & {*HEAVY, "numpy"})


def test_inspect_imports_neither_torch_nor_device_libraries(model):
    code, modules = imported_by("inspect", model)
    assert code == 0
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
