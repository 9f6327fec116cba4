"""The runtime's source manifest: every C file, how files group, the include dirs and the compile flags.

The one list every build reads: setup.py (by file path, before the package is installed, so this module
imports nothing outside the standard library), runtime/CMakeLists.txt (through runtime/sources.cmake, which
`python -m pockettorch.runtime.codegen` writes from this module), runtime/build.py and cross.py, the Makefile
(`python3 runtime/manifest.py` prints the binding's inputs) and the SDK generators (sdk_templates/sources.py).
Paths are relative to the runtime root (this folder). A new C file goes here, in the right place, on purpose;
tests/sdk/test_shared_sources.py fails when a file on disk is missing.

A build = CORE + one platform file + the selected kernels + the compute groups those kernels need
(KERNEL_GROUPS), compiled with COMPILE_FLAGS, the include dirs and `selective_defines(kernels)`.
"""
from __future__ import annotations

import os
import pathlib
import runpy
import sys

RUNTIME_DIR = pathlib.Path(__file__).resolve().parent

C_STANDARD = "11"
# The kernels' portable paths rely on -O3 auto-vectorization; -fno-math-errno lets sqrtf & co. inline.
OPT_FLAGS = ("-O3", "-fno-math-errno")
WARNING_FLAGS = ("-Wall", "-Wno-unused-function")
COMPILE_FLAGS = (f"-std=c{C_STANDARD}", *OPT_FLAGS, *WARNING_FLAGS)
LINK_LIBS = ("m", "pthread")
# Test builds on the host: AddressSanitizer + UBSan, stopping at the first report.
SANITIZE_LINK_FLAGS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all")
SANITIZE_FLAGS = ("-g", *SANITIZE_LINK_FLAGS, "-fno-omit-frame-pointer")
# Test builds of the tools only (build.py / cross.py `fault_injection=True`): PKT_FAULT_INJECT=<instruction | op>
# perturbs that instruction's outputs (core/fault_inject.h), for the numerical debugger's tests.
FAULT_INJECTION_DEFINE = "PKT_FAULT_INJECTION"
# include/ holds the public API (pockettorch/pockettorch.h); runtime files include each other by their path
# under the runtime root ("compute/gemm/gemm.h"), so the root itself is the private include dir.
PUBLIC_INCLUDE_DIRS = ("include",)
PRIVATE_INCLUDE_DIRS = (".",)

PUBLIC_HEADERS = ("include/pockettorch/pockettorch.h", "include/pockettorch/status.h")
HEADERS = ("backends/cpu/cpu.h", "backends/cpu/isa_config.h", "compute/conv/conv_impl.h", "compute/conv/conv_ksplit.h",
           "compute/conv/conv_pair.h", "compute/conv/conv_rows_impl.h", "compute/conv/conv_simd_impl.h",
           "compute/conv/conv_ukernel_impl.h", "compute/gemm/gemm.h", "compute/gemm/gemm_ukernel_impl.h",
           "compute/qgemm/qgemm.h", "compute/qgemm/qgemm_internal.h", "compute/qgemm/qgemm_conv.h",
           "compute/vmath/vec_math_impl.h", "compute/vmath/vmath.h", "compute/winograd/winograd.h",
           "compute/winograd/winograd_impl.h", "compute/winograd/winograd_internal.h", "core/fault_inject.h",
           "core/backend.h", "core/kernel.h", "core/ops_generated.h", "core/program.h", "kernels/cumulative.h",
           "kernels/elementwise_util.h", "kernels/pkt_half.h", "kernels/pkt_index.h", "kernels/pkt_strided.h",
           "kernels/quant_util.h", "kernels/recurrent.h", "kernels/qrecurrent.h")
HEADERS += ("compute/qdw/qdw.h", "compute/qdw/qdw_impl.h")  # int8 depthwise (issue 18)
HEADERS += ("compute/qelem/qelem.h", "compute/qelem/qelem_pool_impl.h")  # int8 elementwise and max pooling (issue 18)
HEADERS += ("compute/wogemm/wogemm.h", "compute/wogemm/wogemm_impl.h", "kernels/wo_weight.h")  # weight-only (issue 18)

# What every build compiles beside one platform file: loader, session, status, workspace, ISA detection, the
# session's ISA config with the vector math every kernel's activations use, and the kernel table.
CORE = ("backends/cpu/cpu.c", "backends/cpu/isa_config.c", "backends/cpu/kernel_table.c", "compute/vmath/vmath.c",
        "compute/vmath/vmath_arm.c", "compute/vmath/vmath_x86.c", "core/kernel_util.c", "core/loader.c",
        "core/session.c", "core/status.c", "core/workspace.c", "core/dynamic_shapes.c", "core/shape_rules.c",
        "core/backend_registry.c")
