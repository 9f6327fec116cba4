"""The Swift names and types of a model's API: what the templates render, decided once here.

Every identifier that comes from user input (model, tensor and dict-key names) goes through
`names` so it is a valid, unique Swift name; names given on the command line are validated instead.
"""
from __future__ import annotations

from dataclasses import dataclass

from pockettorch.runtime import error_catalogue as errors
from pockettorch.sdk_templates import names
from pockettorch.sdk_templates.model_info import ModelInfo, TensorInfo

# torch dtype (also the case of the generated `DType` enum) -> (Swift element type, format dtype code).
# float16 travels as its IEEE bit patterns (UInt16) because Swift's Float16 is unavailable on Intel Macs.
DTYPES = {
    "float32": ("Float", 1), "int64": ("Int64", 2), "int32": ("Int32", 3), "bool": ("Bool", 4),
    "uint8": ("UInt8", 5), "int8": ("Int8", 6), "float16": ("UInt16", 7),
}
# The generic layer's types, and the Swift/Foundation types the generated code names: a model named like one
# of them (a model called "data" would become `Data`) gets a suffix instead of shadowing it.
RESERVED_TYPES = frozenset("""
Model Tensor TensorInfo TensorElement DType PocketTorchError Classification
Any Array Bool Bundle CChar CGImage CVPixelBuffer Data Error Float Int Int8 Int32 Int64 LocalizedError
MemoryLayout NSLock OpaquePointer Sendable String Task UInt8 UInt16 URL XCTestCase
""".split())
# Members the generated output struct declares itself; outputs may not take these names.
OUTPUT_MEMBERS = ("topK",)


@dataclass(frozen=True)
class SwiftTensor:
    index: int
    name: str  # as recorded at export, shown in doc comments and errors
    swift_name: str  # parameter (inputs) or property (outputs) name
    dtype: str  # torch name, also the case of the generated DType enum
    element: str  # Swift element type of the typed array
    shape: tuple[int, ...]
    numel: int
    ranges: tuple = ()  # dynamic dims (model_info.DimRange); shape and numel at the maxima


@dataclass(frozen=True)
class SwiftApi:
    module: str  # Swift module / package / product name
    c_module: str  # the C target carrying the runtime sources
    class_name: str  # typed class named after the model
    output_name: str  # struct holding one property per output
    inputs: tuple[SwiftTensor, ...]
    outputs: tuple[SwiftTensor, ...]
    image_input: SwiftTensor | None
    topk_output: SwiftTensor | None  # first output, when it holds float32 scores for the metadata's labels


def _tensors(specs: tuple[TensorInfo, ...], reserved: tuple[str, ...], fallback: str) -> tuple[SwiftTensor, ...]:
    raw = [names.camel(s.name, "swift", fallback=f"{fallback}{i}") for i, s in enumerate(specs)]
    unique = names.unique_names([*reserved, *raw])[len(reserved):]
    out = []
    for i, (spec, swift_name) in enumerate(zip(specs, unique)):
        out.append(SwiftTensor(i, spec.name, swift_name, spec.dtype, DTYPES[spec.dtype][0], spec.shape, spec.numel,
                               spec.ranges))
    return tuple(out)


def build(info: ModelInfo, module_name: str | None = None, class_name: str | None = None) -> SwiftApi:
    """Decide every Swift name of the package; a bad --module-name or --class-name raises InvalidArgumentError.

    The class is named like Android's (names.derived_type_name, or --class-name with the same rules); the module
    defaults to PocketTorch<Class>."""
    if class_name is None:
        class_name = names.derived_type_name(info.name, "swift", RESERVED_TYPES)
    else:
        names.check_type_name(class_name, "swift", RESERVED_TYPES, "class")
    if module_name is None:
        module_name = f"PocketTorch{class_name}"
    else:
        names.check_type_name(module_name, "swift", RESERVED_TYPES, "module")
    generated = (class_name, f"{class_name}Output")
    if module_name in generated or f"{module_name}CRuntime" in generated:
        raise errors.InvalidArgumentError(
            f"module name {module_name!r} and class name {class_name!r} collide (a module may not share a name "
            f"with a type it declares); e.g. --module-name {class_name}Kit")
    inputs = _tensors(info.inputs, (), "input")
    outputs = _tensors(info.outputs, OUTPUT_MEMBERS, "output")
    image = inputs[info.image.input_index] if info.image else None
    topk = outputs[0] if info.labels and outputs[0].dtype == "float32" else None
    return SwiftApi(module=module_name, c_module=f"{module_name}CRuntime", class_name=class_name,
                    output_name=f"{class_name}Output", inputs=inputs, outputs=outputs, image_input=image,
                    topk_output=topk)


def error_case(catalogue_name: str) -> str:
    """Case of the generated PocketTorchError for a catalogue name: BAD_MAGIC -> badMagic, INTERNAL -> internal."""
    case = names.camel(catalogue_name, "swift")
    return case[:-1] if case.endswith("_") and case[:-1] in names.SWIFT_KEYWORDS else case


def declared(identifier: str) -> str:
    """The identifier as written in its declaration: keywords in backticks (`internal`)."""
    return f"`{identifier}`" if identifier in names.SWIFT_KEYWORDS else identifier
