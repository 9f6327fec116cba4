"""The Python face of the C runtime: load a .ptm and call it like the original module."""
from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np

from pockettorch.runtime import error_catalogue as errors
from pockettorch.runtime import _native, metadata_json, provenance

# FORMAT.md dtype codes <-> numpy dtypes; names are torch's (float32, int64, ...).
DTYPES: dict[int, np.dtype] = {
    1: np.dtype(np.float32), 2: np.dtype(np.int64), 3: np.dtype(np.int32), 4: np.dtype(np.bool_),
    5: np.dtype(np.uint8), 6: np.dtype(np.int8), 7: np.dtype(np.float16),
}
DTYPE_NAMES = {code: ("bool" if dt == np.bool_ else dt.name) for code, dt in DTYPES.items()}


class TensorSpec(NamedTuple):
    name: str
    dtype: str  # "float32", "int64", ...
    shape: tuple  # ints; None for a dynamic dim (its range in `ranges`)
    ranges: dict = {}  # dynamic dims: {dim: (symbol name, min, max)}

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)


def _raise_native(exc: Exception, context: str = "") -> None:
    code, detail = exc.args
    raise errors.error_for_code(code, f"{context}{detail}") from None


def _spec(entry) -> TensorSpec:
    name, dtype, dims, _ = entry
    return TensorSpec(name, DTYPE_NAMES[dtype], tuple(dims))


def _rebuild(node, leaves: list):
    """Rebuild the module's output structure; any malformed node is a BadMetadataError, never a crash."""
    try:
        kind = node["kind"]
        if kind == "tensor":
            index = node["index"]
            if not isinstance(index, int) or not 0 <= index < len(leaves):
                raise IndexError(index)
            return leaves[index]
        items = [_rebuild(child, leaves) for child in node["items"]]
        if kind == "tuple":
            return tuple(items)
        if kind == "list":
            return items
        if kind == "dict":
            keys = node["keys"]
            if not isinstance(keys, list) or len(keys) != len(items):
                raise ValueError("keys do not match items")
            return dict(zip(keys, items))
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise errors.BadMetadataError(f"metadata output_structure is malformed ({type(exc).__name__}: {exc})") from None
    raise errors.BadMetadataError(f"unknown output structure kind {kind!r}")


