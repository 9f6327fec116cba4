"""The `pockettorch` command: assembles the commands each component contributes."""
from __future__ import annotations

import os
import sys
import traceback

import click

from pockettorch import __version__, errors
from pockettorch.errors import PocketTorchError


def _component_commands():
    from pockettorch.debugger.cli import COMMANDS as debugger_commands
    from pockettorch.device.cli import COMMANDS as device_commands
    from pockettorch.exporter.cli import COMMANDS as exporter_commands
    from pockettorch.runtime.cli import COMMANDS as runtime_commands
    from pockettorch.sdk_templates.cli import COMMANDS as sdk_commands

    return [*exporter_commands, *runtime_commands, *sdk_commands, *device_commands, *debugger_commands]


@click.group(context_settings={"auto_envvar_prefix": "POCKETTORCH", "help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pockettorch")
def cli():
    """PocketTorch: export PyTorch models to .ptm programs, inspect and run them, benchmark them on devices."""


for _command in _component_commands():
    cli.add_command(_command)


def main(argv=None) -> int:
    """Entry point and last line of defence: every error leaves as one line naming its catalogue code, never a
    traceback (`POCKETTORCH_DEBUG=1` adds the traceback of an unexpected one)."""
    try:
        cli.main(args=argv, prog_name="pockettorch", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:  # usage errors: click's own message and exit code 2
        exc.show()
        return exc.exit_code
    except BrokenPipeError:  # e.g. `pockettorch inspect m.ptm | head`: nobody reads the rest
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # noqa: BLE001 - this is where every remaining error is made one clear line
        error = _as_catalogue_error(exc)
        if os.environ.get("POCKETTORCH_DEBUG") == "1":
            traceback.print_exc()
        click.echo(f"Error: {error}", err=True)
        return 1
    return 0


def _as_catalogue_error(exc: Exception) -> PocketTorchError:
    if isinstance(exc, PocketTorchError):
        return exc
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return errors.IoError(f"{exc.strerror or exc}{where}")
    if isinstance(exc, MemoryError):
        return errors.OutOfMemoryError()
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return errors.InternalError(
        f"unexpected {type(exc).__name__}{': ' + first if first else ''}",
        hint="this is a bug in PocketTorch: please report it with the command and the model file "
             "(POCKETTORCH_DEBUG=1 prints the traceback)")


if __name__ == "__main__":
    sys.exit(main())
