"""JUnit XML for CI (the Jenkins/Surefire layout): one testsuite per device, one testcase per job; failed
jobs and gate regressions are <failure>, lost jobs <error>, jobs not run <skipped>."""
from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET

from pockettorch.device.farm.gate import GateResult


def _seconds(job: dict) -> float:
    r = job.get("result") or {}
    return round(sum(r.get("samples_ms") or []) / 1000.0 + (r.get("load_ms") or 0) / 1000.0, 6)


def build(run: dict, jobs: list[dict], gate: GateResult | None = None) -> ET.ElementTree:
    findings: dict[str, list] = {}
    for f in gate.findings if gate else []:
        findings.setdefault(f.key, []).append(f)
    stamp = datetime.datetime.fromtimestamp(run["created"], datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element("testsuites", name=f"pockettorch farm {run['id']}")
    suites: dict[str, ET.Element] = {}
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    times = {}
    for j in jobs:
        device = j["device"].get("id") or j["device"]["serial"]
        if device not in suites:
            suites[device] = ET.SubElement(root, "testsuite", name=device, timestamp=stamp,
                                           hostname=j["device"].get("server") or "local")
            suites[device].set("id", str(len(suites) - 1))
            times[device] = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}
        t = times[device]
        case = ET.SubElement(suites[device], "testcase", name=j["key"], classname=f"{j['model']}.{device}",
                             time=f"{_seconds(j):.6f}")
        t["tests"] += 1
        t["time"] += _seconds(j)
        if j["status"] == "failed":
            ET.SubElement(case, "failure", message=(j.get("error") or "failed")[:500], type="failed").text = j.get("error")
            t["failures"] += 1
        elif j["status"] == "lost":
            ET.SubElement(case, "error", message=(j.get("error") or "device lost")[:500], type="lost").text = j.get("error")
            t["errors"] += 1
        elif j["status"] == "not_run":
            ET.SubElement(case, "skipped", message=j.get("error") or "not run")
            t["skipped"] += 1
        elif j["key"] in findings:
            text = "\n".join(f"{f.kind}: {f.detail}" for f in findings[j["key"]])
            ET.SubElement(case, "failure", message=text.splitlines()[0][:500], type="regression").text = text
            t["failures"] += 1
        if j.get("median_ms") is not None:
            ET.SubElement(case, "system-out").text = (f"median {j['median_ms']:.4f} ms, p90 {j.get('p90_ms') or 0:.4f} ms, "
                                                      f"peak RSS {j.get('peak_rss_kb') or 0:.0f} KiB")
    for device, suite in suites.items():
        t = times[device]
        for k in totals:
            suite.set(k, str(t[k]))
            totals[k] += t[k]
        suite.set("time", f"{t['time']:.6f}")
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{sum(t['time'] for t in times.values()):.6f}")
    ET.indent(root)
    return ET.ElementTree(root)


def write(path: str, run: dict, jobs: list[dict], gate: GateResult | None = None) -> None:
    build(run, jobs, gate).write(path, encoding="utf-8", xml_declaration=True)
