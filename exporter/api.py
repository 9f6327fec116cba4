"""pockettorch.export: nn.Module + example inputs -> Program (a .ptm in memory)."""
from __future__ import annotations

import json
import os
import re
import secrets
from typing import Any

import numpy as np

from pockettorch import __version__

from pockettorch.exporter.capture import capture
from pockettorch.exporter.ir import NUMPY_DTYPES, Graph
from pockettorch.exporter.lower import lower
from pockettorch.exporter.memory_plan import MemoryPlan, plan_memory
from pockettorch.exporter.partition import partition
from pockettorch.exporter.passes import run_passes
from pockettorch.exporter.quant import config as quant_config
from pockettorch.exporter.quant.report import QuantInfo, scheme_name
from pockettorch.exporter.serialize import serialize
from pockettorch.runtime import error_catalogue as errors
from pockettorch.runtime import metadata_json, provenance
from pockettorch.runtime.ptm_info import delegation_summary


def _human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


class Program:
    """An exported PocketTorch program: the IR, its memory plan, and the metadata written with it."""

    def __init__(self, graph: Graph, plan: MemoryPlan, metadata: dict, pass_counts: dict[str, int],
                 reference: tuple[list[np.ndarray], list[np.ndarray]] | None = None):
        self.graph = graph
        self.plan = plan
        self.metadata = metadata
        self.pass_counts = pass_counts
        self.reference = reference  # (example inputs, eager outputs), stored in the REFERENCE section
        self.exported = None  # the torch.export program it was lowered from (the numerical debugger replays it)
        self.quantization = None  # QuantInfo of a quantized export (quant_report)
        self._bytes: bytes | None = None

    @property
    def name(self) -> str:
        return self.metadata["name"]

    def to_bytes(self) -> bytes:
        if self._bytes is None:
            self._bytes = serialize(self.graph, self.plan, self.metadata, self.reference)
        return self._bytes

    def save(self, path: str | os.PathLike) -> str:
        """Write the .ptm atomically (a temporary file renamed into place), so a failure leaves no torn file.
        The file gets the mode the umask allows (0644 under umask 022), like any file the user creates."""
        path = os.fspath(path)
        data = self.to_bytes()
        directory = os.path.dirname(os.path.abspath(path))
        tmp = None
        try:
            os.makedirs(directory, exist_ok=True)
            fd, tmp = _create_temporary(directory)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
            raise errors.IoError(f"could not write {path}: {exc.strerror or exc}") from None
        return path

    @property
    def constants_bytes(self) -> int:
        """Bytes of distinct constant data (identical constants are stored once)."""
        seen = {t.data.tobytes(): t.nbytes for n in self.graph.nodes for t in n.inputs if t.is_constant}
        return sum(seen.values())

    def summary(self) -> str:
        hist = self.graph.op_histogram()
        plan = self.plan
        ins = ", ".join(f"{i['name']}: {i['dtype']}{i['shape']}" for i in self.metadata["inputs"])
        outs = ", ".join(f"{o['name']}: {o['dtype']}{o['shape']}" for o in self.metadata["outputs"])
        saved = 100.0 * (1 - plan.arena_bytes / plan.naive_bytes) if plan.naive_bytes else 0.0
        lines = [
            f"program {self.name}: {len(self.graph.nodes)} instructions, {len(self.to_bytes())} bytes",
            f"  inputs:  {ins}",
            f"  outputs: {outs}",
            "  ops:     " + ", ".join(f"{op} x{n}" for op, n in hist.items()),
            f"  constants: {_human(self.constants_bytes)}",
            f"  arena:     {_human(plan.arena_bytes)} planned (naive sum {_human(plan.naive_bytes)}, "
            f"{saved:.0f}% saved; lower bound {_human(plan.lower_bound_bytes)})",
            "  passes:    " + ", ".join(f"{k} {v}" for k, v in self.pass_counts.items()),
        ]
        if self.metadata.get("symbols"):
            lines.insert(6, self._dynamic_summary())
        if self.metadata.get("source"):
            lines.insert(1, "  source:  " + provenance.describe(provenance.source_of(self.metadata)))
        if "delegation" in self.metadata:
            lines.append(delegation_summary(self.metadata["delegation"]))
        return "\n".join(lines)

    def _dynamic_summary(self) -> str:
        """The dynamic dims' ranges, and the arena the program uses at every dim's min against the one planned for
        the maxima (measured by the runtime's own shape rules)."""
        from pockettorch.runtime.module import load

        symbols = self.metadata["symbols"]
        at_min = {s["name"]: s["min"] for s in symbols}
        shapes = [[at_min[dyn[str(d)]["symbol"]] if str(d) in (dyn := io.get("dynamic", {})) else n
                   for d, n in enumerate(io["shape"])] for io in self.metadata["inputs"]]
        with load(self.to_bytes()) as module:
            _, used = module.shapes_for(*shapes)
        ranges = ", ".join(f"{s['name']} {s['min']}..{s['max']}" for s in symbols)
        return (f"  dynamic:   {ranges}; arena {_human(self.plan.arena_bytes)} planned for the maxima, "
                f"{_human(used)} used at the minima")

    def quant_report(self):
        """Per layer of a quantized program: SQNR of its output against float, scale/zero-point ranges, what stayed
        float and why; layers under 20 dB are flagged (exporter/quant/report.py)."""
        if isinstance(self.metadata.get("quantization"), dict):  # weight-only: its own report
            from pockettorch.exporter.quant.wo_report import quant_report as weight_only_report

            return weight_only_report(self)
        if self.quantization is None and self.metadata.get("quantization") in ("int8", "int8-dynamic"):
            raise errors.NotSupportedError("quant_report() compares each layer with the PyTorch model, which an "
                                           "imported ONNX model does not have",
                                           hint="compare the program's outputs with onnxruntime on the same file")
        from pockettorch.exporter.quant.report import quant_report

        return quant_report(self)

    def __repr__(self) -> str:
        return f"<pockettorch.Program {self.name}: {len(self.graph.nodes)} instructions>"


