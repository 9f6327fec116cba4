"""`pockettorch export`: a Python builder or a zoo model -> .ptm."""
from __future__ import annotations

import importlib.util
import json
import pathlib
import re
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


_DYNAMIC = re.compile(r"^(?P<input>[^:=]+):(?P<dim>-?\d+)=(?P<min>\d+)\.\.(?P<max>\d+)(?::(?P<symbol>\w+))?$")


def _dynamic_option(specs: tuple[str, ...], module, n_inputs: int):
    """--dynamic INPUT:DIM=MIN..MAX[:SYMBOL] (INPUT a forward argument's name or position; the same SYMBOL on
    several inputs makes their dims one size) as torch.export's dynamic_shapes, a tuple with one entry per input."""
    if not specs:
        return None
    import inspect

    from torch.export import Dim

    names = list(inspect.signature(module.forward).parameters)[:n_inputs]
    shapes: list[dict] = [{} for _ in range(n_inputs)]
    dims: dict[str, object] = {}
    for spec in specs:
        m = _DYNAMIC.match(spec)
        if not m:
            raise click.BadParameter(f"{spec!r}: expected INPUT:DIM=MIN..MAX[:SYMBOL], e.g. x:1=1..512",
                                     param_hint="--dynamic")
        which = m["input"]
        index = int(which) if which.isdigit() else names.index(which) if which in names else -1
        if not 0 <= index < n_inputs:
            raise click.BadParameter(f"{spec!r}: no input {which!r} (inputs: {', '.join(names)})", param_hint="--dynamic")
        symbol = m["symbol"] or f"{names[index] if index < len(names) else index}_{m['dim']}"
        lo, hi = int(m["min"]), int(m["max"])
        if symbol not in dims:
            dims[symbol] = Dim(symbol, min=lo, max=hi)
        elif (dims[symbol].min, dims[symbol].max) != (lo, hi):
            raise click.BadParameter(f"{spec!r}: symbol {symbol} was given another range", param_hint="--dynamic")
        shapes[index][int(m["dim"])] = dims[symbol]
    return tuple(s or None for s in shapes)


def _backend_options(specs: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """--backend-option NAME:KEY=VALUE -> {NAME: {KEY: VALUE}}."""
    options: dict[str, dict[str, str]] = {}
    for spec in specs:
        backend, sep, rest = spec.partition(":")
        key, eq, value = rest.partition("=")
        if not (sep and eq and backend and key):
            raise click.BadParameter(f"{spec!r}: expected NAME:KEY=VALUE, e.g. vulkan:precision=fp16",
                                     param_hint="--backend-option")
        options.setdefault(backend, {})[key] = value
    return options


@click.command("export")
@click.argument("model")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Where to write the .ptm.")
@click.option("--name", help="Model name stored in the program (default: the zoo name or the module's class).")
@click.option("--metadata", help="JSON object (or a JSON file) stored with the model, e.g. labels, image mean/std.")
@click.option("--reference", is_flag=True, help="Store the example inputs and eager outputs for `verify`.")
@click.option("--quiet", is_flag=True, help="Do not print the summary.")
@click.option("--dynamic", multiple=True, metavar="INPUT:DIM=MIN..MAX[:SYMBOL]",
              help="Let an input dim take any size in MIN..MAX (repeatable; one SYMBOL on several inputs: one size).")
@click.option("--backend", "backends", multiple=True, metavar="NAME",
              help="Delegate what backend NAME supports to it (repeatable, e.g. vulkan); the CPU ops stay as fallback.")
@click.option("--backend-option", "backend_options", multiple=True, metavar="NAME:KEY=VALUE",
              help="An option for a backend, e.g. vulkan:precision=fp16 (repeatable).")
def export_command(model, out_path, name, metadata, reference, quiet, dynamic, backends, backend_options):
    """Export MODEL (zoo:NAME or FILE.py:FUNCTION returning (module, example_inputs)) to a .ptm program."""
    from pockettorch.exporter import export

    module, inputs, meta = load_builder(model)
    meta = {**meta, **_metadata_option(metadata)}
    if name is None and model.startswith("zoo:"):
        name = model[4:]
    dynamic_shapes = _dynamic_option(dynamic, module, len(inputs) if isinstance(inputs, (tuple, list)) else 1)
    program = export(module, inputs, name=name, metadata=meta, reference=reference, dynamic_shapes=dynamic_shapes,
                     backends=list(backends) or None, backend_options=_backend_options(backend_options))
    program.save(out_path)
    if not quiet:
        click.echo(program.summary())
    click.echo(f"wrote {out_path}")


COMMANDS = [export_command]
