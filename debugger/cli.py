"""`pockettorch debug MODEL`: where the C runtime's numbers leave eager PyTorch's, instruction by instruction."""
from __future__ import annotations

import json
import pathlib

import click

from pockettorch.runtime import error_catalogue as errors

ISAS = ("portable", "neon", "avx2", "avx512")


@click.command("debug")
@click.argument("model")
@click.option("--device", "serial", help="Run on this device ('host' or an adb serial) with the runner's dump mode "
                                          "(default: in this process, through the binding).")
@click.option("--adb-server", envvar="ADB_SERVER_SOCKET", help="adb server as host:port (default 127.0.0.1:5037).")
@click.option("--isa", type=click.Choice(ISAS), help="Cap the kernels at this instruction set (PKT_MAX_ISA).")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(0))
@click.option("--tol", default=1e-4, show_default=True, type=click.FloatRange(0, min_open=True),
              help="Largest error relative to the eager tensor's largest magnitude that is not a divergence.")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1), help="Divergences in the table.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the full report here.")
@click.option("--keep", is_flag=True, help="Leave the runner, model and dump on the device.")
def debug_command(model, serial, adb_server, isa, threads, tol, limit, json_path, keep):
    """Run MODEL (FILE.py:FUNCTION returning (module, example_inputs), or zoo:NAME) instruction by instruction,
    compare every intermediate with eager PyTorch and print the first divergences (instruction, op, the eager ops
    it covers, source line, max abs / rel error, SQNR). Exits 1 when an instruction diverges."""
    from pockettorch.debugger.api import debug
    from pockettorch.exporter.cli import load_builder

    module, inputs, _ = load_builder(model)
    name = model[4:] if model.startswith("zoo:") else None
    report = debug(module, inputs, device=serial, isa=isa, threads=threads, tol=tol, name=name,
                   adb_server=adb_server, keep=keep)
    click.echo(report.table(limit))
    if json_path:
        pathlib.Path(json_path).write_text(json.dumps(report.as_dict(limit), indent=1) + "\n")
        click.echo(f"wrote {json_path}")
    first = report.first
    if first is not None:
        raise errors.VerificationFailedError(
            f"instruction {first['index']} ({first['op']}) is the first to diverge from eager, "
            f"at {report.rows[first['index']]['source'] or 'an unknown source'}")


COMMANDS = [debug_command]
