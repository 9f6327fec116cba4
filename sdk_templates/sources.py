"""The runtime sources an SDK carries: the core, the kernels its model uses and the helpers those kernels need.

SDKs ship sources, not binaries, so the app's own toolchain (Gradle/NDK, SwiftPM, CMake, make) compiles
exactly this list. The copied `backends/cpu/kernel_table.c` starts with the selective-build defines, so no build
system has to pass -D flags for the kernel set.
"""
from __future__ import annotations

import pathlib
from dataclasses import dataclass

from pockettorch.runtime import op_table

RUNTIME_DIR = pathlib.Path(op_table.__file__).resolve().parent
ALL_KERNELS = tuple(sorted({op.kernel for op in op_table.OPS}))

# Core files every build needs, beside one platform file. Kept explicit so a new core, backend or compute file has to be
# placed here or in a group on purpose (tests/sdk/test_shared_sources.py checks every file is accounted for).
CORE = ("backends/cpu/cpu.c", "backends/cpu/isa_config.c", "backends/cpu/kernel_table.c", "compute/vmath/vmath.c",
        "compute/vmath/vmath_arm.c", "compute/vmath/vmath_x86.c", "core/kernel_util.c", "core/loader.c",
        "core/session.c", "core/status.c", "core/workspace.c")
# posix: heap, mmap, pthreads. embedded: no heap, files or threads (the C SDK's --embed profile); host builds
# compile it to nothing, so its copy gets the define that switches it on.
PLATFORMS = {"posix": "core/platform_posix.c", "embedded": "core/platform_embedded.c"}
PLATFORM_DEFINES = {"embedded": "PKT_PLATFORM_EMBEDDED"}
GROUPS = {
    "gemm": ("compute/gemm/gemm.c", "compute/gemm/gemm_arm.c", "compute/gemm/gemm_x86.c"),
    "conv": ("compute/conv/conv_arm.c", "compute/conv/conv_gemm.c", "compute/conv/conv_ksplit.c",
             "compute/conv/conv_pair.c", "compute/conv/conv_x86.c", "compute/winograd/winograd.c",
             "compute/winograd/winograd_x86.c"),
}
KERNEL_GROUPS = {  # kernel -> helper groups it calls into
    "conv2d": ("gemm", "conv"),
    "conv_dw_pw": ("gemm", "conv"),  # winograd.c in the conv group calls the GEMM
    "conv_pw_dw": ("gemm", "conv"),
    "linear": ("gemm",),
    "lstm": ("gemm",),
    "matmul": ("gemm",),
    "sdpa": ("gemm",),
}


@dataclass(frozen=True)
class KernelCost:
    kernel: str
    ops: tuple[str, ...]  # ops of the model served by this kernel
    files: tuple[str, ...]  # files this kernel brings in (helper groups counted with their first user)
    source_bytes: int


@dataclass(frozen=True)
class RuntimeSources:
    files: dict[str, bytes]  # path relative to the runtime root in the SDK -> content
    kernels: tuple[KernelCost, ...]
    core_bytes: int

    @property
    def c_files(self) -> list[str]:
        return sorted(p for p in self.files if p.endswith(".c"))


def _read(rel: str) -> bytes:
    return (RUNTIME_DIR / rel).read_bytes()


def _kernel_table(kernels: tuple[str, ...]) -> bytes:
    defines = "".join(f"#define PKT_WITH_{k.upper()} 1\n" for k in kernels)
    head = ("/* Selective build for this SDK: only these kernels are compiled in. */\n"
            f"#define PKT_SELECTIVE_BUILD 1\n{defines}")
    return head.encode() + _read("backends/cpu/kernel_table.c")


def select(kernels: tuple[str, ...] | list[str], ops: tuple[str, ...] = (), platform: str = "posix") -> RuntimeSources:
    """Sources for a build holding `kernels` (file stems under runtime/kernels/), for one platform layer."""
    unknown = sorted(set(kernels) - set(ALL_KERNELS))
    if unknown:
        raise ValueError(f"unknown kernels {unknown}; known: {list(ALL_KERNELS)}")
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; known: {sorted(PLATFORMS)}")
    kernels = tuple(sorted(set(kernels)))
    files: dict[str, bytes] = {}
    for header in sorted((RUNTIME_DIR / "include" / "pockettorch").glob("*.h")):
        files[f"include/pockettorch/{header.name}"] = header.read_bytes()
    for pattern in ("core/*.h", "backends/*/*.h", "compute/*/*.h", "kernels/*.h"):
        for header in sorted(RUNTIME_DIR.glob(pattern)):
            files[header.relative_to(RUNTIME_DIR).as_posix()] = header.read_bytes()
    for rel in CORE + (PLATFORMS[platform],):
        files[rel] = _read(rel)
    if platform in PLATFORM_DEFINES:
        rel = PLATFORMS[platform]
        files[rel] = f"#define {PLATFORM_DEFINES[platform]} 1\n".encode() + files[rel]
    files["backends/cpu/kernel_table.c"] = _kernel_table(kernels)
    core_bytes = sum(len(v) for v in files.values())

    costs, groups_seen = [], set()
    for kernel in kernels:
        own = [f"kernels/{kernel}.c"]
        for group in KERNEL_GROUPS.get(kernel, ()):
            if group not in groups_seen:
                groups_seen.add(group)
                own += list(GROUPS[group])
        for rel in own:
            files[rel] = _read(rel)
        users = tuple(op.name for op in op_table.OPS if op.kernel == kernel and (not ops or op.name in ops))
        costs.append(KernelCost(kernel, users, tuple(own), sum(len(files[r]) for r in own)))
    return RuntimeSources(dict(sorted(files.items())), tuple(costs), core_bytes)


def for_model(info, all_kernels: bool = False, platform: str = "posix") -> RuntimeSources:
    """The sources for a ModelInfo's kernels, or every kernel (for apps that also load other programs)."""
    if all_kernels:
        return select(ALL_KERNELS, platform=platform)
    return select(info.kernels, info.ops, platform)


def manifest(sources: RuntimeSources) -> dict:
    """JSON-ready list of the selected kernels and what each adds to the sources (for the SDK's manifest)."""
    return {
        "core_source_bytes": sources.core_bytes,
        "kernels": [{"kernel": k.kernel, "ops": list(k.ops), "files": list(k.files), "source_bytes": k.source_bytes}
                    for k in sources.kernels],
        "total_source_bytes": sum(len(v) for v in sources.files.values()),
    }
