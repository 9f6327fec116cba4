"""Builds the runtime's Python binding (pockettorch.runtime._native) from the C sources.

Packages and metadata live in pyproject.toml; only the C extension needs code.
"""
import glob
import os

from setuptools import setup, Extension, find_namespace_packages

HERE = os.path.dirname(os.path.abspath(__file__))


def rel(pattern):
    return sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, pattern)))


def packages():
    """Map each component folder and every folder below it onto the pockettorch.* import names.

    Folders that hold only data (C sources, templates, schemas) are listed too: setuptools treats them as
    namespace packages, and leaving them out makes it warn that their files would be ignored.
    """
    roots = {"pockettorch": "pockettorch", "pockettorch.exporter": "exporter", "pockettorch.runtime": "runtime",
             "pockettorch.sdk_templates": "sdk_templates", "pockettorch.device": "device"}
    pkgs, dirs = [], {}
    for name, folder in roots.items():
        pkgs.append(name)
        dirs[name] = folder
        for sub in find_namespace_packages(where=folder, exclude=["*__pycache__*"]):
            pkgs.append(f"{name}.{sub}")
            dirs[f"{name}.{sub}"] = os.path.join(folder, sub.replace(".", "/"))
    return pkgs, dirs


def kernel_defines():
    """Build the kernels present under runtime/kernels/ (the generated table leaves others out)."""
    names = [os.path.splitext(os.path.basename(p))[0] for p in rel("runtime/kernels/*.c")]
    return [("PKT_SELECTIVE_BUILD", "1")] + [(f"PKT_WITH_{n.upper()}", "1") for n in names]


native = Extension(
    "pockettorch.runtime._native",
    sources=(rel("runtime/python/*.c") + rel("runtime/core/*.c") + rel("runtime/backends/*/*.c")
             + rel("runtime/compute/*/*.c") + rel("runtime/kernels/*.c")),
    define_macros=kernel_defines(),
    include_dirs=["runtime/include", "runtime"],
    extra_compile_args=["-std=c11", "-O3", "-fno-math-errno", "-Wall", "-Wno-unused-function"],
    extra_link_args=["-lm", "-lpthread"],
)

pkgs, dirs = packages()
setup(packages=pkgs, package_dir=dirs, ext_modules=[native])
