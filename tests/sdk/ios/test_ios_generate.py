"""`pockettorch sdk ios`: package layout, selective runtime sources, sanitised names, determinism, CLI errors."""
from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest
from ios_support import SWIFT, bad_nodes

import pockettorch
from pockettorch.cli import main
from pockettorch.sdk_templates import escape, model_info, render, sources
from pockettorch.sdk_templates.ios import generator, swift_api


def tree_bytes(root: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_package_follows_swiftpm_layout(packages, ptm_files):
    package = packages["image"]
    manifest = (package / "Package.swift").read_text()
    assert manifest.startswith("// swift-tools-version:5.9\n")
    assert "platforms: [.iOS(.v15), .macOS(.v12)]" in manifest
    # every path the manifest names exists, relative to the package or to its target
    paths = re.findall(r'path: "([^"]+)"', manifest)
    assert len(paths) == 3 and all((package / p).is_dir() for p in paths)
    module, c_module = "PocketTorchTinyClassifier", "PocketTorchTinyClassifierCRuntime"
    assert (package / "Sources" / module / "Resources" / "model.ptm").read_bytes() == ptm_files["image"].read_bytes()
    assert (package / "Tests" / f"{module}Tests" / "Reference").is_dir()
    for header_path in generator.C_HEADER_SEARCH_PATHS:
        assert f'.headerSearchPath("{header_path}")' in manifest
        assert (package / "Sources" / c_module / header_path).is_dir()
    modulemap = (package / "Sources" / c_module / "include" / "module.modulemap").read_text()
    assert f"module {c_module} {{" in modulemap and 'header "pockettorch/pockettorch.h"' in modulemap


def test_c_target_carries_only_the_kernels_the_model_uses(packages, ptm_files):
    info = model_info.read_model(ptm_files["int64_input"])
    (c_root,) = (packages["int64_input"] / "Sources").glob("*CRuntime")
    shipped = {p.stem for p in (c_root / "kernels").glob("*.c")}
    assert shipped == set(info.kernels) and shipped < {op.kernel for op in sources.op_table.OPS}
    expected = sources.select(info.kernels, info.ops).files
    assert {str(p.relative_to(c_root)): p.read_bytes() for p in c_root.rglob("*") if p.suffix in (".c", ".h")} \
        == {rel: data for rel, data in expected.items()}


def test_reference_files_are_the_runtime_outputs(packages, ptm_files):
    (reference,) = (packages["dict_output"] / "Tests").glob("*/Reference")
    module = pockettorch.load(ptm_files["dict_output"])
    inputs = [np.fromfile(reference / f"input_{i}.bin", dtype=s.dtype).reshape(s.shape)
              for i, s in enumerate(module.input_specs)]
    for i, (spec, want) in enumerate(zip(module.output_specs, module.run_numpy(inputs))):
        assert (reference / f"output_{i}.bin").read_bytes() == want.astype(want.dtype.newbyteorder("<")).tobytes()


def test_identifiers_from_the_model_are_sanitised(ptm_files):
    dict_api = swift_api.build(model_info.read_model(ptm_files["dict_output"]))
    assert [t.swift_name for t in dict_api.outputs] == ["scores", "class_", "topScore"]
    assert swift_api.build(model_info.read_model(ptm_files["int64_input"])).class_name == "DataModel"
    two = swift_api.build(model_info.read_model(ptm_files["two_inputs"]), "Pair")
    assert (two.module, two.c_module, two.class_name, two.output_name) == ("Pair", "PairCRuntime", "TwoInputs",
                                                                          "TwoInputsOutput")


def test_swift_string_literal_escapes_what_swift_requires():
    assert escape.swift_string('say "hi"\\ \n\t\x01é🙂') == '"say \\"hi\\"\\\\ \\n\\t\\u{1}é🙂"'


def test_image_and_label_helpers_follow_metadata(packages):
    image_sources = packages["image"] / "Sources" / "PocketTorchTinyClassifier"
    helper = (image_sources / "ImageInput.swift").read_text()
    assert "#if canImport(CoreGraphics)\n" in helper
    assert "#if canImport(CoreGraphics) && canImport(CoreVideo) && canImport(VideoToolbox)\n" in helper
    assert "imageMean: [Float] = [0.5, 0.4, 0.3]" in helper and "values[channel * pixels + pixel]" in helper  # NCHW
    typed = (image_sources / "TinyClassifier.swift").read_text()
    assert all(escape.swift_string(label) in typed for label in ("cat", 'say "cheese"', "back\\slash"))
    assert not list(packages["two_inputs"].rglob("ImageInput.swift"))
    assert "labels" not in (packages["two_inputs"] / "Sources" / "PocketTorchTwoInputs" / "TwoInputs.swift").read_text()


def test_regeneration_is_byte_identical(ptm_files, packages, tmp_path):
    again = tmp_path / "again"
    generator.generate(ptm_files["image"], again)
    assert tree_bytes(again) == tree_bytes(packages["image"])
    before = tree_bytes(again)
    generator.generate(ptm_files["image"], again)  # into its own previous output
    assert tree_bytes(again) == before


def test_regenerating_under_another_module_name_removes_the_old_files(ptm_files, tmp_path):
    out = tmp_path / "pkg"
    generator.generate(ptm_files["two_inputs"], out)
    generator.generate(ptm_files["two_inputs"], out, "Pair")
    assert sorted(p.name for p in (out / "Sources").iterdir()) == ["Pair", "PairCRuntime"]
    assert sorted(p.name for p in (out / "Tests").iterdir()) == ["PairTests"]


def test_cli_writes_the_package(ptm_files, tmp_path, capsys):
    assert main(["sdk", "ios", str(ptm_files["two_inputs"]), "--out", str(tmp_path / "p"),
                 "--module-name", "Classifier"]) == 0
    assert "Swift package Classifier (TwoInputs)" in capsys.readouterr().out
    assert (tmp_path / "p" / "Sources" / "Classifier" / "TwoInputs.swift").is_file()


TAKEN = "already uses"


@pytest.mark.parametrize("option, bad, why", [
    ("--module-name", "my-module", "suggestion: MyModule"), ("--module-name", "classifier", "uppercase"),
    *[("--module-name", taken, f"{TAKEN} (suggestion: {taken}Model)")
      for taken in ("Data", "Tensor", "Foundation", "Swift", "UIKit", "XCTest", "String")],
    ("--module-name", "M" * 65, "at most 64 characters"),
    *[("--class-name", taken, TAKEN) for taken in ("Model", "PocketTorchError", "Int", "Foundation", "Classification")],
    ("--class-name", "lower", "uppercase"), ("--class-name", "C" * 65, "at most 64 characters"),
])
def test_cli_rejects_a_bad_module_or_class_name(option, bad, why, ptm_files, tmp_path, capsys):
    assert main(["sdk", "ios", str(ptm_files["two_inputs"]), "--out", str(tmp_path / "p"), option, bad]) == 2
    err = capsys.readouterr().err
    assert f"Swift {option[2:-5]} name" in err and why in err
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("module, class_name", [("Classifier", "Classifier"), ("ClassifierOutput", "Classifier"),
                                                ("Pair", "PairCRuntime")])
def test_cli_rejects_a_module_named_like_its_types(module, class_name, ptm_files, tmp_path, capsys):
    assert main(["sdk", "ios", str(ptm_files["two_inputs"]), "--out", str(tmp_path / "p"), "--module-name", module,
                 "--class-name", class_name]) == 2
    assert "collide" in capsys.readouterr().err and not (tmp_path / "p").exists()


def test_class_name_names_the_type_like_android(ptm_files, tmp_path, capsys):
    """--class-name names the type and its file; the module keeps its own name (or PocketTorch<Class>)."""
    assert main(["sdk", "ios", str(ptm_files["two_inputs"]), "--out", str(tmp_path / "p"),
                 "--module-name", "Vision", "--class-name", "Classifier"]) == 0
    assert "Swift package Vision (Classifier)" in capsys.readouterr().out
    typed = (tmp_path / "p" / "Sources" / "Vision" / "Classifier.swift").read_text()
    assert "public final class Classifier: Sendable" in typed and "public struct ClassifierOutput: Sendable" in typed
    api = swift_api.build(model_info.read_model(ptm_files["two_inputs"]), class_name="Classifier")
    assert (api.module, api.class_name) == ("PocketTorchClassifier", "Classifier")


def test_cli_reports_a_corrupt_model_with_its_catalogue_error(tmp_path, capsys):
    bad = tmp_path / "bad.ptm"
    bad.write_bytes(b"NOTAPTM!" + bytes(200))
    assert main(["sdk", "ios", str(bad), "--out", str(tmp_path / "p")]) == 1
    assert "PKT_BAD_MAGIC" in capsys.readouterr().err


def test_cli_refuses_a_folder_it_did_not_generate(ptm_files, tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("keep me")
    assert main(["sdk", "ios", str(ptm_files["two_inputs"]), "--out", str(tmp_path)]) == 1
    assert "not empty" in capsys.readouterr().err and (tmp_path / "mine.txt").read_text() == "keep me"
    assert render.MARKER not in [p.name for p in tmp_path.iterdir()]


def test_all_kernels_carries_every_kernel_and_still_builds_the_typed_api(ptm_files, tmp_path):
    generator.generate(ptm_files["two_inputs"], tmp_path / "all", "Bench", all_kernels=True)
    shipped = {p.stem for p in (tmp_path / "all" / "Sources" / "BenchCRuntime" / "kernels").glob("*.c")}
    assert shipped == {op.kernel for op in sources.op_table.OPS}
    assert (tmp_path / "all" / "Sources" / "Bench" / "TwoInputs.swift").is_file()


def test_reference_inputs_stored_at_export_are_used(tmp_path):
    import torch
    from ios_support import TwoInputs

    inputs = (torch.randn(1, 4), torch.randn(2, 5))
    path = pockettorch.export(TwoInputs().eval(), inputs, name="pair", reference=True).save(tmp_path / "pair.ptm")
    generator.generate(path, tmp_path / "pkg")
    (reference,) = (tmp_path / "pkg" / "Tests").glob("*/Reference")
    for i, tensor in enumerate(inputs):
        assert (reference / f"input_{i}.bin").read_bytes() == tensor.numpy().astype("<f4").tobytes()


def test_random_reference_input_outside_the_model_range_says_how_to_fix_it(tmp_path):
    import torch

    path = pockettorch.export(torch.nn.Embedding(3, 2), (torch.tensor([[0, 2]]),), name="tiny").save(tmp_path / "e.ptm")
    with pytest.raises(pockettorch.errors.IndexOutOfRangeError, match="--reference"):
        generator.generate(path, tmp_path / "pkg")
    assert not (tmp_path / "pkg").exists()


def test_unusual_but_valid_names_give_swift_that_parses(ptm_files, tmp_path):
    """Underscores, digits and the longest accepted names (no Swift compiler here: tree-sitter-swift, no ERROR)."""
    generator.generate(ptm_files["two_inputs"], tmp_path / "p", module_name="Vision_2", class_name="C" * 64)
    sources = sorted((tmp_path / "p").rglob("*.swift"))
    assert tmp_path / "p" / "Sources" / "Vision_2" / f"{'C' * 64}.swift" in sources
    assert {str(path): bad_nodes(SWIFT.parse(path.read_bytes())) for path in sources} == {str(p): [] for p in sources}
