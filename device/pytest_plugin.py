"""The pytest plugin (entry point `pytest11`, loaded whenever pockettorch is installed).

    pytest --pkt-device host --pkt-device R58M123 [--pkt-device all] [--pkt-db results.db] [--pkt-adb-server h:p]

- `pkt_device`: a fixture parametrized over the named devices (test ids are the serials);
- `pkt_bench(model, **options)`: benchmark a .ptm file or a zoo model name on the test's device, returns the
  `pockettorch.bench/1` result dict (options: iterations, warmup, threads, power, profile_ops, cooldown, timeout, ...);
- `@pytest.mark.pkt_platform("android", ...)`: run only on devices of these platforms (host, android, ios);
- `@pytest.mark.device`: needs real hardware; skipped unless a device is named with --pkt-device;
- `--pkt-db`: one store run per session, one job per pkt_bench call (pockettorch.device.farm.store).

Nothing here touches a device unless --pkt-device names one, so the plugin costs nothing in other test suites.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib

import pytest

PLATFORMS = ("host", "android", "ios")
NO_DEVICE = "no device named: run pytest with --pkt-device host|SERIAL|all"
STATE = pytest.StashKey["_Session"]()
OPTION_ALIASES = {"iterations": "iters"}  # the public name, as in the app contract; BenchOptions says iters


def pytest_addoption(parser):
    group = parser.getgroup("pockettorch", "PocketTorch devices")
    group.addoption("--pkt-device", action="append", default=[], metavar="SERIAL",
                    help="Run device tests on this device: 'host', a serial/UDID, or 'all' (repeatable).")
    group.addoption("--pkt-db", metavar="PATH|URL",
                    help="Store every pkt_bench result in this results store (SQLite file or postgresql:// URL).")
    group.addoption("--pkt-adb-server", metavar="HOST:PORT", default=os.environ.get("ADB_SERVER_SOCKET"),
                    help="adb server for Android devices (default $ADB_SERVER_SOCKET, else 127.0.0.1:5037).")


def pytest_configure(config):
    config.addinivalue_line("markers", "device: needs real hardware named with --pkt-device (skipped otherwise)")
    config.addinivalue_line("markers", "pkt_platform(*platforms): run only on devices of these platforms "
                                       "(host, android, ios)")
    config.stash[STATE] = _Session(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist: hand the session's store run to each worker."""
    node.workerinput["pkt_run_id"] = node.config.stash[STATE].run_id


def pytest_unconfigure(config):
    state = config.stash.get(STATE, None)
    if state is not None:
        state.close()


class _Session:
    """The devices named on the command line, resolved once, and the optional results store."""

    def __init__(self, config):
        self.devices = _resolve(config.getoption("pkt_device"), config.getoption("pkt_adb_server"))
        self.store = self.run_id = None
        self.keys: dict[str, int] = {}
        self.models: dict[str, pathlib.Path] = {}
        self.worker = hasattr(config, "workerinput")  # an xdist worker writes into its controller's run
        if config.getoption("pkt_db"):
            from pockettorch.device.farm.store import open_store

            self.store = open_store(config.getoption("pkt_db"))
            self.run_id = config.workerinput["pkt_run_id"] if self.worker else self.store.create_run(
                {"source": "pytest", "args": list(config.invocation_params.args),
                 "devices": [d.serial for d in self.devices]})
        self.failed = False

    def close(self):
        if self.store is not None:
            if not self.worker:
                self.store.finish_run(self.run_id, "failed" if self.failed else "passed")
            self.store.close()
            self.store = None

    def record(self, nodeid: str, model: str, path, device, options, result, error) -> None:
        if self.store is None:
            return
        key = f"{nodeid}::{model}@{device.serial}"
        self.keys[key] = self.keys.get(key, 0) + 1
        if self.keys[key] > 1:  # the same test benchmarks the same model twice (e.g. with other options)
            key += f"#{self.keys[key]}"
        from pockettorch.runtime.error_catalogue import PocketTorchError

        try:
            info = device.info()
            about = {"serial": info.serial, "platform": info.platform, "name": info.model, "abi": info.abi,
                     "os_version": info.os_version}
        except PocketTorchError:  # the device is gone: record the job anyway
            about = {"serial": device.serial}
        self.store.record_job(self.run_id, {
            "key": key, "model": model, "model_bytes": os.path.getsize(path), "config": dataclasses.asdict(options),
            "attempts": 1, "device": about,
            "status": "failed" if error else "passed", "result": result, "error": error, "trace": None})


