"""`pockettorch devices | deploy | bench | verify`."""
from __future__ import annotations

import json
import os
import pathlib

import click

from pockettorch.device.farm.cli import COMMANDS as FARM_COMMANDS
from pockettorch.runtime import error_catalogue as errors


def backends(adb_server: str | None = None):
    """The host, plus Android devices when an adb server answers and iOS devices when usbmuxd lists some."""
    from pockettorch.device.host import HostBackend
    from pockettorch.device.ios import IOSBackend

    found = [HostBackend()]
    try:
        from pockettorch.device.android import AndroidBackend
    except ImportError:
        pass
    else:
        found.append(AndroidBackend(adb_server))
    found.append(IOSBackend())  # reaches pymobiledevice3 only when asked for devices
    return found


def all_devices(adb_server: str | None = None, notes: list[str] | None = None):
    """Every device; `notes` collects why a backend listed none (no adb server, no usbmuxd)."""
    devices = []
    for backend in backends(adb_server):
        devices.extend(backend.devices())
        if backend.note and notes is not None:
            notes.append(backend.note)
    return devices


def find_device(serial: str | None, adb_server: str | None = None):
    serial = serial or os.environ.get("ANDROID_SERIAL") or "host"
    devices = all_devices(adb_server)
    for d in devices:
        if d.serial == serial:
            return d
    known = ", ".join(d.serial for d in devices) or "none"
    raise errors.DeviceNotFoundError(f"no device '{serial}'; connected: {known}", serial=serial)


DEVICE = click.option("--device", "serial", envvar="ANDROID_SERIAL", help="Device serial, or 'host' (default: $ANDROID_SERIAL, else host).")
ADB = click.option("--adb-server", envvar="ADB_SERVER_SOCKET", help="adb server as host:port or tcp:host:port (default 127.0.0.1:5037).")
MODEL = click.argument("model", type=click.Path(exists=True, dir_okay=False))


@click.command("devices")
@ADB
@click.option("--json", "as_json", is_flag=True)
def devices_command(adb_server, as_json):
    """List the host, every adb device and every iOS device usbmuxd knows (serial, model, SoC/ABI, OS version, state)."""
    notes: list[str] = []
    rows = [d.info().as_dict() for d in all_devices(adb_server, notes)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        for r in [dict(serial="SERIAL", platform="PLATFORM", state="STATE", abi="ABI", model="MODEL", soc="CPU/SOC",
                       os_version="OS"), *rows]:
            click.echo(f"{r['serial']:<24} {r['platform']:<8} {r['state']:<12} {r['abi']:<12} {r['model'][:24]:<24} "
                       f"{r['soc'][:32]:<32} {r['os_version']}")
    for note in notes:
        click.echo(f"note: {note}", err=True)


@click.command("deploy")
@MODEL
@DEVICE
@ADB
def deploy_command(model, serial, adb_server):
    """Push the runner and MODEL to the device (files already there, by content hash, are skipped)."""
    from pockettorch.device.bench import deploy

    device = find_device(serial, adb_server)
    r = deploy(device, model)
    for path in r["pushed"]:
        click.echo(f"pushed  {path}")
    for path in r["skipped"]:
        click.echo(f"present {path}")


def _print_result(r: dict) -> None:
    lat = r["latency_ms"]
    d = r["device"]
    click.echo(f"{r.get('model')} on {d['serial']} ({d['model'] or d['platform']}, {d['abi']}, {r.get('isa', '?')}), "
               f"{r['threads']} thread(s), {r['iters']} iterations")
    click.echo(f"  load {r['load_ms']:.2f} ms, first inference {r['first_inference_ms']:.3f} ms, "
               f"peak RSS {r.get('peak_rss_kb', 0) / 1024:.1f} MiB, arena {r.get('arena_bytes', 0) / 2**20:.1f} MiB")
    click.echo("  latency ms: " + "  ".join(f"{k} {lat[k]:.3f}" for k in ("min", "median", "p90", "p99", "mean", "std",
                                                                          "trimmed_mean") if lat.get(k) is not None))
    b = r.get("backend") or {}
    if b.get("delegates"):
        where = f"{b['device']} ({b['driver']})" if b["active"] else "the CPU (fallbacks)"
        click.echo(f"  backend {b['name']}: {b['active']} of {b['delegates']} delegate(s) on {where}")
    if r.get("ops"):
        click.echo("  per-op times of one extra profiled inference (not part of the latencies above):")
    for row in r.get("ops") or []:
        click.echo(f"  {row['op']:<18} x{row['calls']:<4} {row['total_ms']:8.3f} ms  avg {row['avg_ms']:.4f} "
                   f"{100 * row['share']:5.1f}%")
    p = r.get("power") or {}
    if p.get("available"):
        line = f"  power {p['average_mw']:.0f} mW, {p['energy_per_inference_mj']:.3f} mJ/inference ({p['sample_rate_hz']:.1f} Hz)"
        click.echo(line + (f"\n  caveat: {p['caveat']}" if p.get("caveat") else ""))
    elif r["options"]["power"]:
        click.echo(f"  power unavailable: {p.get('reason')}")
    for flag in r.get("flags") or []:
        click.echo(f"  warning: {flag}")


@click.command("bench")
@MODEL
@DEVICE
@ADB
@click.option("--iters", default=100, show_default=True, type=click.IntRange(1))
@click.option("--warmup", default=10, show_default=True, type=click.IntRange(0))
@click.option("--threads", default=1, show_default=True, type=click.IntRange(0), help="0: one per big core.")
@click.option("--cpus", help="Pin the run to these CPUs (taskset list, e.g. 4-7).")
@click.option("--cooldown", default=0.0, type=click.FloatRange(0), help="Seconds to rest before measuring.")
@click.option("--profile-ops", is_flag=True,
              help="Time each op in one extra profiled inference after the timed ones (the latencies stay unprofiled).")
@click.option("--power", is_flag=True, help="Sample power during the measured window.")
@click.option("--keep", is_flag=True, help="Leave the runner and model on the device.")
@click.option("--timeout", default=600.0, show_default=True, type=click.FloatRange(1), help="Seconds before the run is abandoned.")
@click.option("--backend", metavar="NAME", help="Run delegates on backend NAME (e.g. vulkan) and fail unless they do; "
              "'cpu': every delegate's CPU fallback.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the result JSON here.")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False), help="Write a Chrome trace-event JSON (Perfetto).")
