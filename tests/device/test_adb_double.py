"""The adb device double, driven through a real adb server by the adb CLI and by adbutils.

Tier 2 (DESIGN.md): a real adb server on a private loopback port (mDNS and USB off) and a loopback
device double; nothing leaves 127.0.0.1.  Every call has a timeout.
"""
from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import time

import pytest

adbutils = pytest.importorskip("adbutils")

from fixtures.adb_device import QEMU_AARCH64, AdbDeviceDouble, userns_available  # noqa: E402
from fixtures.adb_server import AdbServer, find_adb  # noqa: E402

pytestmark = pytest.mark.timeout(60)

if find_adb() is None:  # pragma: no cover - the test extra installs adbutils, which bundles adb
    pytest.skip("no adb binary (pip install adbutils, or apt-get install adb)", allow_module_level=True)

TIMEOUT = 10  # seconds, for every client call that could block


@pytest.fixture(scope="module")
def server():
    with AdbServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def double(server, tmp_path_factory):
    dev = AdbDeviceDouble(tmp_path_factory.mktemp("phone"), serial="PKT0001").start()
    try:
        server.connect(dev)
        yield dev
    finally:
        server.disconnect(dev)
        dev.stop()


@pytest.fixture
def fresh(server, tmp_path):
    """A double of its own for tests that break the connection; returns a factory."""
    made = []

    def make(**kw):
        dev = AdbDeviceDouble(tmp_path / f"phone{len(made)}", **kw).start()
        made.append(dev)
        server.connect(dev)
        return dev
    yield make
    for dev in made:
        server.disconnect(dev)
        dev.stop()


def client(server) -> "adbutils.AdbClient":
    return adbutils.AdbClient(host="127.0.0.1", port=server.port, socket_timeout=TIMEOUT)


@pytest.fixture
def d(server, double):
    return client(server).device(double.adb_serial)


# ---------------------------------------------------------------- connection and shell

def test_adb_devices_lists_the_double(server, double):
    assert server.devices()[double.adb_serial] == "device"
    long = server.run("devices", "-l").stdout
    assert "model:PocketDouble" in long and "product:pkt_double" in long
    serials = [dev.serial for dev in client(server).device_list()]
    assert double.adb_serial in serials


def test_features_come_from_the_banner(d):
    features = set(d.get_features().split(","))
    assert {"shell_v2", "stat_v2", "ls_v2"} <= features
    assert not any(f.startswith("sendrecv_v2") for f in features)


def test_cli_shell_v2_separates_streams_and_exit_code(server, double):
    out = server.run("shell", "echo out; echo err >&2; exit 3", serial=double.adb_serial, check=False)
    assert out.returncode == 3
    assert out.stdout == "out\n" and out.stderr == "err\n"


def test_cli_shell_passes_stdin(server, double):
    out = server.run("shell", "cat; echo done", serial=double.adb_serial, input=b"from host\n")
    assert out.stdout == "from host\ndone\n"


def test_adbutils_shell_and_exit_codes(d):
    assert d.shell("echo hello; echo again") == "hello\nagain"
    r = d.shell2("echo hi; echo oops >&2; exit 5", timeout=TIMEOUT, v2=True)
    assert (r.returncode, r.stdout, r.stderr) == (5, "hi\n", "oops\n")
    assert d.shell2("true", timeout=TIMEOUT, v2=True).returncode == 0
    assert d.shell2("false", timeout=TIMEOUT).returncode == 1  # v1 + adbutils' echo $? trick
    assert d.shell2("kill -9 $$", timeout=TIMEOUT, v2=True).returncode == 137


def test_getprop(d, double):
    assert d.getprop("ro.product.model") == "PocketDouble"
    for name in ("ro.product.manufacturer", "ro.board.platform", "ro.soc.model", "ro.product.cpu.abi",
                 "ro.product.cpu.abilist", "ro.build.version.release", "ro.build.version.sdk"):
        assert d.shell(["getprop", name]) == double.props[name]
    assert d.shell("getprop ro.serialno") == "PKT0001"
    assert d.shell("getprop no.such.prop; echo end") == "\nend"  # empty line, like Android
    double.set_prop("debug.pkt.flag", "7")
    assert d.shell("getprop debug.pkt.flag") == "7"
    assert "[ro.product.cpu.abi]: [arm64-v8a]" in d.shell("getprop")


def test_filesystem_commands(d):
    base = "/data/local/tmp/pockettorch/fs"
    script = (f"rm -rf {base} && mkdir -p {base}/a/b && echo x > {base}/a/b/f && chmod 700 {base}/a/b/f && "
              f"ls {base}/a/b && stat -c %a {base}/a/b/f && sh -c 'cd {base}/a && pwd' && "
              f"taskset f0 cat {base}/a/b/f && rm -rf {base}/a && ls {base} | wc -l")
    r = d.shell2(script, timeout=TIMEOUT, v2=True)
    assert r.returncode == 0, r.output
    assert r.stdout.split() == ["f", "700", f"{base}/a", "x", "0"]


