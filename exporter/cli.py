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
    return build_with_calibration(spec)[:3]


def build_with_calibration(spec: str):
    """As load_builder, plus the calibration data a builder may return fourth (None when it returns none)."""
    if spec.startswith("zoo:"):
        from pockettorch.exporter import zoo

        name = spec[4:]
        if name not in zoo.ZOO:
            raise click.BadParameter(f"unknown zoo model '{name}'; available: {', '.join(zoo.ZOO)}", param_hint="MODEL")
        return (*zoo.build(name), None)
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
    if not isinstance(built, tuple) or len(built) not in (2, 3, 4) or (len(built) >= 3 and not isinstance(built[2], dict)):
        raise errors.BadModelArgsError(f"{func}() must return (module, example_inputs), (module, example_inputs, "
                                       "metadata) with metadata a dict, or (module, example_inputs, metadata, "
                                       "calibration)")
    return (*built, {}, None) if len(built) == 2 else (*built, None) if len(built) == 3 else built


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


def _dynamic_dims(specs: tuple[str, ...], resolve) -> list[tuple[object, int, object]]:
    """--dynamic INPUT:DIM=MIN..MAX[:SYMBOL] as [(input key, dim, torch.export.Dim)]: resolve(INPUT) gives the
    input's key and the name a default symbol starts with; the same SYMBOL on several inputs is one Dim."""
    from torch.export import Dim

    out = []
    dims: dict[str, object] = {}
    for spec in specs:
        m = _DYNAMIC.match(spec)
        if not m:
            raise click.BadParameter(f"{spec!r}: expected INPUT:DIM=MIN..MAX[:SYMBOL], e.g. x:1=1..512",
                                     param_hint="--dynamic")
        key, label = resolve(spec, m["input"])
        symbol = m["symbol"] or f"{label}_{m['dim']}"
        lo, hi = int(m["min"]), int(m["max"])
        if symbol not in dims:
            dims[symbol] = Dim(symbol, min=lo, max=hi)
        elif (dims[symbol].min, dims[symbol].max) != (lo, hi):
            raise click.BadParameter(f"{spec!r}: symbol {symbol} was given another range", param_hint="--dynamic")
        out.append((key, int(m["dim"]), dims[symbol]))
    return out


def _dynamic_option(specs: tuple[str, ...], module, n_inputs: int):
    """--dynamic for a builder's module (INPUT a forward argument's name or position) as torch.export's
    dynamic_shapes, a tuple with one entry per input."""
    if not specs:
        return None
    import inspect

    names = list(inspect.signature(module.forward).parameters)[:n_inputs]

    def resolve(spec, which):
        index = int(which) if which.isdigit() else names.index(which) if which in names else -1
        if not 0 <= index < n_inputs:
            raise click.BadParameter(f"{spec!r}: no input {which!r} (inputs: {', '.join(names)})", param_hint="--dynamic")
        return index, names[index] if index < len(names) else index

    shapes: list[dict] = [{} for _ in range(n_inputs)]
    for index, dim, d in _dynamic_dims(specs, resolve):
        shapes[index][dim] = d
    return tuple(s or None for s in shapes)


def _file_dynamic_option(specs: tuple[str, ...]):
    """--dynamic for a model file, whose inputs the frontend knows: a dict by input name (or position)."""
    if not specs:
        return None
    shapes: dict = {}
    for key, dim, d in _dynamic_dims(specs, lambda spec, which: (int(which) if which.isdigit() else which, which)):
        shapes.setdefault(key, {})[dim] = d
    return shapes


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
@click.option("--quantize", type=click.Choice(["int8", "int8-dynamic", "w4", "w8"]),
              help="Quantize: static int8 (calibrated), dynamic int8, or int4/int8 weight-only.")
@click.option("--calibration", type=click.Path(exists=True, dir_okay=False),
              help="For --quantize int8: an .npz whose arrays (in the inputs' order) hold calibration batches on "
                   "their first axis; default: the builder's calibration data, else the example inputs. For w4/w8: "
                   "the same, and it makes the linears GPTQ-quantized (without it: round-to-nearest).")
