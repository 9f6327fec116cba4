"""`pockettorch sdk c MODEL.ptm --out DIR [--embed] [--prefix NAME] [--force]`."""
from __future__ import annotations

import click

from pockettorch.runtime import error_catalogue as errors


@click.command("c")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Folder to write the SDK to.")
@click.option("--embed", is_flag=True,
              help="Compile the model in as a const array; no heap, file system or threads (bare metal, RTOS).")
@click.option("--prefix", default=None,
              help="C symbol prefix, lower snake case (default: the model's name, else 'model').")
@click.option("--with-reference", is_flag=True,
              help="Keep the tensors stored by `export --reference` in the embedded model (left out by default).")
@click.option("--force", is_flag=True,
              help="Replace an SDK of another kind (android, ios, c) generated into --out before.")
def command(model: str, out: str, embed: bool, prefix: str | None, with_reference: bool,
            force: bool) -> None:
    """Generate a C SDK: typed header, runtime sources, CMakeLists.txt, Makefile and example.c."""
    from pockettorch.sdk_templates.c_sdk import generate

    if prefix is not None:
        try:
            generate.check_prefix(prefix)
        except errors.InvalidArgumentError as exc:
            raise click.BadParameter(str(exc), param_hint="--prefix") from None
    # catalogue errors: one line from pockettorch.cli
    sdk = generate.generate(model, out, prefix=prefix, embed=embed, with_reference=with_reference,
                             force=force)
    profile = "embedded" if sdk.embed else "host"
    click.echo(f"wrote the {profile} C SDK for {sdk.info.name} to {out} (prefix {sdk.prefix}, "
               f"{len(sdk.runtime.kernels)} kernels, memory {sdk.memory_bytes} bytes)")