def test_sysfs_battery_thermal_cpufreq_and_dumpsys(d, double):
    bat = "/sys/class/power_supply/battery"
    assert d.shell(f"cat {bat}/current_now {bat}/voltage_now").split() == ["-350000", "3950000"]
    double.set_battery(current_now=-812345, voltage_now=3801000)
    assert d.shell(f"cat {bat}/current_now {bat}/voltage_now").split() == ["-812345", "3801000"]
    assert "voltage: 3801" in d.shell("dumpsys battery")
    double.play_battery([{"current_now": -100}, {"current_now": -200}], interval=0.2)
    seen = set()
    deadline = time.monotonic() + 5
    while seen != {"-100", "-200"} and time.monotonic() < deadline:
        seen.add(d.shell(f"cat {bat}/current_now"))
    assert {"-100", "-200"} <= seen
    double.set_thermal(0, 55000)
    assert d.shell("cat /sys/class/thermal/thermal_zone0/type /sys/class/thermal/thermal_zone0/temp").split() \
        == ["cpu-0-0", "55000"]
    double.set_cpufreq(7, cur_khz=1200000)
    assert d.shell("cat /sys/devices/system/cpu/cpu7/cpufreq/scaling_cur_freq") == "1200000"
    assert d.shell("cat /sys/devices/system/cpu/online") == "0-7"
    assert "Can't find service" in d.shell("dumpsys nosuch 2>&1")


# ---------------------------------------------------------------- sync

@pytest.fixture(scope="module")
def blob(tmp_path_factory) -> pathlib.Path:
    p = tmp_path_factory.mktemp("host") / "blob.bin"
    p.write_bytes(os.urandom(2 * 1024 * 1024))
    return p


def test_adbutils_push_pull_stat_list(d, double, blob, tmp_path):
    dst = "/data/local/tmp/pockettorch/blob.bin"
    assert d.sync.push(blob, dst, check=True) == blob.stat().st_size
    back = tmp_path / "back.bin"
    assert d.sync.pull(dst, back) == blob.stat().st_size
    assert back.read_bytes() == blob.read_bytes()
    info = d.sync.stat(dst)
    assert info.size == 2 * 1024 * 1024 and info.mode & 0o170000 == 0o100000
    assert "blob.bin" in [f.path for f in d.sync.list("/data/local/tmp/pockettorch")]
    assert d.sync.stat("/data/local/tmp/nothing").mtime is None
    assert d.shell(f"md5sum {dst}").split()[0] == hashlib.md5(blob.read_bytes()).hexdigest()
    assert pathlib.Path(double.device_path(dst)).read_bytes() == blob.read_bytes()


def test_cli_push_pull(server, double, blob, tmp_path):
    dst = "/data/local/tmp/cli/deep/blob.bin"  # parent folders made on the device (fixed_push_mkdir)
    server.run("push", str(blob), dst, serial=double.adb_serial)
    server.run("pull", dst, str(tmp_path / "b"), serial=double.adb_serial)
    assert (tmp_path / "b").read_bytes() == blob.read_bytes()
    ls = server.run("ls", "/data/local/tmp/cli/deep", serial=double.adb_serial).stdout
    assert "blob.bin" in ls
    miss = server.run("pull", "/data/local/tmp/none", str(tmp_path / "n"), serial=double.adb_serial, check=False)
    assert miss.returncode != 0 and "No such file or directory" in miss.stderr


# ---------------------------------------------------------------- aarch64 binary under qemu

HELLO_C = r"""
static long sys3(long n, long a, long b, long c) {
    register long x8 __asm__("x8") = n; register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b; register long x2 __asm__("x2") = c;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
}
void _start(void) {
    static const char msg[] = "hello from aarch64\n";
    sys3(64, 1, (long)msg, sizeof msg - 1);  /* write(1, msg, len) */
    sys3(93, 42, 0, 0);                       /* exit(42) */
    for (;;) {}
}
"""


@pytest.fixture(scope="module")
def aarch64_hello(tmp_path_factory) -> pathlib.Path:
    try:
        import ziglang  # noqa: F401
    except ImportError:
        pytest.skip("ziglang not installed (pip install ziglang) - cannot build an aarch64 binary")
    if not os.path.exists(QEMU_AARCH64):
        pytest.skip(f"{QEMU_AARCH64} missing (apt-get install qemu-user-static)")
    d = tmp_path_factory.mktemp("zig")
    (d / "hello.c").write_text(HELLO_C)
    # Freestanding (raw syscalls, no libc): builds in well under a second even with a cold zig cache.
    subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", "aarch64-linux-musl", "-nostdlib",
                    "-ffreestanding", "-static", "-O2", "-o", str(d / "hello"), str(d / "hello.c")],
                   check=True, timeout=50, capture_output=True)
    return d / "hello"


