"""Render the Swift package for one model: which files exist, and from which template each comes.

Layout (SwiftPM conventions):
    Package.swift, README.md, pockettorch-sdk.json
    Sources/<C module>/include/{module.modulemap, pockettorch/*.h}, core/, backends/, compute/, kernels/   (selected runtime sources)
    Sources/<Module>/*.swift, Resources/model.ptm                                     (typed API + the model)
    Tests/<Module>Tests/<Module>Tests.swift, Reference/*.bin                         (XCTest on the reference run)
"""
from __future__ import annotations

import json
import os

from pockettorch import __version__
from pockettorch.runtime import error_catalogue as errors
from pockettorch.runtime import manifest as runtime_manifest
from pockettorch.sdk_templates import model_info, render, sources
from pockettorch.sdk_templates.ios import reference, swift_api
# Delegate backends the Swift package offers: none yet. Apple platforms have no Vulkan driver (MoltenVK would be a
# third-party layer over Metal); a Metal backend is a later one. A model's delegates run their CPU fallback here.
OFFERED_BACKENDS: tuple[str, ...] = ()
BACKENDS_NOTE = "; Vulkan is not offered on iOS, where Metal is the GPU API (a Metal backend is a later one)"

TARGET = "ios"
MODEL_RESOURCE = "model.ptm"
# Header search paths of the C target, relative to it (the runtime's root): its private include dirs, since runtime
# files include each other by their path under the root ("core/kernel.h"). Its public include/ is SwiftPM's public
# headers folder, searched anyway. Package.swift and the tests both use this.
C_HEADER_SEARCH_PATHS = tuple(sources.include_dirs(".", public=False))
# Float outputs may differ across CPUs (NEON vs AVX summation order): |got - want| <= atol + rtol * max|want|.
FLOAT_TOLERANCE = {"atol": 1e-5, "rtol": 1e-4}
SWIFT_SOURCES = ("PocketTorchError.swift", "Tensor.swift", "Model.swift", "TypedModel.swift",
                 "Classification.swift", "ImageInput.swift")


def _swift_files(env, ctx: dict, api: swift_api.SwiftApi) -> dict[str, str]:
    out = {}
    for template in SWIFT_SOURCES:
        if template == "ImageInput.swift" and api.image_input is None:
            continue
        name = f"{api.class_name}.swift" if template == "TypedModel.swift" else template
        out[f"Sources/{api.module}/{name}"] = env.get_template(f"Sources/{template}.j2").render(ctx)
    return out


def files_for(info: model_info.ModelInfo, module_name: str | None = None, all_kernels: bool = False,
              class_name: str | None = None) -> dict[str, str | bytes]:
    """Every file of the package (relative path -> content); deterministic for the same model and options.

    With `all_kernels` the C target carries every kernel, so the untyped `Model` runs any .ptm (benchmark apps).
    """
    api = swift_api.build(info, module_name, class_name)
    runtime = sources.for_model(info, all_kernels)
    ref_inputs, ref_outputs = reference.compute(info)
    env = render.environment(TARGET)
    env.filters["declared"] = swift_api.declared
    env.filters["error_case"] = swift_api.error_case
    ctx = {
        "api": api, "info": info, "version": __version__, "model_file": os.path.basename(info.path),
        "model_resource": MODEL_RESOURCE, "kernels": runtime.kernels, "all_kernels": all_kernels,
        "catalogue": [e for e in errors.CATALOGUE if e.code], "dtypes": list(swift_api.DTYPES.items()),
        "header_search_paths": C_HEADER_SEARCH_PATHS, "tolerance": FLOAT_TOLERANCE,
        "c_standard": runtime_manifest.C_STANDARD,
    }
    c_root = f"Sources/{api.c_module}"
    files: dict[str, str | bytes] = {f"{c_root}/{rel}": data for rel, data in runtime.files.items()}
    files[f"{c_root}/include/module.modulemap"] = env.get_template("module.modulemap.j2").render(ctx)
    files.update(_swift_files(env, ctx, api))
    files[f"Sources/{api.module}/Resources/{MODEL_RESOURCE}"] = info.data
    tests = f"Tests/{api.module}Tests"
    files[f"{tests}/{api.module}Tests.swift"] = env.get_template("Tests/Tests.swift.j2").render(ctx)
    for kind, arrays in (("input", ref_inputs), ("output", ref_outputs)):
        for i, array in enumerate(arrays):
            files[f"{tests}/Reference/{kind}_{i}.bin"] = reference.raw(array)
    files["Package.swift"] = env.get_template("Package.swift.j2").render(ctx)
    files["README.md"] = env.get_template("README.md.j2").render(ctx)
    manifest = {"generator": f"pockettorch {__version__} sdk ios", "model": info.name, "model_sha256": info.sha256,
                "module": api.module, "class": api.class_name, "runtime": sources.manifest(runtime)}
    files["pockettorch-sdk.json"] = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    return files


def write(info: model_info.ModelInfo, out: str | os.PathLike, module_name: str | None = None,
          all_kernels: bool = False, class_name: str | None = None, force: bool = False) -> list[str]:
    """Write the package for a read model under `out`; returns the relative paths written."""
    return render.write_tree(out, files_for(info, module_name, all_kernels, class_name), TARGET, force)


def generate(model: str | os.PathLike, out: str | os.PathLike, module_name: str | None = None,
             all_kernels: bool = False, class_name: str | None = None, force: bool = False,
             with_reference: bool = False) -> list[str]:
    """Read `model` (a .ptm path) and write its package under `out`."""
    return write(model_info.read_model(model, with_reference), out, module_name, all_kernels, class_name, force)