@click.option("--min-sqnr", "min_sqnr", type=float, metavar="DB",
              help="For --quantize w4 with calibration: store the layers that hurt the outputs most as int8 until "
                   "the outputs' estimated SQNR reaches DB.")
@click.option("--backend", "backends", multiple=True, metavar="NAME",
              help="Delegate what backend NAME supports to it (repeatable, e.g. vulkan); the CPU ops stay as fallback.")
@click.option("--backend-option", "backend_options", multiple=True, metavar="NAME:KEY=VALUE",
              help="An option for a backend, e.g. vulkan:precision=fp16 (repeatable).")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME:D0,D1,...[:DTYPE]",
              help="A model file's input: random data of this shape (dtype float32 unless given). Repeatable.")
@click.option("--input", "input_files", multiple=True, metavar="NAME=FILE.npy",
              help="A model file's input from a .npy file. Repeatable.")
def export_command(model, out_path, name, metadata, reference, quiet, dynamic, quantize, calibration, min_sqnr,
                   input_shapes, input_files, backends, backend_options):
    """Export MODEL to a .ptm program: zoo:NAME, FILE.py:FUNCTION returning (module, example_inputs), or a model
    file (TorchScript .pt/.pth/.ts or ONNX .onnx) with --input-shape / --input for its example inputs."""
    from pockettorch.exporter.model_files import is_model_file

    if is_model_file(model):
        if min_sqnr is not None:
            raise click.BadParameter("only for PyTorch models (a builder): GPTQ calibrates the float module",
                                     param_hint="--min-sqnr")
        program = _export_model_file(model, name, _metadata_option(metadata), reference, dynamic, input_shapes,
                                     input_files, quantize, calibration, backends, _backend_options(backend_options))
    else:
        if input_shapes or input_files:
            raise click.BadParameter("only for model files (.pt, .onnx, ...); a builder returns its example inputs",
                                     param_hint="--input-shape/--input")
        program = _export_builder(model, name, metadata, reference, dynamic, (quantize, calibration, min_sqnr),
                                  backends, _backend_options(backend_options))
    program.save(out_path)
    if not quiet:
        click.echo(program.summary())
    click.echo(f"wrote {out_path}")


def _export_model_file(path, name, metadata, reference, dynamic, input_shapes, input_files, quantize, calibration,
                       backends, backend_options):
    from pockettorch.exporter.example_inputs import example_inputs
    from pockettorch.exporter.model_files import export_file

    if not pathlib.Path(path).is_file():
        raise click.BadParameter(f"no such file: {path}", param_hint="MODEL")
    inputs = example_inputs(input_shapes, input_files) if input_shapes or input_files else None  # ONNX: in the file
    scheme = _file_quantize_option(quantize, calibration, inputs)
    return export_file(path, inputs, name=name, metadata=metadata, reference=reference,
                       dynamic_shapes=_file_dynamic_option(dynamic), quantization=scheme,
                       backends=list(backends) or None, backend_options=backend_options)


def _export_builder(model, name, metadata, reference, dynamic, quantize, backends, backend_options):
    """quantize: (--quantize, --calibration, --min-sqnr)."""
    from pockettorch.exporter import export

    module, inputs, meta, built_calibration = build_with_calibration(model)
    meta = {**meta, **_metadata_option(metadata)}
    if name is None and model.startswith("zoo:"):
        name = model[4:]
    dynamic_shapes = _dynamic_option(dynamic, module, len(inputs) if isinstance(inputs, (tuple, list)) else 1)
    scheme = _quantize_option(*quantize, built_calibration, inputs)
    return export(module, inputs, name=name, metadata=meta, reference=reference, dynamic_shapes=dynamic_shapes,
                  quantization=scheme, backends=list(backends) or None, backend_options=backend_options)


def _quantize_option(kind, calibration_path, min_sqnr, built, inputs):
    """--quantize/--calibration/--min-sqnr as a pockettorch.quant scheme."""
    from pockettorch import quant

    if min_sqnr is not None and (kind != "w4" or not (calibration_path or built is not None)):
        raise click.BadParameter("needs --quantize w4 and calibration data", param_hint="--min-sqnr")
    if kind is None:
        if calibration_path:
            raise click.BadParameter("needs --quantize int8, w4 or w8", param_hint="--calibration")
        return None
    if kind == "int8-dynamic":
        return quant.int8_dynamic()
    if kind in ("w4", "w8"):
        # GPTQ with the given .npz, else with the builder's calibration data; round-to-nearest without either
        batches = _npz_batches(calibration_path, inputs) if calibration_path else built
        return quant.weight_only(bits=int(kind[1]), calibration=batches, min_sqnr_db=min_sqnr)
    if calibration_path:
        return quant.int8(_npz_batches(calibration_path, inputs))
    if built is not None:
        return quant.int8(built)
    return quant.int8([tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)])


