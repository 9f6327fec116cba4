"""A model that fails to export fails its own jobs (status `failed`, the error stored) while the other models' jobs
run on the host; the report shows those failures in the HTML and as JUnit failures and exits non-zero."""
from __future__ import annotations

import pathlib
import re

import xmlschema

from pockettorch.cli import main
from pockettorch.device.farm.store import ResultStore

XSD = pathlib.Path(__file__).with_name("junit.xsd")
FARM = """
models:
  - {builder: broken.py:build, name: broken}
  - zoo: mlp
devices: [host]
configs:
  - {threads: [1, 2], iters: 3, warmup: 0}
"""


def test_a_model_that_fails_to_export_fails_its_jobs_not_the_run(tmp_path, capsys):
    (tmp_path / "broken.py").write_text("def build():\n    raise RuntimeError('this builder is broken')\n")
    (tmp_path / "farm.yaml").write_text(FARM)
    db = tmp_path / "r.db"
    assert main(["farm", "run", str(tmp_path / "farm.yaml"), "--db", str(db)]) == 1
    assert "is failed: 2 passed, 2 failed" in capsys.readouterr().err
    with ResultStore(db) as store:
        (run,) = store.runs()
        jobs = store.jobs(run["id"])
    assert run["status"] == "failed"
    broken = [j for j in jobs if j["model"] == "broken"]
    assert [j["status"] for j in broken] == ["failed", "failed"]
    assert all("exporting model broken" in j["error"] and "this builder is broken" in j["error"] for j in broken)
    assert [j["status"] for j in jobs if j["model"] == "mlp"] == ["passed", "passed"]

    html, junit = tmp_path / "report.html", tmp_path / "junit.xml"
    assert main(["farm", "report", "--db", str(db), "--html", str(html), "--junit", str(junit)]) == 1
    err = capsys.readouterr().err
    assert f"run {run['id']} has 2 job(s) that did not pass: {broken[0]['key']}, {broken[1]['key']}" in err
    page = html.read_text()
    for j in broken:
        row = re.search(rf'<tr class="job" data-key="{re.escape(j["key"])}">(.*?)</tr>', page).group(1)
        assert '<td class="failed">failed</td>' in row and "this builder is broken" in row
    schema = xmlschema.XMLSchema(str(XSD))
    schema.validate(str(junit))
    doc = schema.to_dict(str(junit))
    assert doc["@tests"] == 4 and doc["@failures"] == 2
    failed = {c["@name"]: c["failure"][0] for s in doc["testsuite"] for c in s["testcase"] if "failure" in c}
    assert set(failed) == {j["key"] for j in broken}
    assert all(f["@type"] == "failed" and "this builder is broken" in f["@message"] for f in failed.values())