def test_pushed_aarch64_binary_runs_under_qemu(d, double, aarch64_hello):
    if double.exec_mode != "userns":
        pytest.skip("user namespaces unavailable: relative exec of aarch64 needs the userns mode")
    d.sync.push(aarch64_hello, "/data/local/tmp/pockettorch/hello", mode=0o755)
    r = d.shell2("cd /data/local/tmp/pockettorch && ./hello; echo rc=$?; taskset f0 ./hello",
                 timeout=TIMEOUT, v2=True)
    assert r.stdout == "hello from aarch64\nrc=42\nhello from aarch64\n"
    assert r.returncode == 42


def test_rewrite_mode_maps_paths_and_runs_aarch64(fresh, server, aarch64_hello):
    dev = fresh(exec_mode="rewrite")
    dd = client(server).device(dev.adb_serial)
    dd.sync.push(aarch64_hello, "/data/local/tmp/pockettorch/hello", mode=0o755)
    r = dd.shell2("ls /data/local/tmp/pockettorch; cat /sys/class/power_supply/battery/capacity; "
                  "echo /data/local/tmp; /data/local/tmp/pockettorch/hello", timeout=TIMEOUT, v2=True)
    assert r.stdout == "hello\n85\n/data/local/tmp\nhello from aarch64\n"
    assert r.returncode == 42


# ---------------------------------------------------------------- faults

def test_disconnect_mid_shell_errors_instead_of_hanging(fresh, server):
    dev = fresh()
    dev.drop_on_command("pkt-run", after=0.5)
    dd = client(server).device(dev.adb_serial)
    t0 = time.monotonic()
    with pytest.raises((EOFError, adbutils.AdbError, OSError)):
        dd.shell2("echo pkt-run started; sleep 30; echo never", timeout=TIMEOUT, v2=True)
    assert time.monotonic() - t0 < 5


def test_drop_after_bytes_breaks_a_pull(fresh, server, blob, tmp_path):
    dev = fresh()
    dd = client(server).device(dev.adb_serial)
    dd.sync.push(blob, "/data/local/tmp/blob.bin")
    dev.drop_after(300_000)
    t0 = time.monotonic()
    with pytest.raises((EOFError, adbutils.AdbError, OSError)):
        dd.sync.pull("/data/local/tmp/blob.bin", tmp_path / "partial")
    assert time.monotonic() - t0 < 5


def test_hang_past_client_timeout(fresh, server):
    dev = fresh()
    dev.hang_command("pkt-hang", seconds=30)
    dd = client(server).device(dev.adb_serial)
    t0 = time.monotonic()
    with pytest.raises(adbutils.AdbTimeout):
        dd.shell("echo pkt-hang", timeout=1)
    with pytest.raises(adbutils.AdbTimeout):
        dd.shell2("echo pkt-hang", timeout=1, v2=True)
    assert time.monotonic() - t0 < 5
    assert dd.shell("echo still alive", timeout=TIMEOUT) == "still alive"  # the device is not wedged


def test_disk_full_on_push(fresh, server, blob):
    dev = fresh(quota_bytes=1024 * 1024)
    dd = client(server).device(dev.adb_serial)
    dst = "/data/local/tmp/pockettorch/blob.bin"
    with pytest.raises(adbutils.AdbError):
        dd.sync.push(blob, dst)
    # the exact FAIL message adbd sends, read with a raw sync request
    with dd.open_transport(timeout=TIMEOUT) as c:
        c.send_command("sync:")
        c.check_okay()
        spec = f"{dst},{0o100644}".encode()
        c.conn.sendall(b"SEND" + struct.pack("<I", len(spec)) + spec
                       + b"DATA" + struct.pack("<I", 65536) + bytes(65536) * 1
                       + b"".join(b"DATA" + struct.pack("<I", 65536) + bytes(65536) for _ in range(20))
                       + b"DONE" + struct.pack("<I", 0))
        assert c.read_string(4) == "FAIL"
        msg = c.read_string(c.read_uint32())
    assert msg == "write failed: No space left on device"
    cli = server.run("push", str(blob), dst, serial=dev.adb_serial, check=False)
    assert cli.returncode != 0 and "No space left on device" in cli.stderr
    assert not os.path.exists(dev.device_path(dst))  # the partial file is removed, like adbd does
    dev.quota_bytes = None
    assert dd.sync.push(blob, dst) == blob.stat().st_size


def test_unknown_service_is_refused(d):
    with d.open_transport(timeout=TIMEOUT) as c:
        c.send_command("pkt-nonsense:")
        assert c.read(4) == b"FAIL"


def test_userns_mode_is_used_here():
    """The preferred mode should be available on the project's machines; report when it is not."""
    if not userns_available():
        pytest.skip("unshare --user --mount not permitted here: doubles fall back to exec_mode='rewrite'")
    assert shutil.which("unshare")
