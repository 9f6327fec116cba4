"""The runtime sources an SDK carries: the core, the kernels its model uses and the compute groups those kernels
need, as the runtime's source manifest (runtime/manifest.py) lists them.

SDKs ship sources, not binaries, so the app's own toolchain (Gradle/NDK, SwiftPM, CMake, make) compiles
exactly this list. The copied `backends/cpu/kernel_table.c` starts with the selective-build defines, so no build
system has to pass -D flags for the kernel set.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass

from pockettorch.runtime import manifest as runtime_manifest, op_table

RUNTIME_DIR = runtime_manifest.RUNTIME_DIR
ALL_KERNELS = runtime_manifest.KERNELS
PLATFORMS = runtime_manifest.PLATFORMS


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


def include_dirs(root: str, public: bool) -> list[str]:
    """The manifest's public or private include dirs for a runtime copied into the folder `root` ("runtime", ".")."""
    dirs = runtime_manifest.PUBLIC_INCLUDE_DIRS if public else runtime_manifest.PRIVATE_INCLUDE_DIRS
    return [posixpath.normpath(posixpath.join(root, d)) for d in dirs]


def _read(rel: str) -> bytes:
    return (RUNTIME_DIR / rel).read_bytes()


def _kernel_table(kernels: tuple[str, ...]) -> bytes:
    defines = "".join(f"#define {d.replace('=', ' ')}\n" for d in runtime_manifest.selective_defines(kernels))
    head = f"/* Selective build for this SDK: only these kernels are compiled in. */\n{defines}"
    return head.encode() + _read("backends/cpu/kernel_table.c")


def _backend_files(backends: tuple[str, ...]) -> dict[str, bytes]:
    """The delegate backends' sources and headers, their generated sources (e.g. Vulkan's SPIR-V, made here by the
    backend's generator, so the app's build needs no shader compiler) and the registry with their defines."""
    import tempfile

    files: dict[str, bytes] = {}
    for b in backends:
        spec = runtime_manifest.BACKENDS[b]
        for rel in (*spec["sources"], *spec.get("headers", ())):
            files[rel] = _read(rel)
        with tempfile.TemporaryDirectory() as tmp:
            for path in runtime_manifest.generate_backend_sources(b, tmp):
                files[f"backends/{b}/{posixpath.basename(path)}"] = open(path, "rb").read()
    defines = "".join(f"#define {runtime_manifest.backend_define(b)} 1\n" for b in backends)
    head = f"/* Delegate backends compiled into this SDK. */\n{defines}".encode()
    files["core/backend_registry.c"] = head + _read("core/backend_registry.c")
    return files


def select(kernels: tuple[str, ...] | list[str], ops: tuple[str, ...] = (), platform: str = "posix",
           backends: tuple[str, ...] = ()) -> RuntimeSources:
    """Sources for a build holding `kernels` (file stems under runtime/kernels/) and the delegate `backends`, for
    one platform layer."""
    unknown = sorted(set(kernels) - set(ALL_KERNELS))
    if unknown:
        raise ValueError(f"unknown kernels {unknown}; known: {list(ALL_KERNELS)}")
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; known: {sorted(PLATFORMS)}")
    kernels = tuple(sorted(set(kernels)))
    files = {rel: _read(rel) for rel in (*runtime_manifest.PUBLIC_HEADERS, *runtime_manifest.HEADERS,
                                         *runtime_manifest.CORE, PLATFORMS[platform])}
    if platform in runtime_manifest.PLATFORM_DEFINES:
        rel = PLATFORMS[platform]
        files[rel] = f"#define {runtime_manifest.PLATFORM_DEFINES[platform]} 1\n".encode() + files[rel]
    files["backends/cpu/kernel_table.c"] = _kernel_table(kernels)
    if backends:
        files.update(_backend_files(tuple(backends)))
    core_bytes = sum(len(v) for v in files.values())

    costs, groups_seen = [], set()
    for kernel in kernels:
        own = [runtime_manifest.kernel_file(kernel)]
        for group in runtime_manifest.KERNEL_GROUPS.get(kernel, ()):
            if group not in groups_seen:
                groups_seen.add(group)
                own += list(runtime_manifest.GROUPS[group])
        for rel in own:
            files[rel] = _read(rel)
        users = tuple(op.name for op in op_table.OPS if op.kernel == kernel and (not ops or op.name in ops))
        costs.append(KernelCost(kernel, users, tuple(own), sum(len(files[r]) for r in own)))
    return RuntimeSources(dict(sorted(files.items())), tuple(costs), core_bytes)


def for_model(info, all_kernels: bool = False, platform: str = "posix", backends: tuple[str, ...] = ()) -> RuntimeSources:
    """The sources for a ModelInfo's kernels, or every kernel (for apps that also load other programs), and the
    delegate `backends` (runtime/manifest.py BACKENDS)."""
    if all_kernels:
        return select(ALL_KERNELS, platform=platform, backends=backends)
    return select(info.kernels, info.ops, platform, backends)


def check_backends(backends, offered: tuple[str, ...], target: str, note: str = "") -> tuple[str, ...]:
    """The backends an SDK for `target` compiles in; one it does not offer is refused with what it offers (and
    `note`: why)."""
    from pockettorch.runtime import error_catalogue as errors

    for b in backends:
        if b not in runtime_manifest.BACKENDS:
            raise errors.InvalidArgumentError(f"no delegate backend {b!r} in this runtime "
                                              f"(available: {', '.join(runtime_manifest.BACKENDS) or 'none'})")
        if b not in offered:
            raise errors.InvalidArgumentError(f"the {target} SDK does not offer the {b} backend "
                                              f"(it offers: {', '.join(offered) or 'the CPU kernels only'}){note}")
    return tuple(dict.fromkeys(backends))


def manifest(sources: RuntimeSources) -> dict:
    """JSON-ready list of the selected kernels and what each adds to the sources (for the SDK's manifest)."""
    return {
        "core_source_bytes": sources.core_bytes,
        "kernels": [{"kernel": k.kernel, "ops": list(k.ops), "files": list(k.files), "source_bytes": k.source_bytes}
                    for k in sources.kernels],
        "total_source_bytes": sum(len(v) for v in sources.files.values()),
    }
