"""Builds the runtime's Python binding (pockettorch.runtime._native) from the C sources.

Metadata lives in pyproject.toml; the packages, their data files and the C extension need code (the runtime's
source manifest decides which C files are compiled and shipped).
"""
import os
import runpy

from setuptools import setup, Extension, find_namespace_packages

HERE = os.path.dirname(os.path.abspath(__file__))
# The runtime's source manifest, read by path: the package is not importable before it is installed.
MANIFEST = runpy.run_path(os.path.join(HERE, "runtime", "manifest.py"))


def packages():
    """Map each component folder and every folder below it onto the pockettorch.* import names.

    Folders that hold only data (C sources, templates, schemas) are listed too: setuptools treats them as
    namespace packages, and leaving them out makes it warn that their files would be ignored.
    """
    roots = {"pockettorch": "pockettorch", "pockettorch.exporter": "exporter", "pockettorch.runtime": "runtime",
             "pockettorch.sdk_templates": "sdk_templates", "pockettorch.device": "device",
             "pockettorch.debugger": "debugger"}
    pkgs, dirs = [], {}
    for name, folder in roots.items():
        pkgs.append(name)
        dirs[name] = folder
        for sub in find_namespace_packages(where=folder, exclude=["*__pycache__*"]):
            pkgs.append(f"{name}.{sub}")
            dirs[f"{name}.{sub}"] = os.path.join(folder, sub.replace(".", "/"))
    return pkgs, dirs


def runtime_paths(files):
    return [os.path.normpath(os.path.join("runtime", f)) for f in files]


# Delegate backends whose build tools this machine has (Vulkan: glslangValidator and the Vulkan headers); their
# generated sources (the SPIR-V as C arrays) go under build/generated/.
BACKENDS = MANIFEST["buildable_backends"]()
GENERATED = [os.path.relpath(f, HERE) for b in BACKENDS
             for f in MANIFEST["generate_backend_sources"](b, os.path.join(HERE, "build", "generated"))]

native = Extension(
    "pockettorch.runtime._native",
    sources=[*runtime_paths([*MANIFEST["BINDING"], *MANIFEST["library_sources"](backends=BACKENDS)]),
             *GENERATED],  # every kernel
    define_macros=[tuple(d.split("=")) for d in MANIFEST["selective_defines"]()] +
                  [(MANIFEST["backend_define"](b), "1") for b in BACKENDS],
    include_dirs=runtime_paths([*MANIFEST["PUBLIC_INCLUDE_DIRS"], *MANIFEST["PRIVATE_INCLUDE_DIRS"]]),
    extra_compile_args=list(MANIFEST["COMPILE_FLAGS"]),
    libraries=[*MANIFEST["LINK_LIBS"], *(lib for b in BACKENDS for lib in MANIFEST["BACKENDS"][b]["link_libs"])],
)

pkgs, dirs = packages()
# Data files of the packages. The runtime's C files ship as its manifest lists them (the SDK generators and the tool
# builds compile them), with the files that build them.
package_data = {
    "pockettorch.runtime": [*MANIFEST["all_files"](), *MANIFEST["backend_support_files"](), "sources.cmake", "CMakeLists.txt", "FORMAT.md", "templates/*.j2",
                            "tools/*.md"],
    "pockettorch.device": ["schemas/*.json", "farm/dashboard_templates/*.j2"],
    "pockettorch.sdk_templates": ["templates/**/*"],
}
setup(packages=pkgs, package_dir=dirs, ext_modules=[native], package_data=package_data)