# posix: heap, mmap, pthreads. embedded: no heap, files or threads (the C SDK's --embed profile); it compiles
# to nothing unless its define is set (the SDK writes it at the top of its copy).
PLATFORMS = {"posix": "core/platform_posix.c", "embedded": "core/platform_embedded.c"}
PLATFORM_DEFINES = {"embedded": "PKT_PLATFORM_EMBEDDED"}
# Compute code shared by several kernels, compiled only when a selected kernel needs it.
GROUPS = {
    "gemm": ("compute/gemm/gemm.c", "compute/gemm/gemm_arm.c", "compute/gemm/gemm_x86.c"),
    "conv": ("compute/conv/conv_arm.c", "compute/conv/conv_gemm.c", "compute/conv/conv_ksplit.c",
             "compute/conv/conv_pair.c", "compute/conv/conv_x86.c", "compute/winograd/winograd.c",
             "compute/winograd/winograd_x86.c"),
    "qgemm": ("compute/qgemm/qgemm.c", "compute/qgemm/qgemm_arm.c", "compute/qgemm/qgemm_x86.c",
              "compute/qgemm/qgemm_conv_x86.c"),  # int8 GEMM (the quantized conv/linear kernels list it in KERNEL_GROUPS)
}
GROUPS["qdw"] = ("compute/qdw/qdw.c", "compute/qdw/qdw_arm.c", "compute/qdw/qdw_x86.c",
                 "compute/qdw/qdw_avx512vnni.c")  # int8 depthwise rows
GROUPS["qelem"] = ("compute/qelem/qelem.c", "compute/qelem/qelem_arm.c", "compute/qelem/qelem_x86.c")  # int8 rows
GROUPS["wogemm"] = ("compute/wogemm/wogemm.c", "compute/wogemm/wogemm_arm.c", "compute/wogemm/wogemm_x86.c",
                    "compute/wogemm/wogemm_w4_avx512.c")
KERNEL_GROUPS = {  # kernel -> compute groups it calls into
    "conv2d": ("gemm", "conv"),
    "conv_dw_pw": ("gemm", "conv"),  # winograd.c in the conv group calls the GEMM
    "conv_pw_dw": ("gemm", "conv"),
    "linear": ("gemm",),
    "gru": ("gemm",),
    "lstm": ("gemm",),
    "matmul": ("gemm",),
    "sdpa": ("gemm",),
    "qconv2d": ("qgemm", "qdw"),
    "qlinear": ("qgemm",),
    "qlinear_dynamic": ("qgemm",),
    "qlstm_dynamic": ("qgemm",),
    "qgru_dynamic": ("qgemm",),
    "qmatmul": ("qgemm",),
}
KERNEL_GROUPS["linear_wo"] = ("wogemm",)
KERNEL_GROUPS.update(qbinary=("qelem",), quantize=("qelem",), dequantize=("qelem",), qconcat=("qelem",),
                     qmax_pool2d=("qelem",))

# Delegate backends (core/backend.h, docs/WRITING_A_BACKEND.md), compiled in only when a build names them:
# name -> {"sources": C files under backends/<name>/, "headers": its headers, "link_libs": libraries it links}.
# A build with backend B compiles its sources with the define backend_define(B) (PKT_WITH_BACKEND_VULKAN), which
# lists `pkt_backend_<name>` in core/backend_registry.c; nothing else in the runtime names a backend.
BACKENDS: dict[str, dict[str, tuple[str, ...]]] = {}
# Vulkan compute (backends/vulkan/): the loader is dlopen'ed (libdl), the SPIR-V is generated at build time by its
# `generator` (a script run as `python3 <generator> OUT.c`, whose available() says whether this machine has the
# shader compiler and the Vulkan headers; without them a build leaves the backend out).
BACKENDS["vulkan"] = {
    "sources": ("backends/vulkan/vk_blob.c", "backends/vulkan/vk_context.c", "backends/vulkan/vk_loader.c",
                "backends/vulkan/vulkan_backend.c"),
    "headers": ("backends/vulkan/vk_blob.h", "backends/vulkan/vk_context.h", "backends/vulkan/vk_loader.h",
                "backends/vulkan/vk_shaders.h"),
    "link_libs": ("dl",),
    "generator": ("backends/vulkan/shaders.py",),
    "generated": ("vk_shaders.c",),
    "data": ("backends/vulkan/shaders/binary.comp", "backends/vulkan/shaders/common.glsl",
             "backends/vulkan/shaders/conv_direct.comp", "backends/vulkan/shaders/copy.comp",
             "backends/vulkan/shaders/gemm.comp", "backends/vulkan/shaders/layer_norm.comp",
             "backends/vulkan/shaders/pool.comp", "backends/vulkan/shaders/reduce.comp",
             "backends/vulkan/shaders/softmax.comp"),
}


