"""The pytest plugin, exercised with pytest's own `pytester` (inner pytest sessions, in process).

Real: the plugin as installed (the `pytest11` entry point), the host device with the real runner, the zoo's mlp
exported by the real exporter, the farm's SQLite store. No doubles. The adb server named for discovery is a
loopback port where nothing listens, so "all" and unknown serials never reach a real adb server."""
from __future__ import annotations

import pathlib
import socket

import pytest

import pockettorch
import pockettorch.device
from pockettorch.cli import main

pytest_plugins = ["pytester"]
EXAMPLE = pathlib.Path(pockettorch.device.__file__).parent / "examples" / "test_my_model.py"
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module", autouse=True)
def _export_once_outside():
    """pytester removes the modules an in-process inner session imported; torch.export's lazily imported ones
    (which register torch libraries) must not be imported twice, so they are imported here first."""
    from pockettorch.exporter import zoo

    pockettorch.export(*zoo.build("mlp")[:2])


@pytest.fixture(autouse=True)
def _runner_cache(monkeypatch):
    """pytester points HOME at its temporary folder; keep the runner's build cache (~/.cache) where it is."""
    from pockettorch.runtime.build import default_cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(default_cache_dir().parent))


@pytest.fixture
def no_adb(monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("ADB_SERVER_SOCKET", f"tcp:127.0.0.1:{port}")
    monkeypatch.setenv("USBMUXD_SOCKET_ADDRESS", "/nonexistent/usbmuxd")  # no iOS devices either


def test_plugin_is_installed_with_the_package():
    from importlib.metadata import entry_points

    [ep] = [e for e in entry_points(group="pytest11") if e.name == "pockettorch"]
    assert ep.value == "pockettorch.device.pytest_plugin"


def test_the_readme_example_runs_on_the_host(pytester):
    pytester.makepyfile(test_my_model=EXAMPLE.read_text())
    result = pytester.runpytest_inprocess("--pkt-device", "host", "--pkt-device", "host", "-v", "-rs")
    result.assert_outcomes(passed=2, skipped=1)  # the host named twice is one device
    result.stdout.fnmatch_lines(["*test_latency_budget?host? PASSED*", "*needs a android device; host is host*"])


def test_without_a_device_everything_device_related_skips(pytester):
    pytester.makepyfile("""
        import pytest

        def test_bench(pkt_device, pkt_bench):
            raise AssertionError("must not run")

        def test_bench_only(pkt_bench):
            raise AssertionError("must not run")

        @pytest.mark.device
        def test_real_hardware():
            raise AssertionError("must not run")

        def test_plain():
            pass
    """)
    result = pytester.runpytest_inprocess("-rs")
    result.assert_outcomes(passed=1, skipped=3)
    result.stdout.fnmatch_lines(["*no device named: run pytest with --pkt-device host|SERIAL|all*"])


def test_markers_select_by_platform_and_device_tests_run_when_named(pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.pkt_platform("ios")
        def test_ios_only(pkt_device):
            raise AssertionError("host is not iOS")

        @pytest.mark.pkt_platform("host", "android")
        def test_host_or_android(pkt_device):
            assert pkt_device.info().platform == "host"

        @pytest.mark.pkt_platform("android")
        def test_android_without_the_fixture():
            raise AssertionError("no android device was named")

        @pytest.mark.device
        def test_real_hardware():
            pass
    """)
    result = pytester.runpytest_inprocess("--pkt-device", "host", "-rs")
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines(["*needs a ios device; host is host*", "*needs a android device among --pkt-device*"])


def test_an_unknown_serial_is_a_usage_error_listing_the_devices(pytester, no_adb):
    pytester.makepyfile("def test_x(pkt_device): pass")
    result = pytester.runpytest_inprocess("--pkt-device", "emulator-5554")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--pkt-device emulator-5554: no such device; connected: host*"])


def test_all_is_every_device_found(pytester, no_adb):
    pytester.makepyfile("def test_x(pkt_device): assert pkt_device.serial == 'host'")
    pytester.runpytest_inprocess("--pkt-device", "all").assert_outcomes(passed=1)


def test_a_misspelt_platform_is_a_usage_error(pytester):
    pytester.makepyfile("""
        import pytest

        @pytest.mark.pkt_platform("andriod")
        def test_x(pkt_device):
            pass
    """)
    result = pytester.runpytest_inprocess("--pkt-device", "host")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*pkt_platform('andriod',): platforms are host, android, ios*"])


def test_bad_models_and_options_say_what_is_allowed(pytester):
    pytester.makepyfile("""
        import pytest
        from pockettorch import errors

        def test_bad(pkt_bench):
            with pytest.raises(TypeError, match="unknown option.*iteration.*options: iterations"):
                pkt_bench("mlp", iteration=3)
            with pytest.raises(errors.InvalidArgumentError, match="'resnet7' is neither a file nor a zoo model"):
                pkt_bench("resnet7")
    """)
    pytester.runpytest_inprocess("--pkt-device", "host").assert_outcomes(passed=1)


def test_results_go_to_the_store(pytester, tmp_path):
    """One run per session, one job per pkt_bench call, failures kept with their error."""
    from pockettorch.device.farm.store import ResultStore

    (tmp_path / "broken.ptm").write_bytes(b"not a program")
    pytester.makepyfile(f"""
        import pytest

        def test_twice(pkt_device, pkt_bench):
            assert pkt_bench("mlp", iterations=4, warmup=0)["iters"] == 4
            assert pkt_bench("mlp", iterations=6, warmup=0, threads=2)["iters"] == 6

        def test_broken(pkt_bench):
            pkt_bench({str(tmp_path / "broken.ptm")!r}, iterations=1)
    """)
    db = tmp_path / "results.db"
    result = pytester.runpytest_inprocess("--pkt-device", "host", "--pkt-db", str(db))
    result.assert_outcomes(passed=1, failed=1)
    store = ResultStore(db)
    try:
        [run] = store.runs()
        assert run["status"] == "failed" and run["config"]["devices"] == ["host"]
        jobs = {j["key"]: j for j in store.jobs(run["id"])}
        assert len(jobs) == 3
        twice = [j for k, j in jobs.items() if "test_twice" in k]
        assert sorted(j["config"]["iters"] for j in twice) == [4, 6]
        assert all(j["status"] == "passed" and j["result"]["schema"] == "pockettorch.bench/1" for j in twice)
        assert all(j["device"]["serial"] == "host" and j["model"] == "mlp" and j["model_bytes"] > 1e6 for j in twice)
        [broken] = [j for k, j in jobs.items() if "test_broken" in k]
        assert broken["status"] == "failed" and broken["model"] == "broken" and broken["error"]
    finally:
        store.close()
    # the farm's report reads a session's results like a farm run's (and fails, as the session did)
    assert main(["farm", "report", "--db", str(db), "--html", str(tmp_path / "r.html")]) == 1
    assert "test_twice" in (tmp_path / "r.html").read_text()


def test_xdist_workers_write_into_one_run(pytester, tmp_path):
    import torch

    from pockettorch.device.farm.store import ResultStore

    model = tmp_path / "small.ptm"  # exported here: the workers need not import torch
    pockettorch.export(torch.nn.Linear(8, 2), (torch.randn(1, 8),)).save(model)
    pytester.makepyfile(f"""
        import pytest

        @pytest.mark.parametrize("threads", [1, 2, 3, 4])
        def test_threads(pkt_device, pkt_bench, threads):
            pkt_bench({str(model)!r}, iterations=2, warmup=0, threads=threads)
    """)
    db = tmp_path / "results.db"
    pytester.runpytest_subprocess("-n", "2", "--pkt-device", "host", "--pkt-db", str(db)).assert_outcomes(passed=4)
    store = ResultStore(db)
    try:
        [run] = store.runs()
        assert run["status"] == "passed"
        assert sorted(j["config"]["threads"] for j in store.jobs(run["id"])) == [1, 2, 3, 4]
    finally:
        store.close()
