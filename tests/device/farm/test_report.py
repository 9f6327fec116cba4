"""Reports and the regression gate on real host runs: a baseline, a run of the same model (same weights and file
size) on a 36x larger input as the injected slowdown, and a run within noise (the baseline's samples 4% slower).
The HTML is parsed (not grepped) and rendered in headless Chromium (Debian's package) to a screenshot;
the JUnit file is validated against tests/device/farm/junit.xsd with xmlschema."""
from __future__ import annotations

import html
import html.parser
import os
import pathlib
import re
import shutil
import subprocess
import urllib.parse

import pytest
import torch
import xmlschema
from torch import nn

import pockettorch
from pockettorch.cli import main
from pockettorch.device.farm.store import ResultStore

XSD = pathlib.Path(__file__).with_name("junit.xsd")
KEY = "net@host#threads=1,iters=30,power=off,warmup=2"
FARM = """
models:
  - {{file: {file}, name: net}}
devices: [host]
configs:
  - {{threads: 1, iters: 30, warmup: 2}}
"""


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(torch.relu(self.conv(x))), 1))


class Elements(html.parser.HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def find(self, tag, **attrs):
        return [a for t, a in self.tags if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(db, baseline id, slow id, within-noise id)."""
    tmp = tmp_path_factory.mktemp("farm")
    torch.manual_seed(0)
    net = Net().eval()
    ids = []
    for name, size in (("fast", 8), ("slow", 48)):
        pockettorch.export(net, (torch.randn(1, 3, size, size),), name="net").save(tmp / f"{name}.ptm")
        (tmp / f"{name}.yaml").write_text(FARM.format(file=f"{name}.ptm"))
        assert main(["farm", "run", str(tmp / f"{name}.yaml"), "--db", str(tmp / "r.db")]) == 0
    with ResultStore(tmp / "r.db") as store:
        ids = [r["id"] for r in store.runs()]
        calm = store.create_run({"farm_file": "calm"}, run_id="calm")
        for job in store.jobs(ids[0]):
            job["result"]["samples_ms"] = [1.04 * ms for ms in job["samples_ms"]]
            store.record_job(calm, job)
        store.finish_run(calm, "passed")
    return tmp / "r.db", ids[0], ids[1], calm


def test_the_gate_fails_on_the_slowdown_and_names_the_job(runs, tmp_path, capsys):
    db, base, slow, _ = runs
    report, junit = tmp_path / "report.html", tmp_path / "junit.xml"
    code = main(["farm", "report", "--db", str(db), "--run", slow, "--baseline", base, "--max-regression", "10%",
                 "--html", str(report), "--junit", str(junit)])
    out = capsys.readouterr()
    assert code == 1 and f"REGRESSION {KEY}: latency" in out.out and KEY in out.err

    page = Elements(report.read_text())
    assert page.find("span", id="gate-verdict")[0]["class"] == "FAIL"
    # the same weights: the file is not larger; the runner's own peak RSS may grow with the 36x larger arena
    assert {a["data-key"] for a in page.find("tr", **{"class": "finding"})} == {KEY}
    kinds = [line.split(": ")[1].split()[0] for line in out.out.splitlines() if line.startswith("REGRESSION")]
    assert "latency" in kinds and "size" not in kinds and set(kinds) <= {"latency", "memory"}, out.out
    (plot,) = page.find("svg", **{"class": "latency-plot"})
    assert (plot["data-model"], plot["data-device"]) == ("net", "host")
    assert len(page.find("circle")) >= 30  # every sample drawn (plus the history points)
    assert not page.find("svg", **{"class": "energy-plot"})  # no job measured power: no empty chart
    (history,) = page.find("svg", **{"class": "history-plot", "data_key": KEY})
    assert len(page.find("circle", **{"class": "point"})) == 3  # baseline, slow, calm

    schema = xmlschema.XMLSchema(str(XSD))
    schema.validate(str(junit))
    doc = schema.to_dict(str(junit))
    (case,) = doc["testsuite"][0]["testcase"]
    assert case["@name"] == KEY and case["failure"][0]["@type"] == "regression"
    assert doc["@tests"] == 1 and doc["@failures"] == 1


LONG = "{threads: 1, iters: 30, warmup: 2, cpus: '0', profile_ops: true}"


def test_the_report_shows_device_facts_relative_trace_links_full_labels_and_no_empty_charts(tmp_path, capsys):
    """One run of one job: the device's CPU, ISA, OS and ABI are shown; the trace is a link relative to the report's
    folder that resolves to the file; the config label is not cut; no energy chart (no power measured) and no
    one-point history."""
    from pockettorch.device.host import HostDevice

    torch.manual_seed(0)
    pockettorch.export(Net().eval(), (torch.randn(1, 3, 8, 8),), name="net").save(tmp_path / "net.ptm")
    (tmp_path / "farm.yaml").write_text(FARM.format(file="net.ptm").replace("{threads: 1, iters: 30, warmup: 2}", LONG))
    db = tmp_path / "r.db"
    assert main(["farm", "run", str(tmp_path / "farm.yaml"), "--db", str(db)]) == 0
    report = tmp_path / "reports" / "today" / "report.html"
    report.parent.mkdir(parents=True)
    assert main(["farm", "report", "--db", str(db), "--html", str(report)]) == 0
    text = report.read_text()
    with ResultStore(db) as store:
        (job,) = store.jobs(store.runs()[0]["id"])

    info = HostDevice().info()
    row = re.search(r'<tr class="device" data-device="host">(.*?)</tr>', text).group(1)
    cells = dict(re.findall(r'<td class="(cpu|abi|isa|os)">([^<]*)</td>', row))
    assert cells == {"cpu": html.escape(info.soc), "abi": info.abi, "isa": job["result"]["isa"], "os": info.os_version}
    assert job["result"]["isa"]

    (href,) = re.findall(r'<td class="trace"><a href="([^"]+)"', text)
    assert not href.startswith(("/", "file:")) and href.startswith("../../")
    assert (report.parent / urllib.parse.unquote(href)).resolve() == pathlib.Path(job["trace"]).resolve()
    assert pathlib.Path(job["trace"]).is_file()

    label = "threads=1,iters=30,power=off,warmup=2,cpus=0,profile_ops=on"
    assert job["key"] == f"net@host#{label}" and f">{label}</text>" in text  # the whole label, in the plot
    page = Elements(text)
    assert page.find("svg", **{"class": "latency-plot"})
    assert not page.find("svg", **{"class": "energy-plot"}) and "No job measured power" in text
    assert not page.find("svg", **{"class": "history-plot"}) and "measured in more than one run" in text


def test_a_run_within_noise_passes(runs, tmp_path, capsys):
    db, base, _, calm = runs
    code = main(["farm", "report", "--db", str(db), "--run", calm, "--baseline", base, "--html",
                 str(tmp_path / "r.html"), "--junit", str(tmp_path / "j.xml")])
    assert code == 0 and "gate passed: 1 job(s) within 10%" in capsys.readouterr().out
    xmlschema.XMLSchema(str(XSD)).validate(str(tmp_path / "j.xml"))
    assert Elements((tmp_path / "r.html").read_text()).find("span", id="gate-verdict")[0]["class"] == "PASS"


def test_the_report_renders_in_headless_chromium(runs, tmp_path):
    from PIL import Image

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("needs Debian's chromium (make chromium)")
    db, base, slow, _ = runs
    report = tmp_path / "report.html"
    assert main(["farm", "report", "--db", str(db), "--run", slow, "--baseline", base, "--html", str(report)]) == 1
    shot = tmp_path / "report.png"
    argv = [chromium, "--headless", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}", "--proxy-server=127.0.0.1:9",  # no network, ever
            f"--screenshot={shot}", "--window-size=1000,1400", report.as_uri()]
    if os.geteuid() == 0:
        argv.insert(1, "--no-sandbox")
    subprocess.run(argv, check=True, capture_output=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    with Image.open(shot) as img:
        assert img.size == (1000, 1400)
        rgb = img.convert("RGB")
        colors = rgb.getcolors(maxcolors=1 << 20)
    ink = sum(n for n, c in colors if sum(c) < 600)  # anything clearly darker than white
    assert len(colors) > 50 and 0.01 < ink / (1000 * 1400) < 0.6  # text, tables and plots; not blank, not a void
    # the plot colours (the first palette entry, blue) are on screen, so the SVG rendered
    assert any(n > 50 and abs(c[0] - 0x32) < 40 and abs(c[1] - 0x66) < 40 and abs(c[2] - 0xa8) < 40 for n, c in colors)
