"""ONNX files as benchmark models (compare.py --onnx): PocketTorch imports the file, ONNX Runtime runs the same file.

A file becomes model `onnx-<stem>` in the workdir: seeded random inputs from the graph's static input shapes,
the reference outputs from ONNX Runtime with graph optimizations off (what the graph computes), the artifacts
`ort.onnx` (a copy of the file) and `pockettorch.ptm` (pockettorch.exporter.onnx_frontend.export_onnx), and FLOPs
counted on the graph (2 per multiply-add of Conv, ConvTranspose, MatMul, Gemm, LSTM and GRU).
"""
from __future__ import annotations

import pathlib
import re
import shutil

import numpy as np

RUNTIMES = ("pockettorch", "ort")  # the others need the PyTorch module the file came from


def model_name(path) -> str:
    return "onnx-" + (re.sub(r"\W+", "_", pathlib.Path(path).stem).strip("_") or "model")


def _static_inputs(model) -> list[tuple[str, np.dtype, list[int]]]:
    from onnx import helper

    inits = {t.name for t in model.graph.initializer}
    out = []
    for v in model.graph.input:
        if v.name in inits:
            continue
        dims = [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
        if None in dims:
            raise ValueError(f"input {v.name!r} has dynamic dims {dims}; benchmark a file with static input shapes")
        out.append((v.name, helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type), dims))
    return out


def ensure_inputs(path, workdir) -> str:
    """Write inputs_i.npy and reference_i.npy for the file (once per workdir); returns the model name."""
    import onnx
    import onnxruntime as ort

    name = model_name(path)
    d = pathlib.Path(workdir) / name
    if (d / "inputs_0.npy").exists() and (d / "reference_0.npy").exists():
        return name
    rng = np.random.default_rng(0)
    specs = _static_inputs(onnx.load(str(path), load_external_data=False))
    inputs = [rng.standard_normal(shape).astype(dtype) if np.issubdtype(dtype, np.floating)
              else rng.integers(0, 2, shape).astype(dtype) for _, dtype, shape in specs]
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    outputs = session.run(None, {n: a for (n, _, _), a in zip(specs, inputs)})
    d.mkdir(parents=True, exist_ok=True)
    for prefix, arrays in (("inputs", inputs), ("reference", outputs)):
        for i, a in enumerate(arrays):
            np.save(d / f"{prefix}_{i}.npy", a)
    return name


def export(path, runtime: str, out_path) -> None:
    """Write the runtime's artifact for the ONNX file."""
    if runtime == "ort":
        shutil.copyfile(path, out_path)
    elif runtime == "pockettorch":
        from pockettorch.exporter.onnx_frontend import export_onnx

        export_onnx(path, name=model_name(path)).save(out_path)
    else:
        raise ValueError(f"{runtime} cannot run an ONNX file (it needs the PyTorch module); use "
                         f"--runtimes {' '.join(RUNTIMES)}")


def count_flops(path) -> int:
    """2 per multiply-add of the graph's Conv, ConvTranspose, MatMul, Gemm, LSTM and GRU at its static shapes."""
    import onnx

    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output)}
    shapes.update({t.name: list(t.dims) for t in model.graph.initializer})
    total = 0
    for node in model.graph.node:
        ins = [shapes.get(n, []) for n in node.input]
        out = shapes.get(node.output[0], [])
        if node.op_type == "Conv" and out and len(ins[1]) > 1:
            total += 2 * int(np.prod(out)) * int(np.prod(ins[1][1:]))
        elif node.op_type == "ConvTranspose" and ins[0] and len(ins[1]) > 1:
            total += 2 * int(np.prod(ins[0])) * int(np.prod(ins[1][1:]))
        elif node.op_type in ("MatMul", "Gemm") and out and ins[0]:
            k = ins[0][0] if node.op_type == "Gemm" and any(a.name == "transA" and a.i for a in node.attribute) \
                else ins[0][-1]
            total += 2 * int(np.prod(out)) * k
        elif node.op_type in ("LSTM", "GRU") and ins[0] and len(ins[1]) == 3:
            dirs, gates_h, inp = ins[1]
            hidden = ins[2][2]
            total += 2 * ins[0][0] * ins[0][1] * dirs * gates_h * (inp + hidden)
    return total