def _file_quantize_option(kind, calibration_path, inputs):
    """--quantize/--calibration for a model file, whose example inputs are numpy arrays (a dict by name or a tuple
    in order). An .npz's batches are dicts by name when the inputs are named (or, without example inputs, when
    its arrays are named: np.savez(x=...)), else tuples in file order. Without --calibration, static int8
    calibrates on the example inputs."""
    import numpy as np

    from pockettorch import quant

    if kind in ("w4", "w8") and calibration_path:
        raise click.BadParameter("for w4/w8 only with PyTorch models (a builder): GPTQ calibrates the float module; "
                                 "a model file is quantized round-to-nearest", param_hint="--calibration")
    if kind != "int8" or not calibration_path:
        if kind == "int8":
            return quant.int8([inputs] if inputs is not None else [])
        return _quantize_option(kind, calibration_path, None, None, inputs)
    try:
        data = np.load(calibration_path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("it holds one array (.npy); save the batches with numpy.savez")
        with data:
            arrays = {k: np.asarray(data[k]) for k in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise click.BadParameter(f"not a readable .npz: {exc}", param_hint="--calibration") from None
    arrays = {k: a.astype(np.float32) if a.dtype == np.float64 else a for k, a in arrays.items()}
    if not arrays or any(a.ndim < 1 for a in arrays.values()) or len({len(a) for a in arrays.values()}) != 1:
        raise click.BadParameter("its arrays must hold the same number of batches on their first axis",
                                 param_hint="--calibration")
    by_name = isinstance(inputs, dict) or (inputs is None and not all(k.startswith("arr_") for k in arrays))
    if inputs is not None:
        examples = inputs if isinstance(inputs, dict) else dict(zip(arrays, inputs))
        if len(arrays) != len(inputs) or set(arrays) != set(examples):
            raise click.BadParameter(f"arrays {list(arrays)} do not match the inputs {list(examples)}",
                                     param_hint="--calibration")
        for k, x in examples.items():
            if tuple(arrays[k].shape[1:]) != tuple(np.shape(x)):
                raise click.BadParameter(f"array {k!r} shaped {list(arrays[k].shape)} does not hold batches of "
                                         f"{list(np.shape(x))}", param_hint="--calibration")
    n = len(next(iter(arrays.values())))
    if by_name:
        return quant.int8([{k: a[i] for k, a in arrays.items()} for i in range(n)])
    return quant.int8([tuple(a[i] for a in arrays.values()) for i in range(n)])


def _npz_batches(path: str, inputs) -> list[tuple]:
    """Calibration batches from an .npz: array i (in file order) holds input i's batches along axis 0."""
    import numpy as np
    import torch

    example = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = [data[k] for k in data.files]
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"not a readable .npz: {exc}", param_hint="--calibration") from None
    if len(arrays) != len(example) or not arrays:
        raise click.BadParameter(f"{len(arrays)} arrays for {len(example)} inputs", param_hint="--calibration")
    for a, x in zip(arrays, example):
        if a.ndim != x.dim() + 1 or tuple(a.shape[1:]) != tuple(x.shape) or len(a) != len(arrays[0]):
            raise click.BadParameter(f"an array shaped {list(a.shape)} does not hold batches of {list(x.shape)}",
                                     param_hint="--calibration")
    # each batch in its example input's dtype (token ids stay integers)
    dtypes = [x.numpy().dtype if isinstance(x, torch.Tensor) else np.float32 for x in example]
    return [tuple(torch.from_numpy(np.ascontiguousarray(a[i], dtype=d)) for a, d in zip(arrays, dtypes))
            for i in range(len(arrays[0]))]


COMMANDS = [export_command]
