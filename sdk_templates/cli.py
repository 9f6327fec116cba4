"""`pockettorch sdk <target> MODEL.ptm --out DIR`: each target module contributes one subcommand."""
from __future__ import annotations

import click

from pockettorch.sdk_templates.android.command import command as android_command
from pockettorch.sdk_templates.c_sdk import command as c_sdk
from pockettorch.sdk_templates.ios import command as ios


@click.group("sdk")
def sdk():
    """Generate a typed SDK (Android, iOS, C) that carries the runtime sources for one model."""


for _command in (android_command, ios.command, c_sdk.command):  # each target adds its command here
    sdk.add_command(_command)

COMMANDS = [sdk]
