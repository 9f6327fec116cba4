"""The `pockettorch` command: assembles the commands each component contributes."""
from __future__ import annotations

import sys

import click

from pockettorch import __version__
from pockettorch.errors import PocketTorchError


def _component_commands():
    from pockettorch.device.cli import COMMANDS as device_commands
    from pockettorch.exporter.cli import COMMANDS as exporter_commands
    from pockettorch.runtime.cli import COMMANDS as runtime_commands
    from pockettorch.sdk_templates.cli import COMMANDS as sdk_commands

    return [*exporter_commands, *runtime_commands, *sdk_commands, *device_commands]


@click.group(context_settings={"auto_envvar_prefix": "POCKETTORCH", "help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pockettorch")
def cli():
    """PocketTorch: export PyTorch models to .ptm programs, inspect and run them, benchmark them on devices."""


for _command in _component_commands():
    cli.add_command(_command)


def main(argv=None) -> int:
    """Entry point: PocketTorch errors and OS errors become one clear line and a non-zero exit."""
    try:
        cli.main(args=argv, prog_name="pockettorch", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except PocketTorchError as exc:
        click.echo(f"Error: {exc}", err=True)
        return 1
    except OSError as exc:
        click.echo(f"Error: {exc.strerror or exc}{': ' + exc.filename if exc.filename else ''}", err=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
