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
           "compute/vmath/vec_math_impl.h", "compute/vmath/vmath.h", "compute/winograd/winograd.h",
           "compute/winograd/winograd_impl.h", "compute/winograd/winograd_internal.h", "core/fault_inject.h",
           "core/kernel.h", "core/ops_generated.h", "core/program.h", "kernels/elementwise_util.h", "kernels/pkt_half.h",
           "kernels/pkt_index.h", "kernels/pkt_strided.h", "kernels/recurrent.h")
HEADERS += ("compute/wogemm/wogemm.h", "compute/wogemm/wogemm_impl.h", "kernels/wo_weight.h")  # weight-only (issue 18)

# What every build compiles beside one platform file: loader, session, status, workspace, ISA detection, the
# session's ISA config with the vector math every kernel's activations use, and the kernel table.
CORE = ("backends/cpu/cpu.c", "backends/cpu/isa_config.c", "backends/cpu/kernel_table.c", "compute/vmath/vmath.c",
        "compute/vmath/vmath_arm.c", "compute/vmath/vmath_x86.c", "core/kernel_util.c", "core/loader.c",
        "core/session.c", "core/status.c", "core/workspace.c", "core/dynamic_shapes.c", "core/shape_rules.c")
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
}
GROUPS["wogemm"] = ("compute/wogemm/wogemm.c", "compute/wogemm/wogemm_arm.c", "compute/wogemm/wogemm_x86.c")
KERNEL_GROUPS = {  # kernel -> compute groups it calls into
    "conv2d": ("gemm", "conv"),
    "conv_dw_pw": ("gemm", "conv"),  # winograd.c in the conv group calls the GEMM
    "conv_pw_dw": ("gemm", "conv"),
    "linear": ("gemm",),
    "gru": ("gemm",),
    "lstm": ("gemm",),
    "matmul": ("gemm",),
    "sdpa": ("gemm",),
}
KERNEL_GROUPS["linear_wo"] = ("wogemm",)

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


def library_sources(kernels=None, platform: str = "posix") -> list[str]:
    """The .c files of a runtime build holding `kernels` (every kernel when None)."""
    kernels = KERNELS if kernels is None else sorted(set(kernels))
    groups = [f for g in groups_for(kernels) for f in GROUPS[g]]
    return [*CORE, PLATFORMS[platform], *groups, *map(kernel_file, kernels)]


def selective_defines(kernels=None) -> list[str]:
    """NAME=VALUE defines that compile exactly `kernels` into the kernel table (every kernel when None)."""
    kernels = KERNELS if kernels is None else sorted(set(kernels))
    return ["PKT_SELECTIVE_BUILD=1", *(f"PKT_WITH_{k.upper()}=1" for k in kernels)]


def all_files() -> list[str]:
    """Every C source and header the manifest places (build inputs, for hashing and dependency lists)."""
    c_files = [*CORE, *PLATFORMS.values(), *(f for g in GROUPS.values() for f in g), *map(kernel_file, KERNELS)]
    tools = [*BINDING, *(f"tools/{t}.c" for t in TOOLS), *TOOLS_SUPPORT, *TOOLS_HEADERS, SIZE_APP]
    return sorted({*PUBLIC_HEADERS, *HEADERS, *c_files, *tools})


def binding_files() -> list[str]:
    """What the Python binding is compiled from: its file, the full library and every runtime header."""
    return sorted({*BINDING, *library_sources(), *PUBLIC_HEADERS, *HEADERS})


if __name__ == "__main__":  # the Makefile's dependency list
    sys.stdout.write("".join(f"runtime/{f}\n" for f in binding_files()))