def _create_temporary(directory: str) -> tuple[int, str]:
    """A new file in `directory`, created with mode 0666 so the kernel applies the umask (mkstemp's is 0600)."""
    for _ in range(100):
        path = os.path.join(directory, f".ptm-{secrets.token_hex(8)}")
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {directory}")


def _check_json(metadata: Any) -> dict:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise errors.BadModelArgsError(f"metadata must be a dict, got {type(metadata).__name__}")
    try:
        return metadata_json.loads(json.dumps(metadata))
    except (TypeError, ValueError, RecursionError) as exc:
        raise errors.BadModelArgsError(f"metadata must be JSON-serializable: {exc}") from None


def _default_name(model) -> str:
    return snake_case(type(model).__name__)


def snake_case(class_name: str) -> str:
    """'MobileNetV2' -> 'mobile_net_v2': a program's default name from a class name."""
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()
    return name or "model"


def export(model, example_inputs, name: str | None = None, metadata: dict | None = None,
           reference: bool = False, dynamic_shapes=None, source: dict | None = None, quantization=None,
           backends=None, backend_options=None) -> Program:
    """Export `model` called on `example_inputs` (a tuple, as for torch.export) to a Program.

    dynamic_shapes takes torch.export's form (one entry per input: {dim: torch.export.Dim(name, min=, max=)}, or a
    dict by argument name); every dynamic dim needs a max. The memory plan is made for the maxima, and the program
    runs at any sizes in the ranges (one Dim on several inputs: the same size on each). `source` says where the
    model came from (metadata "source"; model-file importers pass theirs, default {"format": "pytorch"}).
    quantization: a scheme from `pockettorch.quant` (int8, int8_dynamic, weight_only), or None for float32.

    backends (["vulkan"]) delegates the subgraphs those backends support to them (exporter/partition.py); the CPU
    instructions stay beside each delegate as its fallback. backend_options: per backend, e.g.
    {"vulkan": {"precision": "fp16"}}."""
    user_meta = _check_json(metadata)
    name = name or _default_name(model)
    float_model, quant_notes = model, {}
    if isinstance(quantization, (quant_config.Int8Static, quant_config.Int8Dynamic)):
        from pockettorch.exporter.quant import int8_flow as quant_int8
        model, quant_notes = quant_int8.prepare(model, example_inputs, quantization)
    elif quantization is not None and not isinstance(quantization, quant_config.WeightOnly):
        raise errors.BadModelArgsError(f"quantization must be a scheme from pockettorch.quant, got {quantization!r}")
    captured = capture(model, example_inputs, dynamic_shapes)
    graph = Graph(name)
    graph.symbols = captured.symbols
    graph._names.update(captured.output_names)
    lower(captured.exported, graph, captured.input_names)
    graph.output_structure = captured.output_structure
    program = finish(graph, captured.input_names, captured.output_names, user_meta,
                     {"pockettorch": __version__, "torch": captured.torch_version}, source or {"format": "pytorch"},
                     quantization, backends, backend_options, captured.exported)
    if isinstance(quantization, (quant_config.Int8Static, quant_config.Int8Dynamic)):
        program.quantization = QuantInfo(quantization, float_model, model, list(captured.example_inputs), quant_notes)
    if reference:
        program.reference = (
            [_array(t, io["dtype"]) for t, io in zip(captured.example_inputs, program.metadata["inputs"])],
            [_array(t, io["dtype"]) for t, io in zip(captured.eager_outputs, program.metadata["outputs"])])
    program.exported = captured.exported
    return program


