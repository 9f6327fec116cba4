"""`pockettorch farm worker | submit | status | wait | cancel | serve`: the farm across hosts (Celery on Redis,
results in PostgreSQL). URLs with passwords come from the environment (POCKETTORCH_BROKER, POCKETTORCH_DB) or a
file (`--broker @FILE`), so they stay out of `ps`, shell history and CI logs; messages show them without passwords."""
from __future__ import annotations

import socket
import time

import click

from pockettorch.device.farm.cli import DB, FarmFailed, _run_id, _store, db_url, farm_group
from pockettorch.device.farm import PRIORITY_DEFAULT, PRIORITY_MAX, PRIORITY_MIN

BROKER = click.option("--broker", required=True, envvar="POCKETTORCH_BROKER", show_envvar=True, metavar="URL",
                      help="The Celery broker, redis://[:PASSWORD@]HOST:PORT/DB (or @FILE holding it).")
WORKER_TTL = click.option("--worker-ttl", default=30.0, show_default=True, type=click.FloatRange(0.1),
                          help="A worker whose last heartbeat is older than this many seconds is not live.")


def _sql_store(db: str):
    if "://" not in db_url(db):
        raise click.BadParameter("the farm across hosts keeps its results in PostgreSQL: pass a postgresql:// URL "
                                 "(POCKETTORCH_DB or --db @FILE)", param_hint="--db")
    return _store(db)


def _app(broker: str):
    from pockettorch.device.farm.celery_app import make_app

    return make_app(db_url(broker))


@farm_group.command("worker")
@BROKER
@DB
@click.option("--adb-server", "servers", multiple=True, metavar="HOST:PORT", help="An adb server whose devices this worker serves (repeatable; default: the local server).")
@click.option("--name", default=socket.gethostname, show_default="the host name", help="This worker's name (one per host).")
@click.option("--host-device/--no-host-device", default=True, show_default=True, help="Serve this host itself as a device.")
@click.option("--heartbeat", "heartbeat_s", default=10.0, show_default=True, type=click.FloatRange(0.1), help="Seconds between heartbeats.")
@click.option("--claim-ttl", "claim_ttl_s", default=90.0, show_default=True, type=click.FloatRange(1),
              help="A running job whose worker has not renewed its claim for this long is run again or marked lost; "
                   "a worker without a heartbeat for half of it is gone.")
@click.option("--visibility-timeout", "visibility_s", default=4 * 3600.0, show_default=True, type=click.FloatRange(60),
              help="Redis redelivers an unacknowledged job after this long; jobs that may run longer are refused.")
def worker_command(broker, db, servers, name, host_device, heartbeat_s, claim_ttl_s, visibility_s):
    """Serve this host's devices: one Celery worker per device (concurrency 1), heartbeats with device facts."""
    import signal

    from pockettorch.device.farm.worker import Settings, Supervisor

    if claim_ttl_s <= 6 * heartbeat_s:
        raise click.BadParameter("must be longer than six heartbeats", param_hint="--claim-ttl")
    _sql_store(db).close()  # the URL's errors, before anything starts
    sup = Supervisor(db_url(broker), db_url(db), list(servers), name, host_device,
                     Settings(heartbeat_s=heartbeat_s, claim_ttl_s=claim_ttl_s, visibility_s=visibility_s))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sup.stop.set())
    sup.serve()


@farm_group.command("submit")
@click.argument("farm_file", type=click.Path(exists=True, dir_okay=False))
@BROKER
@DB
@click.option("--out", "out_dir", default="farm.models", show_default=True, type=click.Path(file_okay=False),
              help="Where the farm file's models are exported before they are uploaded.")
@click.option("--max-jobs", type=click.IntRange(1), metavar="N", help="Refuse a farm that expands to more than N jobs.")
@click.option("--priority", default=PRIORITY_DEFAULT, show_default=True, metavar="N",
              type=click.IntRange(PRIORITY_MIN, PRIORITY_MAX),
              help=f"{PRIORITY_MIN}-{PRIORITY_MAX}: a device runs the queued jobs of higher-priority runs first, "
                   "runs of equal priority in the order they were submitted.")
