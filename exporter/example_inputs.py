"""Example inputs for model files, which carry none: `--input-shape x:1,3,224,224[:dtype]` and `--input x=x.npy`
on the command line, and the mapping of inputs given by name onto forward's positions.

Random inputs are deterministic (seed 0): floats standard normal, integers and bools zero (valid token ids and
indices for any vocabulary); give real values with --input when the model's path depends on them.
"""
from __future__ import annotations

import re

import numpy as np

from pockettorch.runtime import error_catalogue as errors

DTYPES = {"float32": np.float32, "float16": np.float16, "int64": np.int64, "int32": np.int32, "int8": np.int8,
          "uint8": np.uint8, "bool": np.bool_}
_SHAPE = re.compile(r"^(?:(?P<name>[^:=]+):)?(?P<shape>\d+(?:,\d+)*|scalar)(?::(?P<dtype>\w+))?$")
_FILE = re.compile(r"^(?:(?P<name>[^=]+)=)?(?P<file>.+)$")
MAX_ELEMENTS = 1 << 31


def parse_input_shape(spec: str) -> tuple[str | None, tuple[int, ...], str]:
    """'x:1,3,224,224[:dtype]' (or '1,3,224,224', positional; 'scalar' for a 0-d input) -> (name, shape, dtype)."""
    m = _SHAPE.match(spec.strip())
    if not m:
        raise errors.BadModelArgsError(f"--input-shape {spec!r}: expected NAME:D0,D1,...[:DTYPE], e.g. x:1,3,224,224",
                                       hint="dims are positive integers separated by commas")
    dtype = m["dtype"] or "float32"
    if dtype not in DTYPES:
        raise errors.BadModelArgsError(f"--input-shape {spec!r}: unknown dtype {dtype!r}",
                                       hint=f"one of {', '.join(DTYPES)}")
    shape = () if m["shape"] == "scalar" else tuple(int(d) for d in m["shape"].split(","))
    if any(d < 1 for d in shape) or np.prod(shape, dtype=object) > MAX_ELEMENTS:
        raise errors.BadModelArgsError(f"--input-shape {spec!r}: every dim must be at least 1 and the input at most "
                                       f"{MAX_ELEMENTS} elements")
    return m["name"], shape, dtype


def parse_input_file(spec: str) -> tuple[str | None, np.ndarray]:
    """'x=x.npy' (or 'x.npy', positional) -> (name, array). Pickled (object) arrays are refused unread."""
    m = _FILE.match(spec.strip())
    name, path = (m["name"], m["file"]) if m else (None, spec)
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise errors.IoError(f"--input {spec!r}: no such file {path}") from None
    except (ValueError, OSError, EOFError) as exc:
        raise errors.BadModelArgsError(f"--input {spec!r}: not a readable .npy file ({exc})",
                                       hint="write inputs with numpy.save; object arrays are not read") from None
    if not isinstance(array, np.ndarray):
        raise errors.BadModelArgsError(f"--input {spec!r}: holds several arrays (.npz); give one .npy per input")
    if array.dtype.name not in DTYPES and array.dtype != np.float64:
        raise errors.BadModelArgsError(f"--input {spec!r}: dtype {array.dtype} is not supported",
                                       hint=f"one of {', '.join(DTYPES)}")
    if array.dtype == np.float64:
        array = array.astype(np.float32)  # numpy's default float; programs compute in float32
    return name, array


def example_inputs(shapes: tuple[str, ...] = (), files: tuple[str, ...] = (), seed: int = 0):
    """The inputs --input-shape and --input describe: a dict by name when every one is named, else a tuple in
    the order given (files after shapes)."""
    rng = np.random.default_rng(seed)
    entries: list[tuple[str | None, np.ndarray]] = []
    for spec in shapes:
        name, shape, dtype = parse_input_shape(spec)
        if dtype.startswith("float"):
            value = rng.standard_normal(shape).astype(DTYPES[dtype])
        else:
            value = np.zeros(shape, DTYPES[dtype])
        entries.append((name, np.asarray(value)))
    entries += [parse_input_file(spec) for spec in files]
    if not entries:
        raise errors.BadModelArgsError("a model file needs example inputs",
                                       hint="give --input-shape NAME:D0,D1,...[:DTYPE] or --input NAME=FILE.npy per input")
    named = [n is not None for n, _ in entries]
    if all(named):
        out: dict[str, np.ndarray] = {}
        for name, value in entries:
            if name in out:
                raise errors.BadModelArgsError(f"input {name!r} is given twice")
            out[name] = value
        return out
    if any(named):
        raise errors.BadModelArgsError("name every input (NAME:SHAPE, NAME=FILE) or none of them (then in order)")
    return tuple(value for _, value in entries)


_REQUIRED = object()


def by_position(value, names: list[str], what: str, missing=_REQUIRED) -> tuple:
    """`value` (a tuple/list in forward's order, one tensor, or a dict by argument name or position) as a tuple
    with one entry per name; `missing` fills absent entries of a dict (else they are an error)."""
    if isinstance(value, dict):
        unknown = [k for k in value if not (k in names or (isinstance(k, int) and 0 <= k < len(names)))]
        if unknown:
            raise errors.BadModelArgsError(f"{what} names {unknown}, not inputs of the model (inputs: {names})")
        out = []
        for i, name in enumerate(names):
            if name in value and i in value:
                raise errors.BadModelArgsError(f"{what} gives input {name!r} by name and by position")
            item = value.get(name, value.get(i, missing))
            if item is _REQUIRED:
                raise errors.BadModelArgsError(f"{what} has no entry for input {name!r} (inputs: {names})")
            out.append(item)
        return tuple(out)
    if not isinstance(value, (tuple, list)):
        value = (value,)
    if len(value) != len(names):
        raise errors.BadModelArgsError(f"{what} has {len(value)} entries; the model takes {len(names)} inputs "
                                       f"({', '.join(names)})")
    return tuple(value)