def finish(graph: Graph, input_names: list[str], output_names: list[str], user_meta: dict, exporter: dict,
           source: dict | None = None, quantization=None, backends=None, backend_options=None,
           exported=None, layer_names: dict[str, str] | None = None) -> Program:
    """The tail every frontend shares: a lowered graph (inputs, outputs, output_structure and symbols set) through
    the passes and the memory plan into a Program. `source` says where the model came from (metadata "source").
    layer_names: instruction cover -> the layer name quantization's `skip` matches, for frontends without a
    torch.export program (ONNX: the node names); by default the module names of `exported`."""
    pass_counts = run_passes(graph)
    if isinstance(quantization, (quant_config.Int8Static, quant_config.Int8Dynamic)):
        from pockettorch.exporter.quant import int8_flow as quant_int8
        pass_counts["int8"] = quant_int8.finish(graph, quantization, layer_names)
    quant_meta = scheme_name(quantization) if quantization is not None else None
    if isinstance(quantization, quant_config.WeightOnly):  # module names (for skip) come from the torch.export graph
        from pockettorch.exporter.quant import wo_rewrite
        names = (wo_rewrite.module_names(exported) if exported is not None else
                 (layer_names or {}, set()))  # a model file's frontend: no aten.embedding nodes to name
        quant_meta = wo_rewrite.apply(graph, quantization, *names, exported=exported)
    inputs = {id(t) for t in graph.inputs}
    for t, out_name in zip(graph.outputs, output_names):
        if id(t) not in inputs and t.name not in output_names:
            t.name = out_name  # outputs carry the model's output names into the file
    delegation = partition(graph, list(backends), backend_options) if backends else None
    plan = plan_memory(graph)
    symbols = getattr(graph, "symbols", [])
    sym_names = {sym: (name, lo, hi) for sym, name, lo, hi in symbols}

    def io(t, tname):
        entry = {"name": tname, "dtype": t.dtype, "shape": list(t.shape)}
        dynamic = {str(d): dict(zip(("symbol", "min", "max"), sym_names[e])) for d, e in sorted(t.sym.items())
                   if e in sym_names}
        if dynamic:
            entry["dynamic"] = dynamic  # "shape" holds the maxima
        return entry

    meta = {
        "name": graph.name,
        "format": "1.3" if delegation and delegation.partitions else "1.2" if symbols else "1.1",
        "inputs": [io(t, n) for t, n in zip(graph.inputs, input_names)],
        "outputs": [io(t, n) for t, n in zip(graph.outputs, output_names)],
        "output_structure": graph.output_structure,
        "user": user_meta,
        "plan": plan.as_dict(),
        "debug": _debug_info(graph),
        "exporter": exporter,
    }
    if source is not None:
        meta["source"] = source
    if delegation is not None:
        meta["delegation"] = delegation.as_dict()
    if symbols:
        meta["symbols"] = [{"name": n, "min": lo, "max": hi} for _, n, lo, hi in symbols]
    if quant_meta is not None:
        meta["quantization"] = quant_meta
    return Program(graph, plan, meta, pass_counts)


def _debug_info(graph: Graph) -> dict:
    """Per instruction, the torch.export nodes it computes (`covers`, fusions included) and, per output, the node
    whose eager value it holds (null: a temporary of a lowering): what
    `pockettorch debug` compares each instruction's outputs against."""
    return {"instructions": [{"covers": list(n.covers), "outputs": [t.origin for t in n.outputs]}
                             for n in graph.nodes]}


def _array(t, dtype: str) -> np.ndarray:
    """A reference tensor as the program's dtype for it (eager may compute in float64), bits kept otherwise."""
    return t.detach().cpu().numpy().astype(NUMPY_DTYPES[dtype], copy=False)
