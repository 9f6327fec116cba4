"""`pockettorch sdk ios MODEL.ptm --out DIR [--module-name NAME] [--class-name NAME] [--all-kernels] [--force]`."""
from __future__ import annotations

import click


@click.command("ios")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="Folder for the Swift package (new, empty, or generated before).")
@click.option("--module-name", default=None,
              help="Swift module, package and product name (default: PocketTorch<ClassName>).")
@click.option("--class-name", default=None, help="Name of the typed model class (default: from the model's name).")
@click.option("--all-kernels", is_flag=True,
              help="Carry every runtime kernel, not only the model's, so the package's Model runs any .ptm "
                   "(for benchmark apps).")
@click.option("--with-reference", is_flag=True,
              help="Keep the tensors stored by `export --reference` in the embedded model (left out by default).")
@click.option("--force", is_flag=True,
              help="Replace an SDK of another kind (android, ios, c) generated into --out before.")
@click.option("--backend", "backends", multiple=True, metavar="NAME",
              help="A delegate backend to compile in: none is offered on iOS yet (no Vulkan there; Metal is a later "
                   "backend), so a model's delegates run their CPU fallback.")
def command(model, out, module_name, class_name, all_kernels, with_reference, force, backends):
    """Generate a Swift package (iOS 15+, macOS 12+) that runs MODEL through a typed Swift API."""
    from pockettorch.runtime import error_catalogue as errors
    from pockettorch.sdk_templates import model_info, sources
    from pockettorch.sdk_templates.ios import generator, swift_api

    try:
        sources.check_backends(backends, generator.OFFERED_BACKENDS, "iOS", generator.BACKENDS_NOTE)
    except errors.InvalidArgumentError as exc:
        raise click.UsageError(exc.detail) from None

    info = model_info.read_model(model, with_reference)
    try:
        api = swift_api.build(info, module_name, class_name)
    except errors.InvalidArgumentError as exc:
        raise click.UsageError(exc.detail) from None
    written = generator.write(info, out, api.module, all_kernels, class_name, force)
    click.echo(f"Swift package {api.module} ({api.class_name}) for {info.name}: {len(written)} files in {out}")