@WORKER_TTL
def submit_command(farm_file, broker, db, out_dir, max_jobs, priority, worker_ttl):
    """Queue the farm file's jobs on the live workers' devices; prints the run id alone on the last line."""
    from pockettorch.device.farm.config import FarmFileError, MatrixTooLarge
    from pockettorch.device.farm.submit import submit

    with _sql_store(db) as store:
        try:
            run_id, queued = submit(store, _app(broker), farm_file, out_dir, max_jobs, worker_ttl, priority)
        except (FarmFileError, MatrixTooLarge) as exc:
            raise click.UsageError(str(exc)) from None
    click.echo(f"queued {queued} job(s)", err=True)
    click.echo(run_id)


def _progress(store, run_id: str) -> tuple[str, str]:
    from pockettorch.device.farm import dispatch

    counts = dispatch.counts(store, run_id)
    statuses: dict[str, int] = {}
    for j in store.jobs(run_id):
        statuses[j["status"]] = statuses.get(j["status"], 0) + 1
    line = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("queued", "running", "done", "lost", "cancelled"))
    return store.run(run_id)["status"], line + " | " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))


@farm_group.command("status")
@click.argument("run_id")
@DB
def status_command(run_id, db):
    """A submitted run's status and its jobs per state."""
    with _sql_store(db) as store:
        status, line = _progress(store, _run_id(store, run_id, "RUN_ID"))
        priority = store.run(run_id)["config"].get("priority", PRIORITY_DEFAULT)
    click.echo(f"run {run_id} {status}, priority {priority}: {line}")


@farm_group.command("wait")
@click.argument("run_id")
@DB
@click.option("--timeout", default=0.0, type=click.FloatRange(0), help="Give up after this many seconds (0: never).")
@click.option("--poll", default=1.0, show_default=True, type=click.FloatRange(0.05), help="Seconds between checks.")
def wait_command(run_id, db, timeout, poll):
    """Follow a submitted run until it ends; exit 1 unless every job passed."""
    deadline = time.monotonic() + timeout if timeout else None
    with _sql_store(db) as store:
        _run_id(store, run_id, "RUN_ID")
        last = None
        while True:
            status, line = _progress(store, run_id)
            if line != last:
                click.echo(f"run {run_id} {status}: {line}", err=True)
                last = line
            if status != "running":
                break
            if deadline and time.monotonic() > deadline:
                raise FarmFailed(f"run {run_id} still running after {timeout:g} s: {line}")
            time.sleep(poll)
    click.echo(f"run {run_id} {status}")
    if status != "passed":
        raise FarmFailed(f"run {run_id} is {status}: {line}")


@farm_group.command("cancel")
@click.argument("run_id")
@DB
def cancel_command(run_id, db):
    """Cancel a submitted run's queued jobs (running jobs finish)."""
    from pockettorch.device.farm import dispatch

    with _sql_store(db) as store:
        n = dispatch.cancel(store, _run_id(store, run_id, "RUN_ID"))
    click.echo(f"cancelled {n} queued job(s) of run {run_id}")


@farm_group.command("serve")
@DB
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--api-token-file", type=click.Path(exists=True, dir_okay=False),
              help="A file holding the API token that allows cancelling runs (default: POCKETTORCH_API_TOKEN; "
                   "without one the dashboard is read-only).")
@WORKER_TTL
def serve_command(db, host, port, api_token_file, worker_ttl):
    """The dashboard: runs, a run's jobs and live progress, report plots, devices, comparison of two runs."""
    import os

    import uvicorn

    from pockettorch.device.farm.dashboard import create_app

    url = db_url(db)
    store = _store(url, must_exist=True)
    token = open(api_token_file).read().strip() if api_token_file else os.environ.get("POCKETTORCH_API_TOKEN")

    click.echo(f"serving {('postgresql' if '://' in url else url)} on http://{host}:{port}/"
               + ("" if token else " (read-only)"), err=True)
    uvicorn.run(create_app(store, token or None, worker_ttl), host=host, port=port, log_level="warning")