def backend_define(name: str) -> str:
    return f"PKT_WITH_BACKEND_{name.upper()}"


BINDING = ("python/native.c",)  # the Python extension's own file (setup.py)
TOOLS = ("pkt_runner", "pkt_fuzz", "pkt_alloc_fail")  # tools/<name>.c, each a program
TOOLS_SUPPORT = ("tools/json.c", "tools/npy.c", "tools/stats.c")  # linked into every tool
TOOLS_HEADERS = ("tools/json.h", "tools/npy.h", "tools/stats.h")
TOOLS_INCLUDE_DIRS = ("tools",)
SIZE_APP = "tools/size_app.c"  # the minimal app `pockettorch size` links a build into (runtime/size.py)

# One kernel a file, kernels/<name>.c, named by the op table (loaded by path: see the module docstring).
KERNELS = tuple(sorted({op.kernel for op in runpy.run_path(str(RUNTIME_DIR / "op_table.py"))["OPS"]}))


def kernel_file(kernel: str) -> str:
    return f"kernels/{kernel}.c"


def groups_for(kernels) -> list[str]:
    """The compute groups a set of kernels needs, in GROUPS order."""
    wanted = {g for k in kernels for g in KERNEL_GROUPS.get(k, ())}
    return [g for g in GROUPS if g in wanted]


def library_sources(kernels=None, platform: str = "posix", backends=()) -> list[str]:
    """The .c files of a runtime build holding `kernels` (every kernel when None) and the delegate `backends`."""
    kernels = KERNELS if kernels is None else sorted(set(kernels))
    groups = [f for g in groups_for(kernels) for f in GROUPS[g]]
    delegates = [f for b in backends for f in BACKENDS[b]["sources"]]
    return [*CORE, PLATFORMS[platform], *groups, *map(kernel_file, kernels), *delegates]


def selective_defines(kernels=None) -> list[str]:
    """NAME=VALUE defines that compile exactly `kernels` into the kernel table (every kernel when None)."""
    kernels = KERNELS if kernels is None else sorted(set(kernels))
    return ["PKT_SELECTIVE_BUILD=1", *(f"PKT_WITH_{k.upper()}=1" for k in kernels)]


def all_files() -> list[str]:
    """Every C source and header the manifest places (build inputs, for hashing and dependency lists)."""
    c_files = [*CORE, *PLATFORMS.values(), *(f for g in GROUPS.values() for f in g), *map(kernel_file, KERNELS),
               *(f for b in BACKENDS.values() for f in (*b["sources"], *b.get("headers", ())))]
    tools = [*BINDING, *(f"tools/{t}.c" for t in TOOLS), *TOOLS_SUPPORT, *TOOLS_HEADERS, SIZE_APP]
    return sorted({*PUBLIC_HEADERS, *HEADERS, *c_files, *tools})


def backend_support_files() -> list[str]:
    """The backends' generators and the files they read (shaders): build inputs that are not C."""
    return sorted({f for b in BACKENDS.values() for k in ("generator", "data") for f in b.get(k, ())})


def binding_files() -> list[str]:
    """What the Python binding is compiled from: its file, the full library and every runtime header."""
    backend_headers = [f for b in BACKENDS.values() for f in b.get("headers", ())]
    return sorted({*BINDING, *library_sources(backends=tuple(BACKENDS)), *PUBLIC_HEADERS, *HEADERS, *backend_headers,
                   *backend_support_files()})


def buildable_backends() -> list[str]:
    """The BACKENDS this machine can compile in (their generator's available()); PKT_BACKENDS="a,b" (or "") narrows
    the choice, e.g. to check a build without Vulkan."""
    wanted = os.environ.get("PKT_BACKENDS")
    names = [b for b in BACKENDS if wanted is None or b in wanted.split(",")]
    return [b for b in names if all(runpy.run_path(str(RUNTIME_DIR / g))["available"]() for g in
                                    BACKENDS[b].get("generator", ()))]


def generate_backend_sources(name: str, out_dir) -> list[str]:
    """Run backend `name`'s generators into out_dir; the absolute paths of the C files they wrote."""
    out = []
    for gen, target in zip(BACKENDS[name].get("generator", ()), BACKENDS[name].get("generated", ())):
        path = pathlib.Path(out_dir) / name / target
        runpy.run_path(str(RUNTIME_DIR / gen))["generate"](path)
        out.append(str(path))
    return out


if __name__ == "__main__":  # the Makefile's dependency list
    sys.stdout.write("".join(f"runtime/{f}\n" for f in binding_files()))

