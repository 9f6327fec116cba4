"""`pockettorch sdk android MODEL.ptm --out DIR --package com.acme.vision [--class-name Classifier] [--all-kernels]
[--force]`."""
from __future__ import annotations

import click

from pockettorch.runtime import error_catalogue as errors


@click.command("android")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder of the generated Android library module (new, empty, or generated before).")
@click.option("--package", "package", required=True, help="Kotlin package and Android namespace, e.g. com.acme.vision.")
@click.option("--class-name", default=None, help="Name of the typed model class (default: from the model's name).")
@click.option("--all-kernels", is_flag=True,
              help="Compile every kernel in, so the app can also load other .ptm files (e.g. a benchmark app).")
@click.option("--with-reference", is_flag=True,
              help="Keep the tensors stored by `export --reference` in the embedded model (left out by default).")
@click.option("--force", is_flag=True,
              help="Replace an SDK of another kind (android, ios, c) generated into --out before.")
@click.option("--backend", "backends", multiple=True, metavar="NAME",
              help="Compile delegate backend NAME in (vulkan: links the NDK's libvulkan, API 24+; its shaders are "
                   "compiled to SPIR-V here and embedded); the model's delegates then run on it.")
def command(model: str, out: str, package: str, class_name: str | None, all_kernels: bool,
            with_reference: bool, force: bool, backends: tuple[str, ...]) -> None:
    """Generate an Android library module (Kotlin + JNI) with a typed class for MODEL."""
    from pockettorch.sdk_templates import render
    from pockettorch.sdk_templates.android import generator

    try:
        sdk = generator.generate(model, package, class_name, all_kernels, with_reference, backends)
        render.write_tree(out, sdk.files, generator.TARGET, force)
    except errors.InvalidArgumentError as exc:
        raise click.UsageError(str(exc)) from None
    except errors.PocketTorchError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {out}: {sdk.class_name} ({package}), {len(sdk.kernels)} kernels "
               f"({', '.join(sdk.kernels)}); see {out}/README.md")
