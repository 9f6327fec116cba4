"""Farm files: a good one becomes models x devices x configs with stable job keys; every kind of mistake is
reported with its line and field."""
from __future__ import annotations

import pytest

from pockettorch.device.farm.config import FarmFileError, parse_farm
from pockettorch.device.farm.plan import FarmDevice, plan, select

GOOD = """\
models:
  - zoo: mlp
    export: {reference: true, seed: 3}
  - {file: tiny.ptm, name: tiny}
devices:
  - host
  - {platform: android, abi: arm64-v8a}
configs:
  - {threads: [1, 4], iters: 20, power: false}
  - {threads: 1, iters: 20, power: true, verify: true}
retry: {retries: 3, backoff_s: 0.5}
cooldown: {seconds: 1, until_temp_c: 40}
timeout_s: 120
"""


def _dev(serial, platform, abi, server="local"):
    return FarmDevice({"serial": serial, "platform": platform, "abi": abi, "model": "Pixel 8",
                                "server": server, "id": serial}, serial)


@pytest.fixture
def farm_dir(tmp_path):
    (tmp_path / "tiny.ptm").write_bytes(b"PTM0")
    return tmp_path


def test_a_good_file_plans_the_product_with_stable_keys(farm_dir):
    cfg = parse_farm(GOOD, str(farm_dir / "farm.yaml"))
    assert [m.name for m in cfg.models] == ["mlp", "tiny"]
    assert cfg.models[0].export == {"reference": True, "seed": 3} and cfg.models[1].source == f"file:{farm_dir}/tiny.ptm"
    assert (cfg.retries, cfg.backoff_s, cfg.cooldown_s, cfg.until_temp_c, cfg.timeout_s) == (3, 0.5, 1.0, 40.0, 120.0)
    found = [_dev("host", "host", "x86_64"), _dev("emulator-5554", "android", "arm64-v8a", "10.0.0.2:5037"),
             _dev("old", "android", "armeabi-v7a")]
    devices = select(cfg.devices, found)
    assert [d.id for d in devices] == ["host", "emulator-5554"]
    keys = [j.key for j in plan(cfg, devices)]
    assert len(keys) == 2 * 2 * 3 and len(set(keys)) == len(keys)
    assert keys[:3] == ["mlp@host#threads=1,iters=20,power=off", "mlp@host#threads=4,iters=20,power=off",
                        "mlp@host#threads=1,iters=20,power=on,verify=on"]
    assert keys == [j.key for j in plan(cfg, devices)]  # stable


