"""Regenerating into --out trusts nothing on the disk: the marker's entries are checked (only regular files inside
--out that still hold what we wrote are removed), symbolic links are never followed, and a folder generated for
another kind of SDK is refused unless --force."""
from __future__ import annotations

import pytest
import torch

import pockettorch
from pockettorch import errors
from pockettorch.cli import main
from pockettorch.sdk_templates import render


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "victim.txt"
    path.write_text("precious")
    return path


def _tampered(out, *entries: str) -> None:
    """A generated folder whose marker also lists `entries` (as an attacker or a bad merge could write them)."""
    render.write_tree(out, {"a.txt": "a"}, "c")
    marker = out / render.MARKER
    marker.write_text(marker.read_text() + "".join(f"{'0' * 64} {e}\n" for e in entries))


def test_marker_entries_outside_the_folder_are_never_deleted(tmp_path, victim):
    out = tmp_path / "sdk"
    _tampered(out, "../victim.txt", str(victim), "sub/../../victim.txt")
    render.write_tree(out, {"b.txt": "b"}, "c")
    assert victim.read_text() == "precious"
    assert not (out / "a.txt").exists() and (out / "b.txt").read_text() == "b"


def test_legacy_marker_entries_outside_the_folder_are_never_deleted(tmp_path, victim):
    out = tmp_path / "sdk"
    out.mkdir()
    (out / "Makefile").write_text("old")
    (out / render.MARKER).write_text(f"Makefile\n../victim.txt\n{victim}\n")
    render.write_tree(out, {"b.txt": "b"}, "c")
    assert victim.read_text() == "precious" and not (out / "Makefile").exists()


def test_a_generated_file_edited_since_is_kept(tmp_path):
    out = tmp_path / "sdk"
    render.write_tree(out, {"a.txt": "a", "b.txt": "b"}, "c")
    (out / "a.txt").write_text("my edits")
    render.write_tree(out, {"b.txt": "b"}, "c")
    assert (out / "a.txt").read_text() == "my edits"


def test_a_symlinked_marker_is_refused_and_its_target_untouched(tmp_path, victim):
    out = tmp_path / "sdk"
    render.write_tree(out, {"a.txt": "a"}, "c")
    (out / render.MARKER).unlink()
    (out / render.MARKER).symlink_to(victim)
    with pytest.raises(errors.InvalidArgumentError, match="symbolic link"):
        render.write_tree(out, {"a.txt": "a"}, "c")
    assert victim.read_text() == "precious"


def test_a_symlinked_output_file_is_replaced_not_written_through(tmp_path, victim):
    out = tmp_path / "sdk"
    render.write_tree(out, {"a.txt": "a"}, "c")
    (out / "a.txt").unlink()
    (out / "a.txt").symlink_to(victim)
    render.write_tree(out, {"a.txt": "new"}, "c")
    assert victim.read_text() == "precious"
    assert not (out / "a.txt").is_symlink() and (out / "a.txt").read_text() == "new"


def test_a_stale_symlink_is_not_followed(tmp_path, victim):
    out = tmp_path / "sdk"
    render.write_tree(out, {"a.txt": "precious", "b.txt": "b"}, "c")
    (out / "a.txt").unlink()
    (out / "a.txt").symlink_to(victim)  # same content as written, so only the link check protects the target
    render.write_tree(out, {"b.txt": "b"}, "c")
    assert victim.read_text() == "precious"


def test_a_symlinked_folder_is_refused(tmp_path):
    out, outside = tmp_path / "sdk", tmp_path / "outside"
    outside.mkdir()
    render.write_tree(out, {"src/a.txt": "a"}, "c")
    (out / "src" / "a.txt").unlink()
    (out / "src").rmdir()
    (out / "src").symlink_to(outside)
    with pytest.raises(errors.InvalidArgumentError, match="symbolic link"):
        render.write_tree(out, {"src/a.txt": "a"}, "c")
    assert list(outside.iterdir()) == []


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("out-folder") / "tiny.ptm"
    pockettorch.export(torch.nn.Linear(4, 2).eval(), (torch.randn(1, 4),), name="tiny").save(path)
    return path


def test_another_kind_of_sdk_is_replaced_only_with_force(model, tmp_path, capsys):
    out = str(tmp_path / "sdk")
    assert main(["sdk", "android", str(model), "--out", out, "--package", "com.acme.tiny"]) == 0
    assert main(["sdk", "ios", str(model), "--out", out]) != 0
    assert "holds a generated android SDK; the ios SDK replaces it only with --force" in capsys.readouterr().err
    assert (tmp_path / "sdk" / "build.gradle.kts").is_file()
    for kind in (["c"], ["android", "--package", "com.acme.tiny"]):
        assert main(["sdk", *kind[:1], str(model), "--out", out, *kind[1:], "--force"]) == 0
    assert (tmp_path / "sdk" / "build.gradle.kts").is_file() and not (tmp_path / "sdk" / "Makefile").exists()
    assert main(["sdk", "ios", str(model), "--out", out, "--force"]) == 0
    assert (tmp_path / "sdk" / "Package.swift").is_file() and not (tmp_path / "sdk" / "build.gradle.kts").exists()