def _resolve(names: list[str], adb_server: str | None) -> list:
    """Device objects for the --pkt-device names; an unknown serial is a usage error listing what exists."""
    if not names:
        return []
    from pockettorch.device.host import HostDevice

    if set(names) == {"host"}:
        return [HostDevice()]  # no adb or usbmuxd probing when only the host is wanted
    from pockettorch.device.cli import all_devices
    from pockettorch.runtime import error_catalogue as errors

    try:
        known = all_devices(adb_server)
    except errors.PocketTorchError as exc:  # e.g. a malformed --pkt-adb-server
        raise pytest.UsageError(f"--pkt-adb-server: {exc}") from None
    by_serial = {d.serial: d for d in known}
    chosen: dict[str, object] = {}
    for name in names:
        if name == "all":
            chosen.update((d.serial, d) for d in known if getattr(d, "adb_state", "device") == "device")
        elif name in by_serial:
            chosen[name] = by_serial[name]
        else:
            raise pytest.UsageError(f"--pkt-device {name}: no such device; connected: {', '.join(by_serial) or 'none'}")
    return list(chosen.values())


def _platform(device) -> str:
    return device.info().platform


def pytest_generate_tests(metafunc):
    if "pkt_device" not in metafunc.fixturenames:
        return
    devices = metafunc.config.stash[STATE].devices
    params = [pytest.param(d, id=d.serial) for d in devices] or [
        pytest.param(None, id="no-device", marks=pytest.mark.skip(reason=NO_DEVICE))]
    metafunc.parametrize("pkt_device", params, indirect=True)


def pytest_collection_modifyitems(config, items):
    for item in items:
        for mark in item.iter_markers("pkt_platform"):
            bad = [p for p in mark.args if p not in PLATFORMS] or ([] if mark.args else ["(none)"])
            if bad:
                raise pytest.UsageError(f"{item.nodeid}: pkt_platform{tuple(mark.args)!r}: platforms are "
                                        f"{', '.join(PLATFORMS)}")


def pytest_runtest_setup(item):
    devices = item.config.stash[STATE].devices
    if item.get_closest_marker("device") and not devices:
        pytest.skip(f"needs real hardware; {NO_DEVICE}")
    wanted = {p for mark in item.iter_markers("pkt_platform") for p in mark.args}
    if not wanted:
        return
    callspec = getattr(item, "callspec", None)
    device = callspec.params.get("pkt_device") if callspec else None
    if device is not None:
        if _platform(device) not in wanted:
            pytest.skip(f"needs a {'/'.join(sorted(wanted))} device; {device.serial} is {_platform(device)}")
    elif not any(_platform(d) in wanted for d in devices):
        pytest.skip(f"needs a {'/'.join(sorted(wanted))} device among --pkt-device")


def pytest_sessionfinish(session, exitstatus):
    state = session.config.stash.get(STATE, None)
    if state is not None:
        state.failed = exitstatus != 0


@pytest.fixture
def pkt_device(request):
    """One of the devices named with --pkt-device (the test runs once per device)."""
    return request.param


@pytest.fixture
def pkt_bench(request, tmp_path_factory):
    """pkt_bench(model, **options) -> the pockettorch.bench/1 result of MODEL (a .ptm path or a zoo name such as
    "mlp") on the test's device: pkt_device when the test uses it, else the one device named."""
    state = request.config.stash[STATE]
    if "pkt_device" in request.fixturenames:
        device = request.getfixturevalue("pkt_device")
    elif len(state.devices) == 1:
        device = state.devices[0]
    elif not state.devices:
        pytest.skip(NO_DEVICE)
    else:
        pytest.fail("several devices are named: take the pkt_device fixture too, so the test runs on each of them",
                    pytrace=False)

    def bench(model, **options):
        from pockettorch.device.bench import bench as run_bench

        opts = _options(options)
        path, label = _model(state, model, tmp_path_factory)
        try:
            result = run_bench(device, path, opts)
        except Exception as exc:
            state.record(request.node.nodeid, label, path, device, opts, getattr(exc, "partial", None), str(exc))
            raise
        state.record(request.node.nodeid, label, path, device, opts, result, None)
        return result

    return bench


def _options(options: dict):
    from pockettorch.device.bench import BenchOptions

    fields = {f.name for f in dataclasses.fields(BenchOptions)}
    named = {OPTION_ALIASES.get(k, k): v for k, v in options.items()}
    unknown = sorted(k for k in named if k not in fields)
    if unknown:
        raise TypeError(f"pkt_bench() got unknown option(s) {', '.join(unknown)}; options: iterations, "
                        + ", ".join(sorted(fields - {"iters"})))
    return BenchOptions(**named)


def _model(state: _Session, model, tmp_path_factory) -> tuple[pathlib.Path, str]:
    """A .ptm path as is; a zoo name ("mlp" or "zoo:mlp") exported once per session."""
    path = pathlib.Path(model)
    if path.is_file():
        return path, path.stem
    from pockettorch.runtime import error_catalogue as errors
    from pockettorch.exporter import zoo

    name = str(model).removeprefix("zoo:")
    if name not in zoo.ZOO:
        raise errors.InvalidArgumentError(f"pkt_bench: model '{model}' is neither a file nor a zoo model "
                                          f"({', '.join(zoo.ZOO)})")
    if name not in state.models:
        import pockettorch

        module, inputs, meta = zoo.build(name)
        out = tmp_path_factory.mktemp("pkt-zoo") / f"{name}.ptm"
        pockettorch.export(module, inputs, name=name, metadata=meta).save(out)
        state.models[name] = out
    return state.models[name], name
