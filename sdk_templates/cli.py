"""`pockettorch sdk <target> MODEL.ptm --out DIR`: each target module contributes one subcommand."""
from __future__ import annotations

import click


@click.group("sdk")
def sdk():
    """Generate a typed SDK (Android, iOS, C) that carries the runtime sources for one model."""


from pockettorch.sdk_templates.c_sdk import command as _c_sdk  # noqa: E402  (light: heavy imports wait for the command)

for _command in (_c_sdk.command,):  # each target adds its command here: (android.command, ios.command, c_sdk.command)
    sdk.add_command(_command)

COMMANDS = [sdk]
