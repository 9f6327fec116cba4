"""What a queue message may hold (exactly a run id and a job key: nothing in it is run), how long a worker lets a job
hold its message, and URLs read from files so passwords stay off the command line. No servers needed."""
from __future__ import annotations

import pytest

from pockettorch.device.farm.dispatch import BadMessage, queue_name, validate_message
from pockettorch.device.farm.runner import Policy
from pockettorch.device.farm.worker import worst_case_s


def test_a_message_is_exactly_a_run_id_and_a_job_key():
    assert validate_message({"run_id": "20261207-1-ab", "key": "mlp@P1#threads=1"}) == ("20261207-1-ab", "mlp@P1#threads=1")
    bad = [None, "rm -rf /", ["run", "key"], {"run_id": "r"}, {"run_id": "r", "key": "k", "cmd": "sh"},
           {"run_id": "../etc", "key": "k"}, {"run_id": "r; drop", "key": "k"}, {"run_id": 1, "key": "k"},
           {"run_id": "r", "key": ""}, {"run_id": "r", "key": "a\nb"}, {"run_id": "r", "key": "k" * 513},
           {"run_id": "r" * 65, "key": "k"}]
    for message in bad:
        with pytest.raises(BadMessage):
            validate_message(message)


def test_queue_names_are_safe_and_one_per_device():
    a = queue_name({"server": "10.0.0.5:5037", "serial": "emulator-5554"})
    b = queue_name({"server": "10.0.0.6:5037", "serial": "emulator-5554"})
    assert a == "pkt.10.0.0.5_5037.emulator-5554" and a != b
    assert queue_name({"server": "s", "serial": "a b/../*"}) == "pkt.s.a_b_..__"


def test_the_worst_case_of_a_job_counts_every_attempt_back_off_and_cool_down():
    policy = Policy(retries=2, backoff_s=2, max_backoff_s=3, cooldown_s=10, until_temp_c=40, max_wait_s=120)
    assert worst_case_s({"timeout_s": 600}, policy) == 3 * 600 + 2 + 3 + 10 + 120
    assert worst_case_s({"timeout_s": 600}, Policy(0, 1, 1, 0, None, 120)) == 600


def test_broker_and_database_urls_come_from_a_file(tmp_path, capsys):
    from pockettorch.cli import main

    url_file = tmp_path / "db.url"
    url_file.write_text("postgresql://farm:s3cret-pw@127.0.0.1:1/none\n")
    assert main(["farm", "status", "r1", "--db", f"@{url_file}"]) == 1  # nothing listens on port 1
    err = capsys.readouterr().err
    assert "cannot open the results database postgresql://farm:***@127.0.0.1:1/none" in err
    assert "s3cret-pw" not in err
    assert main(["farm", "status", "r1", "--db", str(tmp_path / "local.db")]) == 2
    assert "keeps its results in PostgreSQL" in capsys.readouterr().err


def test_a_run_priority_outside_1_to_9_is_refused(tmp_path, capsys, monkeypatch):
    from pockettorch.cli import main
    from pockettorch.device.farm.submit import submit

    monkeypatch.setenv("POCKETTORCH_BROKER", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("POCKETTORCH_DB", "postgresql://farm@127.0.0.1:1/none")  # refused before either is used
    farm = tmp_path / "farm.yaml"
    farm.write_text("models: []\n")
    for bad in ("0", "10", "high"):
        assert main(["farm", "submit", str(farm), "--priority", bad]) == 2
        assert "Invalid value for '--priority'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="priority must be 1-9, not 10"):
        submit(None, None, str(farm), str(tmp_path / "out"), None, 30.0, priority=10)
