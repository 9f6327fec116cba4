"""Render a C SDK for one .ptm: `<prefix>.h/.c` (typed init/run), the selected runtime sources under
runtime/, CMakeLists.txt, Makefile, example.c, README.md and manifest.json; with embed=True also
`<prefix>_model.c` (the program as a const, 64-byte aligned array) on the embedded platform layer.

Memory sizes come from the runtime itself (`_native.embedded_sizes`): the workspace its tables take and the
single-threaded arena with the portable kernels, which is what the embedded platform runs.
"""
from __future__ import annotations

import dataclasses
import json
import os

from pockettorch.runtime import error_catalogue as errors
from pockettorch.runtime import _native, manifest as runtime_manifest
from pockettorch.sdk_templates import model_info, names, render, sources

# C type, .npy descr, runtime dtype code and element size per torch dtype (float16 travels as its bits).
C_TYPES = {
    "float32": ("float", "<f4", 1, 4), "int64": ("int64_t", "<i8", 2, 8), "int32": ("int32_t", "<i4", 3, 4),
    "bool": ("bool", "|b1", 4, 1), "uint8": ("uint8_t", "|u1", 5, 1), "int8": ("int8_t", "|i1", 6, 1),
    "float16": ("uint16_t", "<f2", 7, 2),
}

# The only C library functions the --embed profile's library files may call (beside each other and the
# compiler's runtime helpers, whose names start with "__"): the four GCC requires of any freestanding
# environment (mem*) and <math.h>. The generated README lists them; tests/sdk/c checks a freestanding
# Cortex-M4 build against this list.
LIBC_SYMBOLS = (
    "memcmp", "memcpy", "memmove", "memset",
    "acosf", "asinf", "atan2f", "atanf", "ceil", "ceilf", "copysignf", "cosf", "coshf", "erff", "exp", "expf",
    "expm1f", "fabs", "fabsf", "floor", "floorf", "fmaxf", "fminf", "fmodf", "log", "log1pf", "log2f", "logf",
    "nearbyintf", "powf", "roundf", "sinf", "sinhf", "sqrt", "sqrtf", "tanf", "tanhf", "truncf",
)

MEMORY_ALIGN = 64  # the arena follows the workspace in the caller's memory, at this alignment


@dataclasses.dataclass(frozen=True)
class Tensor:
    index: int
    name: str  # as exported
    ident: str  # C identifier (parameter name, macro stem)
    dtype: str
    ctype: str
    descr: str
    code: int
    shape: tuple[int, ...]
    numel: int
    nbytes: int
    ranges: tuple = ()  # dynamic dims (model_info.DimRange); shape, numel and nbytes at the maxima

    @property
    def macro(self) -> str:
        return self.ident.upper().lstrip("_")