@pytest.mark.parametrize("text, line, message", [
    ("models: [zoo: mlp]\n", 1, "farm.yaml:1: devices: is required"),
    ("models:\n  - zoo: mlp\ndevices:\n  - {platform: androd}\n", 4,
     "devices[0].platform: must be one of host, android, ios, not 'androd'"),
    ("models:\n  - zoo: nope\ndevices: [host]\n", 2, "models[0].zoo: unknown zoo model 'nope'"),
    ("models:\n  - {zoo: mlp, file: tiny.ptm}\ndevices: [host]\n", 2, "models[0]: needs exactly one of zoo, file or builder"),
    ("models:\n  - file: missing.ptm\ndevices: [host]\n", 2, "models[0].file: no such file"),
    ("models:\n  - {file: tiny.ptm, export: {reference: true}}\ndevices: [host]\n", 2,
     "models[0].export: a .ptm file is already exported"),
    ("models: [zoo: mlp]\ndevices: [host]\nconfigs:\n  - threads: 1\n    iters: 0\n", 5,
     "configs[0].iters: must be an integer 1..1000000000, not 0"),
    ("models: [zoo: mlp]\ndevices: [host]\nconfigs:\n  - {threads: [1, x]}\n", 4, "configs[0].threads: must be"),
    ("models: [zoo: mlp]\ndevices: [host]\nconfigs:\n  - {power: yes please}\n", 4, "configs[0].power: must be a boolean"),
    ("models: [zoo: mlp]\ndevices: [host]\nconfigs:\n  - {thread: 1}\n", 4, "configs[0].thread: unknown field"),
    ("models: [zoo: mlp]\ndevices: [host]\nretry: {retries: -1}\n", 3, "retry.retries: must be an integer 0..20"),
    ("models: [zoo: mlp, zoo: mlp]\ndevices: [host]\n", 1, "models[1].name: 'mlp' is already used by models[0]"),
    ("models: [zoo: mlp]\ndevices:\n  - {server: nowhere}\n", 3, "devices[0].server: 'nowhere' is not host:port"),
    ("models: [zoo: mlp]\ndevices: []\n", 2, "devices: must be a non-empty list"),
    ("models: [zoo: mlp]\ndevices: [host\n", None, "not valid YAML (line 3)"),
    # duplicate keys, at any depth
    ("models: [zoo: mlp]\ndevices: [host]\ndevices: [all]\n", 3, "devices: duplicate key (first given on line 2)"),
    ("models: [zoo: mlp]\ndevices: [host]\nconfigs:\n  - threads: 1\n    iters: 3\n    threads: 2\n", 6,
     "configs[0].threads: duplicate key (first given on line 4)"),
    # non-finite and absurd numbers
    ("models: [zoo: mlp]\ndevices: [host]\ntimeout_s: .inf\n", 3, "timeout_s: must be a number of seconds > 0"),
    ("models: [zoo: mlp]\ndevices: [host]\ncooldown: {seconds: .nan}\n", 3, "cooldown.seconds: must be a number of seconds"),
    ("models: [zoo: mlp]\ndevices: [host]\nretry:\n  backoff_s: 1e400\n", 4, "retry.backoff_s: must be a number of seconds"),
    ("models: [zoo: mlp]\ndevices: [host]\nretry: {max_backoff_s: 1e12}\n", 3, "retry.max_backoff_s: must be"),
    ("models: [zoo: mlp]\ndevices: [host]\ncooldown: {max_wait_s: -.inf}\n", 3, "cooldown.max_wait_s: must be"),
    ("models: [zoo: mlp]\ndevices: [host]\ncooldown: {until_temp_c: .inf}\n", 3,
     "cooldown.until_temp_c: must be a temperature 0..150 (C) or null, not inf"),
    ("models: [zoo: mlp]\ndevices: [host]\ncooldown: {until_temp_c: .nan}\n", 3, "cooldown.until_temp_c: must be a temperature"),
    ("models: [zoo: mlp]\ndevices: [host]\ncooldown: {until_temp_c: 1e9}\n", 3, "cooldown.until_temp_c: must be a temperature"),
    ("models: [zoo: mlp]\ndevices: [host]\nconfigs: [{iters: 1000000000000}]\n", 3, "configs[0].iters: must be an integer 1..1000000000"),
    # keys that collide after normalisation
    ("models: [zoo: mlp]\ndevices: [host]\nconfigs: [{threads: 1, Threads: 2}]\n", 3,
     "configs[0].Threads: unknown field; did you mean threads?"),
    ("models:\n  - zoo: mlp\n  - {zoo: mlp, name: MLP}\ndevices: [host]\n", 3,
     "models[1].name: 'MLP' is already used by models[0] (names must differ in more than case)"),
    ("models:\n  - {zoo: mlp, name: 'a:b'}\ndevices: [host]\n", 2, "models[0].name: 'a:b' must start with a letter"),
    ("models: [zoo: mlp]\ndevices: [host]\nconfigs: [{threads: [1, 2, 1]}]\n", 3,
     "configs[0]: gives threads=1,iters=50,power=off again (as configs[0] does)"),
    ("models: [zoo: mlp]\ndevices: [host]\nconfigs:\n  - {threads: 4, warmup: 5}\n  - {threads: [2, 4], iters: 50}\n", 5,
     "configs[1]: gives threads=4,iters=50,power=off again (as configs[0] does)"),
    # the size of the matrix, before it is expanded
    ("models: [zoo: mlp]\ndevices: [host]\nconfigs:\n  - {threads: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], iters: [1, 2, 3, 4, 5, 6, 7, "
     "8, 9, 10], warmup: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], power: true}\n", 4,
     "configs[0]: expands to 1100 configs (10 threads x 10 iters x 11 warmup), more than the 1000 the job limit leaves"),
    ("models: [zoo: mlp]\ndevices: [host]\nlimits: {max_jobs: 3}\nconfigs:\n  - {threads: [1, 2]}\n  - {threads: [3, 4]}\n", 6,
     "configs[1]: expands to 2 configs (2 threads), more than the 1 the job limit leaves"),
    ("models: [zoo: mlp]\ndevices: [host]\nlimits: {max_jobs: .inf}\n", 3, "limits.max_jobs: must be an integer 1..1000000"),
])
def test_mistakes_name_the_line_and_field(farm_dir, text, line, message):
    with pytest.raises(FarmFileError) as info:
        parse_farm(text, str(farm_dir / "farm.yaml"))
    assert message in str(info.value)
    assert info.value.line == line
    if line:
        assert str(info.value).startswith(f"{farm_dir}/farm.yaml:{line}: ")


