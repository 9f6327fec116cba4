"""`pockettorch farm run | report | runs`."""
from __future__ import annotations

import os
import pathlib

import click

DB = click.option("--db", default="results.db", show_default=True, envvar="POCKETTORCH_DB", show_envvar=True,
                  help="Results store: an SQLite file, or a postgresql:// URL (keep its password out of the command "
                       "line: POCKETTORCH_DB, or --db @FILE reads the URL from a file).")


def db_url(value: str) -> str:
    """--db/--broker @FILE: the URL is the file's first line (so a password stays out of `ps` and shell history)."""
    if value.startswith("@"):
        try:
            with open(value[1:]) as f:
                return f.readline().strip()
        except OSError as exc:
            raise click.BadParameter(f"cannot read the URL file {value[1:]}: {exc.strerror}") from None
    return value


class FarmFailed(click.ClickException):
    """A run with failed/lost jobs or a failed gate: exit 1 with a one-line reason."""


def _store(db: str, must_exist: bool = False):
    from pockettorch.device.farm.store import open_store

    db = db_url(db)
    if must_exist and "://" not in db and not pathlib.Path(db).is_file():
        raise click.BadParameter(f"no results store at {db}", param_hint="--db")
    return open_store(db)


def _run_id(store, run_id: str | None, hint: str) -> str:
    if run_id is None:
        runs = store.runs()
        if not runs:
            raise click.BadParameter(f"{store.path} holds no runs", param_hint=hint)
        return runs[-1]["id"]
    try:
        store.run(run_id)
    except KeyError as exc:
        raise click.BadParameter(exc.args[0], param_hint=hint) from None
    return run_id


@click.group("farm")
def farm_group():
    """Run models x devices x configurations from a farm file, keep every result, report and gate regressions."""


@farm_group.command("run")
@click.argument("farm_file", type=click.Path(exists=True, dir_okay=False))
@DB
@click.option("--resume", "resume_id", metavar="RUN_ID", help="Finish this run: only its lost and not-run jobs run again, on the devices and servers recorded with it.")
@click.option("--adb-server", "servers", multiple=True, metavar="HOST:PORT",
              help="An adb server whose devices join the farm (repeatable; default: the local server).")
@click.option("--out", "out_root", type=click.Path(file_okay=False),
              help="Where exported models and traces go (default: beside the store, <db>.runs/; farm.runs/ for a URL).")
@click.option("--max-jobs", type=click.IntRange(1), metavar="N",
              help="Refuse a farm that expands to more than N jobs (default: the file's limits.max_jobs, else 1000).")
def run_command(farm_file, db, resume_id, servers, out_root, max_jobs):
    """Run the farm file's jobs, one worker per device; every finished job is stored at once."""
    from pockettorch.device.farm import run as farm_run
    from pockettorch.device.farm.config import FarmFileError, MatrixTooLarge

    with _store(db) as store:
        if resume_id:
            run_id = _run_id(store, resume_id, "--resume")
            with store.lease(run_id):  # before reading what is left: another controller may be finishing it
                cfg, jobs = farm_run.pending(store, run_id)
                click.echo(f"resuming {run_id}: {len(jobs)} job(s) to run", err=True)
                status = farm_run.execute_jobs(store, run_id, cfg, jobs)
        else:
            try:
                run_id, cfg, jobs = farm_run.start(store, farm_file, list(servers), out_root or ("farm.runs" if "://" in db else f"{db}.runs"),
                                                   max_jobs=max_jobs)
            except (FarmFileError, MatrixTooLarge) as exc:  # what is wrong with the file, and where
                raise click.UsageError(str(exc)) from None
            click.echo(f"run {run_id}: {len(jobs)} job(s) on {len({j.device_id for j in jobs})} device(s)", err=True)
            with store.lease(run_id):
                status = farm_run.execute_jobs(store, run_id, cfg, jobs)
        counts = farm_run.summary(store, run_id)
    line = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in counts.items())
    click.echo(f"run {run_id} {status}: {line}")
    if status != "passed":
        hint = f" (finish it with --resume {run_id})" if status in ("incomplete", "interrupted") else ""
        raise FarmFailed(f"run {run_id} is {status}: {line}{hint}")


@farm_group.command("report")
@DB
@click.option("--run", "run_id", metavar="RUN_ID", help="The run to report (default: the latest).")
@click.option("--html", "html_path", required=True, type=click.Path(dir_okay=False), help="Write the HTML report here.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), help="Write JUnit XML here.")
@click.option("--baseline", metavar="RUN_ID", help="Gate regressions against this run.")
@click.option("--max-regression", default="10%", show_default=True, help="Allowed slow-down / growth (10% or 0.1).")
@click.option("--noise-k", default=3.0, show_default=True, type=click.FloatRange(0),
              help="How many combined MADs a latency difference must exceed to count.")
def report_command(db, run_id, html_path, junit_path, baseline, max_regression, noise_k):
    """Write the HTML report (and JUnit XML); with --baseline, exit 1 when any job regressed."""
    from pockettorch.device.farm import gate as gates
    from pockettorch.device.farm import junit, report_html

    try:
        threshold = gates.parse_threshold(max_regression)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-regression") from None
    with _store(db, must_exist=True) as store:
        run_id = _run_id(store, run_id, "--run")
        result = None
        if baseline:
            baseline = _run_id(store, baseline, "--baseline")
            result = gates.compare(baseline, store.jobs(baseline), run_id, store.jobs(run_id), threshold, noise_k)
        html_dir = os.path.dirname(os.path.abspath(html_path))
        pathlib.Path(html_path).write_text(report_html.render(store, run_id, result, base_dir=html_dir))
        if junit_path:
            junit.write(junit_path, store.run(run_id), store.jobs(run_id), result)
        unfinished = [j["key"] for j in store.jobs(run_id) if j["status"] != "passed"]
    click.echo(f"wrote {html_path}" + (f" and {junit_path}" if junit_path else ""))
    if result is None and unfinished:
        raise FarmFailed(f"run {run_id} has {len(unfinished)} job(s) that did not pass: {', '.join(unfinished[:10])}"
                         + (" ..." if len(unfinished) > 10 else ""))
    if result is not None:
        for f in result.findings:
            click.echo(f"REGRESSION {f.key}: {f.kind}: {f.detail}")
        if not result.passed:
            raise FarmFailed(f"{len(result.failing_keys())} job(s) regressed against {baseline}: "
                             f"{', '.join(result.failing_keys())}")
        click.echo(f"gate passed: {len(result.compared)} job(s) within {100 * threshold:g}% of {baseline}")


@farm_group.command("runs")
@DB
def runs_command(db):
    """List the runs in the store."""
    with _store(db, must_exist=True) as store:
        for r in store.runs():
            counts = {}
            for j in store.jobs(r["id"]):
                counts[j["status"]] = counts.get(j["status"], 0) + 1
            click.echo(f"{r['id']}  {r['status']:<11} " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))


COMMANDS = [farm_group]


from pockettorch.device.farm import cli_hosts  # noqa: E402,F401  the commands of the farm across hosts join the group