@dataclasses.dataclass(frozen=True)
class CSdk:
    info: model_info.ModelInfo
    prefix: str
    embed: bool
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    workspace_bytes: int
    arena_bytes: int
    runtime: sources.RuntimeSources

    @property
    def memory_bytes(self) -> int:
        return -(-self.workspace_bytes // MEMORY_ALIGN) * MEMORY_ALIGN + self.arena_bytes


# The prefix is also the struct's type name, so it must not be a function the generated files call or a name
# example.c and the .c file declare (the C library's and C++'s names are checked by names.check_c_prefix).
TAKEN_PREFIXES = frozenset(LIBC_SYMBOLS) | {
    "tensor_file", "input_files", "output_files", "read_file", "load_input", "same_spec", "make_folder", "write_npy",
    "threads", "check_io", "fail", "start", "memory"}


def check_prefix(prefix: str) -> str:
    """A --prefix: a usable C prefix that no generated file already uses as a name."""
    return names.check_c_prefix(prefix, TAKEN_PREFIXES)


def default_prefix(model_name: str) -> str:
    """The model's name in snake case when that is a usable prefix, else 'model'."""
    try:
        return check_prefix(names.snake(model_name, "model"))
    except errors.InvalidArgumentError:
        return "model"


# Names run() and its header already use beside the tensors (plus the prefix, the struct's type name): a parameter
# named like one would hide it inside run()'s body. The runtime's own names (pkt_*) are kept apart by _unshadowed.
RESERVED = ("model", "st", "size_t", "int8_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "fail",
            # what run() calls to serialize calls (model.c.j2)
            "run_locked", "atomic_signal_fence", "memory_order_seq_cst", *LIBC_SYMBOLS)


def _unshadowed(name: str) -> str:
    return name + "_" if name.startswith("pkt_") else name


def identifiers(inputs, outputs, prefix: str) -> list[str]:
    """C names of the inputs then the outputs: they share run()'s parameter list, so they are made distinct
    together and from what that function already uses."""
    reserved = [*RESERVED, prefix]
    wanted = [names.snake(t.name, f"input{i}") for i, t in enumerate(inputs)] + [
        names.snake(t.name, f"output{i}") for i, t in enumerate(outputs)]
    return names.unique_names(reserved + [_unshadowed(n) for n in wanted])[len(reserved):]


def _tensors(specs, idents, start: int) -> tuple[Tensor, ...]:
    out = []
    for k, spec in enumerate(specs):
        ctype, descr, code, size = C_TYPES[spec.dtype]
        out.append(Tensor(k, spec.name, idents[start + k], spec.dtype, ctype, descr, code, spec.shape, spec.numel,
                          spec.numel * size, getattr(spec, "ranges", ())))
    return tuple(out)


def render_sdk(model_path: str | os.PathLike, prefix: str | None = None, embed: bool = False,
               with_reference: bool = False) -> tuple[CSdk, dict]:
    """Describe the SDK and render its files: (CSdk, {relative path: str | bytes})."""
    info = model_info.read_model(model_path, with_reference)
    prefix = check_prefix(prefix) if prefix is not None else default_prefix(info.name)
    unknown = sorted({t.dtype for t in info.inputs + info.outputs} - set(C_TYPES))
    if unknown:
        raise errors.NotSupportedError(f"{info.path}: no C type for dtype(s) {', '.join(unknown)}")
    idents = identifiers(info.inputs, info.outputs, prefix)
    try:
        workspace, arena = _native.embedded_sizes(info.data)
    except _native.NativeError as exc:  # e.g. a kernel refuses its shapes when a session is prepared
        code, detail = exc.args
        raise errors.error_for_code(code, f"{info.path}: {detail}") from None
    sdk = CSdk(info, prefix, embed, _tensors(info.inputs, idents, 0), _tensors(info.outputs, idents, len(info.inputs)),
               workspace, arena, sources.for_model(info, platform="embedded" if embed else "posix"))
    return sdk, _files(sdk)


def _files(sdk: CSdk) -> dict:
    runtime_c = [f"runtime/{p}" for p in sdk.runtime.c_files]
    library_c = [f"{sdk.prefix}.c"] + ([f"{sdk.prefix}_model.c"] if sdk.embed else []) + runtime_c
    context = {
        "prefix": sdk.prefix, "PREFIX": sdk.prefix.upper(), "embed": sdk.embed, "model": sdk.info,
        "dynamic": sdk.info.dynamic,
        "inputs": sdk.inputs, "outputs": sdk.outputs, "workspace_bytes": sdk.workspace_bytes,
        "arena_bytes": sdk.arena_bytes, "memory_bytes": sdk.memory_bytes, "memory_align": MEMORY_ALIGN,
        "library_c": library_c, "opt_flags": " ".join(runtime_manifest.OPT_FLAGS), "libc_symbols": LIBC_SYMBOLS,
        "c_standard": runtime_manifest.C_STANDARD, "public_includes": sources.include_dirs("runtime", public=True),
        "private_includes": sources.include_dirs("runtime", public=False),
        "output_keys": _output_keys(sdk.info.output_structure, len(sdk.outputs)),
        "model_bytes": len(sdk.info.data),
    }
    env = render.environment("c")
    files: dict[str, str | bytes] = {f"runtime/{rel}": data for rel, data in sdk.runtime.files.items()}
    for template, name in (("model.h.j2", f"{sdk.prefix}.h"), ("model.c.j2", f"{sdk.prefix}.c"),
                           ("example.c.j2", "example.c"), ("CMakeLists.txt.j2", "CMakeLists.txt"),
                           ("Makefile.j2", "Makefile"), ("README.md.j2", "README.md")):
        files[name] = env.get_template(template).render(context)
    if sdk.embed:
        data = sdk.info.data
        rows = [", ".join(f"0x{b:02x}" for b in data[i:i + 16]) for i in range(0, len(data), 16)]
        files[f"{sdk.prefix}_model.c"] = env.get_template("model_data.c.j2").render(context, rows=rows)
    files["manifest.json"] = json.dumps(_manifest(sdk), indent=2, sort_keys=True) + "\n"
    return files


def _output_keys(structure: dict, count: int) -> list[str | None]:
    """The dict key of each output when the model returns a flat dict, else None per output (for docs)."""
    keys: list[str | None] = [None] * count
    if structure.get("kind") == "dict":
        for key, item in zip(structure.get("keys", []), structure.get("items", [])):
            if item.get("kind") == "tensor" and isinstance(item.get("index"), int) and 0 <= item["index"] < count:
                keys[item["index"]] = str(key)
    return keys


def _manifest(sdk: CSdk) -> dict:
    def tensor(t: Tensor) -> dict:
        return {"name": t.name, "c_name": t.ident, "dtype": t.dtype, "c_type": t.ctype, "shape": list(t.shape),
                "bytes": t.nbytes}

    return {
        "generator": "pockettorch sdk c", "profile": "embed" if sdk.embed else "posix", "prefix": sdk.prefix,
        "model": {"name": sdk.info.name, "sha256": sdk.info.sha256, "bytes": len(sdk.info.data)},
        "inputs": [tensor(t) for t in sdk.inputs], "outputs": [tensor(t) for t in sdk.outputs],
        "memory": {"workspace_bytes": sdk.workspace_bytes, "arena_bytes": sdk.arena_bytes,
                   "memory_bytes": sdk.memory_bytes},
        "runtime": sources.manifest(sdk.runtime),
    }


def generate(model_path: str | os.PathLike, out: str | os.PathLike, prefix: str | None = None,
             embed: bool = False, with_reference: bool = False, force: bool = False) -> CSdk:
    """Render and write the SDK under `out` (byte-identical for the same inputs); `force` replaces another kind's."""
    sdk, files = render_sdk(model_path, prefix, embed, with_reference)
    render.write_tree(out, files, "c", force)
    return sdk