class Module:
    """A program loaded into the C runtime. Call it with tensors (torch or numpy) like the original module.

    Safe to call from many threads: calls on one module run one at a time (each on the module's own
    num_threads threads) and every call gets its own outputs; load one module per thread to run them in
    parallel. close() (or a `with` block) frees the native session at once; later calls raise.
    """

    def __init__(self, source: str | os.PathLike | bytes, num_threads: int = 1, strict_backends: bool = False,
                 backends=None):
        if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 0:
            raise errors.InvalidArgumentError(f"num_threads must be an integer >= 0 (0 = all cores), got {num_threads!r}")
        if not isinstance(source, (bytes, bytearray)):
            source = os.fspath(source)
            if not os.path.isfile(source):
                raise errors.IoError(f"no program file at {source}")
        label = "program" if isinstance(source, (bytes, bytearray)) else source
        try:
            self._program = _native.Program(bytes(source) if isinstance(source, bytearray) else source)
            self._session = _native.Session(self._program, num_threads, bool(strict_backends),
                                            None if backends is None else ",".join(backends))
        except _native.NativeError as exc:
            _raise_native(exc, f"{label}: ")
        self.input_specs: list[TensorSpec] = [_spec(e) for e in self._program.inputs()]
        self.output_specs: list[TensorSpec] = [_spec(e) for e in self._program.outputs()]
        symbols, input_dims = self._program.symbols()
        self.dynamic: bool = bool(symbols)  # some input dims take any size in a range
        if self.dynamic:
            self.input_specs = [
                TensorSpec(s.name, s.dtype, tuple(None if k >= 0 else d for d, k in zip(s.shape, dims)),
                           {i: symbols[k] for i, k in enumerate(dims) if k >= 0})
                for s, dims in zip(self.input_specs, input_dims)]
        # what an input that needs no conversion looks like, and the outputs' (shape, dtype): per-run fast paths
        self._ready_inputs = [(s.numpy_dtype, s.shape) for s in self.input_specs]
        self._output_layouts = [(s.shape, s.numpy_dtype) for s in self.output_specs]
        try:
            self.metadata: dict[str, Any] = metadata_json.loads(self._program.metadata())
        except ValueError as exc:
            raise errors.BadMetadataError(f"{label}: metadata is not valid JSON ({exc})") from None
        if not isinstance(self.metadata, dict):
            raise errors.BadMetadataError(f"{label}: metadata is not a JSON object")
        self.name: str = str(self.metadata.get("name", "model"))
        self.source = provenance.source_of(self.metadata, label)  # where the program came from (or None)
        self.num_threads: int = self._session.num_threads()
        self.isa: str = self._session.isa()  # SIMD path chosen for this CPU (PKT_MAX_ISA caps it)
        self.packed_bytes: int = self._session.packed_bytes()  # weights repacked at load

    @property
    def arena_bytes(self) -> int:
        """The planned arena (for a dynamic program: at every dynamic dim's max)."""
        return self._program.arena_bytes()

    @property
    def used_arena_bytes(self) -> int:
        """Arena bytes the last call's shapes used (of arena_bytes)."""
        return self._session.used_arena_bytes()

    def shapes_for(self, *input_shapes) -> tuple[list[tuple[int, ...]], int]:
        """The outputs' shapes and the arena bytes used at these input shapes, without running (a dynamic
        program; the planned arena_bytes is for the maxima). Raises InputShapeError outside the ranges."""
        try:
            outputs, used = self._session.plan_shapes([tuple(int(d) for d in s) for s in input_shapes])
        except _native.NativeError as exc:
            _raise_native(exc, f"{self.name}: ")
        return [tuple(o) for o in outputs], used

    @property
    def delegates(self) -> list[dict[str, Any]]:
        """Where each delegated subgraph runs: one dict per delegate with `backend` ("vulkan"), `device` and `driver`
        (what the backend runs on; "" when inactive), `active` (False: its CPU fallback runs, and `reason` says
        why), `instruction` and `fallback` (its instruction and the CPU instructions after it) and `last_device_ns`
        (the device time of the last call when the backend measures it, else 0)."""
        try:
            return self._session.delegates()
        except _native.NativeError as exc:
            _raise_native(exc, f"{self.name}: ")

    def packed_weights(self) -> bytes:
        """A copy of the weights the kernels repacked when the module was loaded (never again, at any shape)."""
        return self._session.packed_weights()

    def instructions(self) -> list[tuple[str, str]]:
        """(op, source) for every instruction, in execution order."""
        return self._program.instructions()

    def _check_inputs(self, inputs) -> list[np.ndarray]:
        if len(inputs) != len(self.input_specs):
            names = ", ".join(s.name for s in self.input_specs) or "none"
            raise errors.InputCountError(f"{self.name} takes {len(self.input_specs)} input(s) ({names}), got {len(inputs)}")
        arrays = []
        for spec, (dtype, shape), value in zip(self.input_specs, self._ready_inputs, inputs):
            if type(value) is np.ndarray and value.dtype == dtype and value.shape == shape and value.flags.c_contiguous:
                arrays.append(value)  # the common case, without the conversions and messages below
                continue
            if hasattr(value, "detach") and hasattr(value, "numpy"):  # torch.Tensor without importing torch
                value = _tensor_to_numpy(spec, value)
            elif not isinstance(value, np.ndarray):
                raise errors.InputDtypeError(
                    f"input '{spec.name}' is a {type(value).__name__}; pass a torch.Tensor or numpy.ndarray")
            # the runtime reads native-order values: another byte order is the same dtype, converted below
            if value.dtype.fields is not None or value.dtype.newbyteorder("=") != dtype:
                given = "bool" if value.dtype == np.bool_ else value.dtype.name
                raise errors.InputDtypeError(f"input '{spec.name}' has dtype {given}, expected {spec.dtype}")
            if len(value.shape) != len(spec.shape) or any(
                    want is not None and got != want for got, want in zip(value.shape, spec.shape)):
                raise errors.InputShapeError(
                    f"input '{spec.name}' has shape {tuple(value.shape)}, expected {spec.shape}")
            arrays.append(np.ascontiguousarray(value, dtype=dtype))  # native byte order, row-major
        return arrays

    def run_numpy(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Run on numpy arrays in input order; returns the outputs as a flat list of numpy arrays."""
        arrays = self._check_inputs(inputs)
        if self.dynamic:  # the outputs' shapes follow the inputs': the runtime gives them
            try:
                results = self._session.run_shaped(arrays, [a.shape for a in arrays])
            except _native.NativeError as exc:
                _raise_native(exc, f"{self.name}: ")
            return [np.frombuffer(data, dtype=dtype).reshape(shape)
                    for (shape, data), (_, dtype) in zip(results, self._output_layouts)]
        outputs = [np.empty(shape, dtype=dtype) for shape, dtype in self._output_layouts]
        try:
            self._session.run(arrays, outputs)
        except _native.NativeError as exc:
            _raise_native(exc, f"{self.name}: ")
        return outputs

    def instruction_outputs(self) -> list[list[TensorSpec]]:
        """The tensors each instruction writes, in execution order (what run_capture returns)."""
        try:
            return [[_spec(e) for e in outs] for outs in self._session.instruction_outputs()]
        except _native.NativeError as exc:
            _raise_native(exc, f"{self.name}: ")

    def run_capture(self, inputs: list) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
        """Run once and also return every instruction's outputs as it wrote them (before the memory plan
        reuses their bytes): (outputs, [[output k of instruction i]]). For the numerical debugger: the copies
        go into one buffer sized here, so the run itself allocates nothing."""
        arrays = self._check_inputs(inputs)
        try:
            layout = self._session.instruction_outputs()
        except _native.NativeError as exc:
            _raise_native(exc, f"{self.name}: ")
        offsets, end = [], 0
        for outs in layout:
            for _, _, _, nbytes in outs:
                offsets.append(end)
                end += -(-nbytes // 64) * 64
        buffer = np.empty(max(end, 1), dtype=np.uint8)
        outputs = [np.empty(shape, dtype=dtype) for shape, dtype in self._output_layouts]
        try:
            self._session.run(arrays, outputs, buffer, np.array(offsets, dtype=np.int64))
        except _native.NativeError as exc:
            _raise_native(exc, f"{self.name}: ")
        at = iter(offsets)
        captured = [[buffer[next(at):][:nbytes].view(DTYPES[dtype]).reshape(dims) for _, dtype, dims, nbytes in outs]
                    for outs in layout]
        return outputs, captured

    def __call__(self, *inputs):
        outputs = self.run_numpy(list(inputs))
        if any(not isinstance(v, np.ndarray) for v in inputs) or not inputs:
            try:
                import torch
            except ImportError:
                torch = None
            if torch is not None:
                outputs = [torch.from_numpy(o) for o in outputs]
        structure = self.metadata.get("output_structure") or {"kind": "tuple", "items": [
            {"kind": "tensor", "index": i} for i in range(len(outputs))]}
        return _rebuild(structure, outputs)

    def set_profiling(self, enabled: bool) -> None:
        try:
            self._session.set_profiling(bool(enabled))
        except _native.NativeError as exc:
            _raise_native(exc, f"{self.name}: ")

    def profile_ns(self) -> list[int]:
        """Per-instruction times (ns) of the last run made with profiling on."""
        try:
            return self._session.profile_ns()
        except _native.NativeError as exc:
            _raise_native(exc, f"{self.name}: ")

    def close(self) -> None:
        """Free the session now (a call in progress finishes first); later calls raise InvalidArgumentError."""
        self._session.close()

    def __enter__(self) -> "Module":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        ins = ", ".join(f"{s.name}: {s.dtype}{list(s.shape)}" for s in self.input_specs)
        return f"<pockettorch.Module {self.name}({ins}) threads={self.num_threads}>"


def _tensor_to_numpy(spec: TensorSpec, tensor) -> np.ndarray:
    """A dense CPU copy or view of a torch tensor whose dtype is the input's; any other tensor is refused."""
    given = str(tensor.dtype).removeprefix("torch.")
    if given != spec.dtype:
        raise errors.InputDtypeError(f"input '{spec.name}' has dtype {given}, expected {spec.dtype}")
    layout = str(tensor.layout).removeprefix("torch.")
    if layout != "strided":
        raise errors.InputDtypeError(f"input '{spec.name}' is a {layout} tensor; pass a dense one (tensor.to_dense())")
    if tensor.device.type == "meta":
        raise errors.InputDtypeError(f"input '{spec.name}' is on the meta device and holds no data")
    try:  # negative and conjugate views are materialized; channels-last and expanded strides made row-major
        return tensor.detach().cpu().resolve_neg().resolve_conj().contiguous().numpy()
    except (RuntimeError, TypeError) as exc:
        raise errors.InputDtypeError(f"input '{spec.name}' cannot be read as a {spec.dtype} array ({exc})") from None


def load(source: str | os.PathLike | bytes, num_threads: int = 1, strict_backends: bool = False,
         backends=None) -> Module:
    """Load a .ptm file (or its bytes) into the C runtime. A delegate whose backend is not compiled in, not
    available here or fails to initialize runs its CPU fallback; strict_backends=True raises instead. backends
    (None: every backend compiled in) lists the backends delegates may use; [] runs every fallback."""
    return Module(source, num_threads=num_threads, strict_backends=strict_backends, backends=backends)