def bench_command(model, serial, adb_server, json_path, trace_path, **opts):
    """Benchmark MODEL on a device: latency distribution, load time, memory, per-op profile, power."""
    from pockettorch.device.bench import BenchOptions, bench
    from pockettorch.device.trace import build_trace

    device = find_device(serial, adb_server)
    try:
        r = bench(device, model, BenchOptions(**opts))
    except errors.PocketTorchError as exc:
        partial = getattr(exc, "partial", None)
        if json_path and partial:
            pathlib.Path(json_path).write_text(json.dumps(dict(partial, error=str(exc)), indent=2) + "\n")
            click.echo(f"kept what was measured in {json_path}", err=True)
        raise
    _print_result(r)
    if json_path:
        pathlib.Path(json_path).write_text(json.dumps(r, indent=2) + "\n")
    if trace_path:
        pathlib.Path(trace_path).write_text(json.dumps(build_trace(r)) + "\n")


@click.command("verify")
@MODEL
@DEVICE
@ADB
@click.option("--tolerance", default=1e-4, show_default=True, help="Allowed error relative to each output's max magnitude.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False))
def verify_command(model, serial, adb_server, tolerance, json_path):
    """Run the reference inputs stored at export (--reference) on the device and compare the outputs."""
    from pockettorch.device.bench import verify

    r = verify(find_device(serial, adb_server), model, tol=tolerance)
    for o in r["outputs"]:
        click.echo(f"  {'PASS' if o['pass'] else 'FAIL'} {o['name']}: max error {o['max_abs_error']:.3g} "
                   f"(reference max {o['max_abs_reference']:.3g})")
    if json_path:
        pathlib.Path(json_path).write_text(json.dumps(r, indent=2) + "\n")
    if not r["pass"]:
        raise errors.VerificationFailedError(f"{r['model']} differs from its reference on {r['device']['serial']}")
    click.echo(f"{r['model']}: all {len(r['outputs'])} output(s) match on {r['device']['serial']}")


COMMANDS = [devices_command, deploy_command, bench_command, verify_command, *FARM_COMMANDS]
