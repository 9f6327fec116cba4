"""Identifier sanitising, user-name validation, model metadata checks and deterministic SDK writing."""
from __future__ import annotations

import pytest
import torch

import pockettorch
from pockettorch import errors
from pockettorch.sdk_templates import model_info, names, render


@pytest.mark.parametrize("text, lang, expected", [
    ("pixel_values", "kotlin", "pixelValues"),
    ("pixelValues", "swift", "pixelValues"),
    ("input.0/Mask", "kotlin", "input0Mask"),
    ("class", "kotlin", "class_"),
    ("default", "swift", "default_"),
    ("0_logits", "swift", "v0Logits"),
    ("", "kotlin", "value"),
    ("ünïcode-only", "kotlin", "nCodeOnly"),
])
def test_camel(text, lang, expected):
    assert names.camel(text, lang) == expected


def test_pascal_and_snake():
    assert names.pascal("mobilenet_v2", "swift") == "MobilenetV2"
    assert names.pascal("9lives", "kotlin") == "M9lives"
    assert names.snake("MobileNetV2") == "mobile_net_v2"
    assert names.snake("int") == "int_"
    assert names.snake("2d") == "_2d"


def test_unique_names_never_collide():
    assert names.unique_names(["x", "x", "x_2", "y"]) == ["x", "x_2", "x_2_2", "y"]


@pytest.mark.parametrize("package", ["acme", "com.Acme.vision", "com.acme.class", "com..acme", "com.acme.9x", "com.acme-x.v"])
def test_bad_package_names_are_refused_with_the_rule(package):
    with pytest.raises(errors.InvalidArgumentError, match="com.acme.vision"):
        names.check_package(package)


def test_good_names_pass_through():
    assert names.check_package("com.acme.vision_2") == "com.acme.vision_2"
    assert names.check_type_name("Classifier", "swift") == "Classifier"
    assert names.check_c_prefix("classifier") == "classifier"
    with pytest.raises(errors.InvalidArgumentError, match="Classifier"):
        names.check_type_name("classifier", "kotlin")
    with pytest.raises(errors.InvalidArgumentError, match="pkt_"):
        names.check_c_prefix("pkt_model")


def test_write_tree_is_deterministic_and_removes_only_its_own_stale_files(tmp_path):
    out = tmp_path / "sdk"
    render.write_tree(out, {"a/b.txt": "one", "c.bin": b"\x00\x01"}, "c")
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    render.write_tree(out, {"a/b.txt": "one", "c.bin": b"\x00\x01"}, "c")
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == first

    (out / "user_notes.txt").write_text("mine")
    render.write_tree(out, {"c.bin": b"\x02"}, "c")
    assert not (out / "a").exists()  # stale file and its empty folder are gone
    assert (out / "c.bin").read_bytes() == b"\x02"
    assert (out / "user_notes.txt").read_text() == "mine"  # never ours, never touched


def test_write_tree_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "build.gradle").write_text("keep me")
    with pytest.raises(errors.InvalidArgumentError, match="not empty"):
        render.write_tree(tmp_path / "app", {"x.txt": "x"}, "c")
    assert (tmp_path / "app" / "build.gradle").read_text() == "keep me"
    with pytest.raises(ValueError, match="escapes"):
        render.write_tree(tmp_path / "new", {"../evil.txt": "x"}, "c")


def _export(tmp_path, metadata=None):
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3), torch.nn.Flatten(), torch.nn.Linear(2 * 4 * 4, 3))
    path = tmp_path / "m.ptm"
    pockettorch.export(net.eval(), (torch.zeros(1, 3, 6, 6),), name="tiny", metadata=metadata).save(path)
    return path


def test_model_info_reads_image_and_labels(tmp_path):
    meta = {"labels": ["cat", "dog", "fox"], "image": {"layout": "NCHW", "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}}
    info = model_info.read_model(_export(tmp_path, meta))
    assert info.name == "tiny" and info.labels == ("cat", "dog", "fox")
    assert (info.image.height, info.image.width, info.image.channels) == (6, 6, "RGB")
    assert info.image.std == (0.25, 0.25, 0.25)
    assert info.inputs[0].shape == (1, 3, 6, 6) and info.outputs[0].numel == 3
    assert set(info.kernels) >= {"conv2d", "linear"}


@pytest.mark.parametrize("meta, message", [
    ({"labels": ["cat"]}, "1 labels do not match the first output's 3 scores"),
    ({"image": {"layout": "NCWH"}}, "layout must be NCHW or NHWC"),
    ({"image": {"std": [1, 0, 1]}}, "std must be positive"),
    ({"image": {"mean": [0.5]}}, "mean must be a list of 3 numbers"),
    ({"image": {"channels": "GRAY"}}, "do not fit 3 channel"),
])
def test_model_info_rejects_inconsistent_metadata(tmp_path, meta, message):
    with pytest.raises(errors.BadMetadataError, match=message):
        model_info.read_model(_export(tmp_path, meta))


def test_model_info_names_a_corrupt_or_missing_file(tmp_path):
    with pytest.raises(errors.IoError, match="no model file"):
        model_info.read_model(tmp_path / "missing.ptm")
    bad = tmp_path / "bad.ptm"
    bad.write_bytes(b"not a model" * 10)
    with pytest.raises(errors.BadMagicError):
        model_info.read_model(bad)