def test_the_matrix_limit_names_the_size_and_how_it_was_computed(farm_dir):
    from pockettorch.device.farm.config import MatrixTooLarge

    text = "models: [zoo: mlp, tiny.ptm]\ndevices: [all]\nlimits: {max_jobs: 7}\nconfigs: [{threads: [1, 2]}]\n"
    cfg = parse_farm(text, str(farm_dir / "farm.yaml"))
    two = [_dev("host", "host", "x86_64"), _dev("p", "android", "arm64-v8a")]
    with pytest.raises(MatrixTooLarge, match=r"farm.yaml: the farm expands to 8 jobs \(2 model\(s\) x 2 device\(s\) x "
                                             r"2 config\(s\)\), more than the limit of 7; .*--max-jobs"):
        plan(cfg, select(cfg.devices, two))
    assert len(plan(parse_farm(text, str(farm_dir / "farm.yaml"), max_jobs=8), two)) == 8  # --max-jobs overrides


def test_a_filter_that_matches_no_device_lists_the_connected_ones(farm_dir):
    from pockettorch import errors

    cfg = parse_farm("models: [zoo: mlp]\ndevices:\n  - {abi: x86}\n", str(farm_dir / "farm.yaml"))
    with pytest.raises(errors.DeviceNotFoundError, match=r"devices\[0\] \(abi=x86\) matches no connected device; "
                                                         r"connected: host \(host, x86_64\)"):
        select(cfg.devices, [_dev("host", "host", "x86_64")])


def test_the_cli_reports_a_bad_farm_file_as_a_usage_error(farm_dir, capsys):
    from pockettorch.cli import main

    bad = farm_dir / "farm.yaml"
    bad.write_text("models: [zoo: mlp]\ndevices:\n  - {platform: androd}\n")
    assert main(["farm", "run", str(bad), "--db", str(farm_dir / "r.db")]) == 2
    assert "farm.yaml:3: devices[0].platform: must be one of" in capsys.readouterr().err


def test_the_cli_refuses_a_matrix_over_max_jobs(farm_dir, capsys):
    from pockettorch.cli import main

    farm = farm_dir / "farm.yaml"
    farm.write_text("models: [tiny.ptm, {file: tiny.ptm, name: t2}]\ndevices: [host]\nconfigs: [{threads: [1, 2]}]\n")
    assert main(["farm", "run", str(farm), "--db", str(farm_dir / "r.db"), "--max-jobs", "3"]) == 2
    err = capsys.readouterr().err
    assert "the farm expands to 4 jobs (2 model(s) x 1 device(s) x 2 config(s)), more than the limit of 3" in err
