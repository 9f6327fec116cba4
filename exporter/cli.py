"""`pockettorch export`: a Python builder or a zoo model -> .ptm."""
from __future__ import annotations

import importlib.util
import json
import pathlib
import sys

import click

from pockettorch.runtime import error_catalogue as errors


def load_builder(spec: str):
    """'zoo:NAME' or 'path/to/file.py:function' -> (module, example_inputs, metadata)."""
    if spec.startswith("zoo:"):
        from pockettorch.exporter import zoo

        name = spec[4:]
        if name not in zoo.ZOO:
            raise click.BadParameter(f"unknown zoo model '{name}'; available: {', '.join(zoo.ZOO)}", param_hint="MODEL")
        return zoo.build(name)
    path, sep, func = spec.rpartition(":")
    if not sep or not path.endswith(".py"):
        raise click.BadParameter(f"'{spec}' is neither zoo:NAME nor FILE.py:FUNCTION", param_hint="MODEL")
    file = pathlib.Path(path)
    if not file.is_file():
        raise click.BadParameter(f"no such file: {path}", param_hint="MODEL")
    mod_spec = importlib.util.spec_from_file_location(f"pockettorch_user_{file.stem}", file)
    module = importlib.util.module_from_spec(mod_spec)
    sys.path.insert(0, str(file.parent.resolve()))
    try:
        mod_spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: report, don't traceback
        raise errors.BadModelArgsError(f"importing {path} failed: {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.pop(0)
    builder = getattr(module, func, None)
    if not callable(builder):
        raise click.BadParameter(f"{path} has no function '{func}'", param_hint="MODEL")
    try:
        built = builder()
    except Exception as exc:
        raise errors.BadModelArgsError(f"{func}() in {path} failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(built, tuple) or len(built) not in (2, 3) or (len(built) == 3 and not isinstance(built[2], dict)):
        raise errors.BadModelArgsError(f"{func}() must return (module, example_inputs) or "
                                       "(module, example_inputs, metadata) with metadata a dict")
    return built if len(built) == 3 else (*built, {})


def _metadata_option(value: str | None) -> dict:
    if not value:
        return {}
    try:
        data = json.loads(pathlib.Path(value).read_text() if pathlib.Path(value).is_file() else value)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than the JSON parser goes
        raise click.BadParameter(f"not JSON and not a JSON file: {exc}", param_hint="--metadata") from None
    if not isinstance(data, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--metadata")
    return data


@click.command("export")
@click.argument("model")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Where to write the .ptm.")
@click.option("--name", help="Model name stored in the program (default: the zoo name or the module's class).")
@click.option("--metadata", help="JSON object (or a JSON file) stored with the model, e.g. labels, image mean/std.")
@click.option("--reference", is_flag=True, help="Store the example inputs and eager outputs for `verify`.")
@click.option("--quiet", is_flag=True, help="Do not print the summary.")
def export_command(model, out_path, name, metadata, reference, quiet):
    """Export MODEL (zoo:NAME or FILE.py:FUNCTION returning (module, example_inputs)) to a .ptm program."""
    from pockettorch.exporter import export

    module, inputs, meta = load_builder(model)
    meta = {**meta, **_metadata_option(metadata)}
    if name is None and model.startswith("zoo:"):
        name = model[4:]
    program = export(module, inputs, name=name, metadata=meta, reference=reference)
    program.save(out_path)
    if not quiet:
        click.echo(program.summary())
    click.echo(f"wrote {out_path}")


COMMANDS = [export_command]
