"""Bad input never gets a Python traceback out of the CLI: each case goes through `pockettorch.cli.main` (the
console script's entry point) and must end as one `Error:` line naming a catalogue code (PKT_...), or as click's
usage error (exit 2) for a bad option, or as "Aborted." (exit 130) for Ctrl-C."""
from __future__ import annotations

import os
import pathlib
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch

import pockettorch
from pockettorch.cli import main

BUILDERS = '''
import torch

def build():
    return torch.nn.Linear(4, 2), (torch.randn(1, 4),)

def interrupted():
    raise KeyboardInterrupt

def bad_metadata():
    return torch.nn.Linear(4, 2), (torch.randn(1, 4),), ["not", "a", "dict"]
'''


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("bad")
    ok = d / "ok.ptm"
    pockettorch.export(torch.nn.Linear(4, 2), (torch.randn(1, 4),), reference=True).save(ok)
    data = ok.read_bytes()
    table = [struct.unpack_from("<I4xQ", data, 64 + 24 * i) for i in range(struct.unpack_from("<I", data, 12)[0])]
    (ref_offset,) = [off for kind, off in table if kind == 7]
    paths = {
        "ok": ok, "dir": d / "a_dir", "empty": d / "empty.ptm", "garbage": d / "garbage.ptm",
        "truncated": d / "truncated.ptm", "bad_reference": d / "bad_reference.ptm", "builders": d / "builders.py",
        "syntax_error": d / "syntax_error.py", "int64": d / "int64.npy", "text": d / "text.npy",
        "objects": d / "objects.npy", "deep": d / "deep.json", "latin1": d / "latin1.json", "db": d / "garbage.db",
        "yaml": d / "bad.yaml",
    }
    paths["dir"].mkdir()
    paths["empty"].write_bytes(b"")
    paths["garbage"].write_bytes(b"not a model at all" * 10)
    paths["truncated"].write_bytes(data[:300])
    paths["bad_reference"].write_bytes(data[:ref_offset + 8] + b"\x63" + data[ref_offset + 9:])  # dtype 99
    paths["builders"].write_text(BUILDERS)
    paths["syntax_error"].write_text("def build(:\n")
    np.save(paths["int64"], np.zeros((1, 4), np.int64))
    paths["text"].write_text("not numpy")
    np.save(paths["objects"], np.array([{"a": 1}], dtype=object), allow_pickle=True)
    paths["deep"].write_text("[" * 100_000 + "]" * 100_000)
    paths["latin1"].write_bytes(b'{"label": "caf\xe9"}')
    paths["db"].write_text("this is not SQLite")
    paths["yaml"].write_text("models: [\n")
    return {k: str(v) for k, v in paths.items()}


CASES = [  # (arguments with {file} placeholders, exit code, text the one-line error holds)
    ("inspect {d}/missing.ptm", 2, "does not exist"),
    ("inspect {dir}", 2, "is a directory"),
    ("inspect {empty}", 1, "PKT_TRUNCATED"),
    ("inspect {garbage}", 1, "PKT_BAD_MAGIC"),
    ("inspect {truncated}", 1, "PKT_TRUNCATED"),
    ("inspect {bad_reference}", 1, "PKT_BAD_DTYPE"),
    ("run {garbage}", 1, "PKT_BAD_MAGIC"),
    ("run {ok} --input {int64}", 1, "PKT_INPUT_DTYPE"),
    ("run {ok} --input {text}", 2, "cannot read"),
    ("run {ok} --input {objects}", 2, "cannot read"),
    ("run {ok} --input {ok} --input {ok}", 2, "takes 1 input(s)"),
    ("run {ok} --iters 1 --json {d}/no/such/dir/run.json", 1, "PKT_IO"),
    ("run {ok} --iters 1 --output {ok}", 2, "is a file"),
    ("run {ok} --iters 1 --output {ok}/sub", 1, "PKT_IO"),
    ("run {ok} --threads -1", 2, "-1"),
    ("export {builders}:build --out {ok}/m.ptm", 1, "PKT_IO"),
    ("export {builders}:build --out {d}/m.ptm --metadata {deep}", 2, "not JSON"),
    ("export {builders}:build --out {d}/m.ptm --metadata {latin1}", 2, "not JSON"),
    ("export {builders}:bad_metadata --out {d}/m.ptm", 1, "metadata a dict"),
    ("export {syntax_error}:build --out {d}/m.ptm", 1, "SyntaxError"),
    ("export {builders}:interrupted --out {d}/m.ptm", 130, "Aborted."),
    ("sdk c {garbage} --out {d}/sdk_c", 1, "PKT_BAD_MAGIC"),
    ("sdk ios {truncated} --out {d}/sdk_ios", 1, "PKT_TRUNCATED"),
    ("sdk android {empty} --out {d}/sdk_android --package com.acme.x", 1, "PKT_TRUNCATED"),
    ("sdk c {ok} --out {ok}", 2, "is a file"),
    ("verify {garbage} --device host", 1, "PKT_BAD_MAGIC"),
    ("verify {bad_reference} --device host", 1, "PKT_BAD_DTYPE"),
    ("farm runs --db {db}", 1, "PKT_"),
    ("farm run {yaml} --db {d}/r.db", 2, "not valid YAML"),
    ("nosuchcommand", 2, "No such command"),
]


@pytest.mark.parametrize("args, code, text", CASES, ids=[c[0].split(" {")[0] + ":" + c[2] for c in CASES])
def test_bad_input_gives_one_clear_line(files, args, code, text, capsys):
    argv = [a.format(d=os.path.dirname(files["ok"]), **files) for a in args.split()]
    assert main(argv) == code
    err = capsys.readouterr().err
    assert text in err and "Traceback" not in err
    if code == 1:
        (line,) = [ln for ln in err.splitlines() if ln.startswith("Error: ")]
        assert "PKT_" in line


def test_permission_denied_is_a_catalogue_error(files, capsys):
    denied = next((p for p in ("/sys/kernel/notes", "/proc/1/mem") if _write_denied(p)), None)
    if denied is None:
        pytest.skip("no path here refuses writes (tests run as root; sysfs usually does)")
    assert main(["run", files["ok"], "--iters", "1", "--json", denied]) == 1
    err = capsys.readouterr().err
    assert "PKT_IO" in err and "Permission denied" in err and "Traceback" not in err


def _write_denied(path: str) -> bool:
    try:
        with open(path, "a"):
            return False
    except PermissionError:
        return True
    except OSError:
        return False


def test_an_unexpected_error_is_internal_and_debug_shows_the_traceback(files, monkeypatch, capsys):
    """No real bug is at hand to trigger, so `describe` is replaced by one that fails as a bug would."""
    from pockettorch.runtime import cli as runtime_cli

    def broken(path):
        raise ZeroDivisionError("division by zero\nsecond line")

    monkeypatch.setattr(runtime_cli, "describe", broken)
    assert main(["inspect", files["ok"]]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "Error: unexpected ZeroDivisionError: division by zero (PKT_INTERNAL; hint: this is a bug in PocketTorch: "
        "please report it with the command and the model file (POCKETTORCH_DEBUG=1 prints the traceback))"]
    monkeypatch.setenv("POCKETTORCH_DEBUG", "1")
    assert main(["inspect", files["ok"]]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError" in err and "PKT_INTERNAL" in err


def test_the_console_script_ends_in_one_line(files):
    """The installed `pockettorch` script, as a user runs it."""
    script = pathlib.Path(sys.executable).with_name("pockettorch")
    proc = subprocess.run([str(script), "inspect", files["garbage"]], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "PKT_BAD_MAGIC" in proc.stderr
