"""What an SDK generator needs to know about a .ptm: its tensors, output structure, user metadata and kernels.

The file is loaded with the C runtime first, so a corrupt file fails here with the runtime's own error
instead of producing an SDK that fails on the phone.
"""
from __future__ import annotations

import hashlib
import math
import os
import pathlib
from dataclasses import dataclass

from pockettorch.runtime import error_catalogue as errors
from pockettorch.runtime import op_table
from pockettorch.runtime.module import load
from pockettorch.runtime.ptm_info import Reference, read_reference, without_reference

KERNEL_OF_OP = {op.name: op.kernel for op in op_table.OPS}


@dataclass(frozen=True)
class DimRange:
    """A dynamic input dim: its index, its symbol's name (from the file: escape it) and the range (ints)."""
    dim: int
    symbol: str
    min: int
    max: int


@dataclass(frozen=True)
class TensorInfo:
    name: str  # as recorded at export (any string)
    dtype: str  # torch name: float32, int64, int32, bool, uint8, int8, float16
    shape: tuple[int, ...]  # a dynamic dim at its max (buffers are sized for it)
    ranges: tuple[DimRange, ...] = ()  # dynamic dims

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class ImageSpec:
    """An image input declared in metadata: {"image": {"layout", "size", "mean", "std", "channels"}}."""
    input_index: int
    layout: str  # "NCHW" or "NHWC"
    height: int
    width: int
    channels: str  # "RGB", "BGR" or "GRAY"
    mean: tuple[float, ...]
    std: tuple[float, ...]


@dataclass(frozen=True)
class ModelInfo:
    path: pathlib.Path
    data: bytes  # the program the SDK embeds: without its REFERENCE section unless asked for
    name: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    output_structure: dict
    labels: tuple[str, ...] | None
    image: ImageSpec | None
    arena_bytes: int
    ops: tuple[str, ...]  # distinct op names, sorted
    kernels: tuple[str, ...]  # distinct kernel file stems under runtime/kernels/, sorted
    metadata: dict
    reference: Reference | None = None  # the example inputs and eager outputs stored at export, if any

    @property
    def dynamic(self) -> bool:
        """Some input dims take any size in a range (FORMAT.md, SHAPES)."""
        return any(t.ranges for t in self.inputs)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _image_spec(raw, inputs: tuple[TensorInfo, ...], where: str) -> ImageSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise errors.BadMetadataError(f"{where}: metadata 'image' must be an object, got {type(raw).__name__}")
    layout = raw.get("layout", "NCHW")
    if layout not in ("NCHW", "NHWC"):
        raise errors.BadMetadataError(f"{where}: metadata image layout must be NCHW or NHWC, got {layout!r}")
    index = raw.get("input", 0)
    if not isinstance(index, int) or not 0 <= index < len(inputs):
        raise errors.BadMetadataError(f"{where}: metadata image input {index!r} is not an input index")
    spec = inputs[index]
    if spec.dtype != "float32" or len(spec.shape) != 4 or spec.shape[0] != 1:
        raise errors.BadMetadataError(
            f"{where}: image input '{spec.name}' must be float32 with shape [1, C, H, W] or [1, H, W, C], "
            f"got {spec.dtype}{list(spec.shape)}")
    c, h, w = spec.shape[1:] if layout == "NCHW" else (spec.shape[3], spec.shape[1], spec.shape[2])
    channels = raw.get("channels", "RGB" if c == 3 else "GRAY")
    if channels not in ("RGB", "BGR", "GRAY") or (c == 1) != (channels == "GRAY") or c not in (1, 3):
        raise errors.BadMetadataError(
            f"{where}: image channels {channels!r} do not fit {c} channel(s) of input '{spec.name}'")
    if list(raw.get("size", [h, w])) != [h, w]:
        raise errors.BadMetadataError(f"{where}: metadata image size {raw.get('size')} differs from the input's {h}x{w}")

    def floats(key: str, default: float) -> tuple[float, ...]:
        values = raw.get(key, [default] * c)
        if (not isinstance(values, list) or len(values) != c
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                           for v in values)):
            raise errors.BadMetadataError(
                f"{where}: metadata image {key} must be a list of {c} numbers (finite), got {values!r}")
        if key == "std" and any(v <= 0 for v in values):
            raise errors.BadMetadataError(f"{where}: metadata image std must be positive, got {values!r}")
        return tuple(float(v) for v in values)

    return ImageSpec(index, layout, h, w, channels, floats("mean", 0.0), floats("std", 1.0))


def _labels(raw, outputs: tuple[TensorInfo, ...], where: str) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw) or not raw:
        raise errors.BadMetadataError(f"{where}: metadata 'labels' must be a non-empty list of strings")
    if not outputs or outputs[0].numel != len(raw):
        first = outputs[0].numel if outputs else 0
        raise errors.BadMetadataError(
            f"{where}: {len(raw)} labels do not match the first output's {first} scores")
    return tuple(raw)


def read_model(path: str | os.PathLike, with_reference: bool = False) -> ModelInfo:
    """Load and validate a .ptm; raise the catalogue's error (IoError, BadMagicError, ...) naming the file.
    The program to embed keeps the stored reference tensors only `with_reference`."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise errors.IoError(f"no model file at {path}; pass the .ptm written by `pockettorch export`")
    data = path.read_bytes()
    module = load(data)
    reference = read_reference(data)
    if not with_reference:
        data = without_reference(data)
    where = str(path)
    bounds = [tuple(dims) for _, _, dims, _ in module._program.inputs()]  # input_specs show None for dynamic dims
    inputs = tuple(TensorInfo(s.name, s.dtype, bound, tuple(DimRange(d, *r) for d, r in sorted(s.ranges.items())))
                   for s, bound in zip(module.input_specs, bounds))
    outputs = tuple(TensorInfo(s.name, s.dtype, tuple(s.shape)) for s in module.output_specs)
    user = module.metadata.get("user") or {}
    if not isinstance(user, dict):
        raise errors.BadMetadataError(f"{where}: metadata 'user' must be an object")
    ops = sorted({op for op, _ in module.instructions()})
    structure = module.metadata.get("output_structure") or {
        "kind": "tuple", "items": [{"kind": "tensor", "index": i} for i in range(len(outputs))]}
    return ModelInfo(
        path=path, data=data, name=module.name, inputs=inputs, outputs=outputs, output_structure=structure,
        labels=_labels(user.get("labels"), outputs, where), image=_image_spec(user.get("image"), inputs, where),
        arena_bytes=module.arena_bytes, ops=tuple(ops), kernels=tuple(sorted({KERNEL_OF_OP[o] for o in ops})),
        metadata=module.metadata, reference=reference)
