"""The error catalogue sits below every layer, and its exception classes are declared where static tools see them."""
import ast
import pathlib
import re
import subprocess
import sys

import pytest

from pockettorch import errors
from pockettorch.runtime import error_catalogue

ROOT = pathlib.Path(__file__).resolve().parents[2]
CATALOGUE_PY = ROOT / "runtime" / "error_catalogue.py"
FACE_PY = ROOT / "pockettorch" / "errors.py"
LAYERS = ("runtime", "exporter", "device", "sdk_templates")


def class_name(spec) -> str:
    return "".join(part.capitalize() for part in spec.name.split("_")) + "Error"


def declared_classes(path: pathlib.Path) -> dict[str, ast.ClassDef]:
    return {node.name: node for node in ast.parse(path.read_text()).body if isinstance(node, ast.ClassDef)}


def test_every_catalogue_entry_has_its_declared_class_and_every_class_its_entry():
    classes = {name: node for name, node in declared_classes(CATALOGUE_PY).items() if name.endswith("Error")}
    expected = {class_name(spec): spec for spec in error_catalogue.CATALOGUE if spec.code}
    assert set(classes) == set(expected) | {"PocketTorchError"}
    for name, spec in expected.items():
        node = classes[name]
        assert [ast.unparse(b) for b in node.bases] == ["PocketTorchError"], f"{name} must derive from the base"
        assert [(k.arg, ast.literal_eval(k.value)) for k in node.keywords] == [("code", spec.code)], name
        cls = getattr(error_catalogue, name)
        assert (cls.code, cls.status_name, cls.hint, cls.__doc__) == (spec.code, spec.name, spec.hint, spec.message)
        assert cls.__bases__ == (errors.PocketTorchError,)
        assert getattr(errors, name) is cls, f"the face does not re-export {name}"
        assert error_catalogue.error_for_code(spec.code).__class__ is cls
    assert set(error_catalogue.__all__) >= set(expected)


def test_two_classes_cannot_claim_one_code():
    with pytest.raises(TypeError, match="BadMagicError"):
        type("Another", (errors.PocketTorchError,), {}, code=errors.BadMagicError.code)


def test_the_catalogue_imports_nothing_of_pockettorch():
    imported = []
    for node in ast.walk(ast.parse(CATALOGUE_PY.read_text())):
        if isinstance(node, ast.Import):
            imported += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported.append(node.module or "")
    assert not [m for m in imported if m.startswith("pockettorch")], imported


def test_layers_below_the_face_import_the_catalogue_not_the_face():
    face = re.compile(r"^\s*(from pockettorch import (.*\b)?errors\b|from pockettorch\.errors import|"
                      r"import pockettorch\.errors)", re.M)
    offenders = [str(p.relative_to(ROOT)) for layer in LAYERS for p in (ROOT / layer).rglob("*.py")
                 if face.search(p.read_text())]
    assert not offenders, f"import pockettorch.runtime.error_catalogue instead of the face in {offenders}"


def test_mypy_sees_every_error_class_through_the_face_and_the_catalogue(tmp_path):
    """mypy (following uses.py into both modules) resolves each class statically; the one undeclared name shows
    that it does look, and would fail for classes made at run time."""
    pytest.importorskip("mypy", reason="mypy comes with the test extra: pip install -e .[test]")
    package = tmp_path / "pockettorch"
    (package / "runtime").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "runtime" / "__init__.py").write_text("")
    (package / "errors.py").symlink_to(FACE_PY)
    (package / "runtime" / "error_catalogue.py").symlink_to(CATALOGUE_PY)
    names = [class_name(spec) for spec in errors.CATALOGUE if spec.code]
    uses = [f"a{i}: errors.PocketTorchError = errors.{n}('x')\nb{i}: int = error_catalogue.{n}.code\n"
            for i, n in enumerate(names)]
    (tmp_path / "uses.py").write_text("from pockettorch import errors\nfrom pockettorch.runtime import error_catalogue\n"
                                      + "".join(uses) + "missing = errors.NoSuchError\n")
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--check-untyped-defs",
                           "uses.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    found = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert len(found) == 1 and 'has no attribute "NoSuchError"' in found[0], done.stdout + done.stderr
