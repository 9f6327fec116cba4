"""A self-contained HTML report of one farm run: summary, the devices (CPU, ISA, OS, ABI), the regression gate's
verdict, every job (its trace a link relative to the report), latency distributions per model x device, energy
per inference and each job's median latency across runs. Plots are inline SVG; the page loads nothing from
anywhere. Charts with nothing to show (no power measured, a job seen in one run only) are left out."""
from __future__ import annotations

import datetime
import html
import os
import urllib.parse
import xml.etree.ElementTree as ET

from pockettorch.device.farm import plots
from pockettorch.device.farm.gate import RULE, GateResult, mad
from pockettorch.device.farm.store import ResultStore

HISTORY_LIMIT = 24  # jobs whose history is drawn; a big farm would otherwise make a huge page

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
table { border-collapse: collapse; margin: 8px 0 20px; } th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
th { background: #f2f2f2; } #jobs td:first-child { word-break: break-all; min-width: 14em; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
#jobs td.error { min-width: 15em; max-width: 36em; overflow-wrap: anywhere; } #jobs td.trace { overflow-wrap: anywhere; }
.passed { color: #1d7a33; } .failed, .lost, .FAIL { color: #b3261e; font-weight: bold; } .not_run { color: #8a6d00; }
.PASS { color: #1d7a33; font-weight: bold; } svg { display: block; margin: 6px 0 14px; max-width: 100%; height: auto; }
"""


def _esc(v) -> str:
    return html.escape("" if v is None else str(v))


def _num(v, fmt="{:.3f}") -> str:
    return "" if v is None else fmt.format(v)


def _svg(el: ET.Element) -> str:
    return ET.tostring(el, encoding="unicode")


def _label(job: dict) -> str:
    return job["key"].split("#", 1)[1] if "#" in job["key"] else job["key"]


def _gate_section(gate: GateResult | None) -> str:
    if gate is None:
        return "<p>No baseline given (<code>--baseline RUN_ID</code>); no regression gate.</p>"
    verdict = "PASS" if gate.passed else "FAIL"
    rows = "".join(f'<tr class="finding" data-key="{_esc(f.key)}"><td>{_esc(f.key)}</td><td>{_esc(f.kind)}</td>'
                   f"<td>{_esc(f.detail)}</td></tr>" for f in gate.findings)
    table = (f"<table id=\"gate-findings\"><tr><th>job</th><th>regression</th><th>detail</th></tr>{rows}</table>"
             if rows else "")
    new_only = f"<p>Only in this run (not gated): {_esc(', '.join(gate.new_only))}</p>" if gate.new_only else ""
    return (f'<p>Against baseline <code>{_esc(gate.baseline)}</code>, threshold {100 * gate.threshold:g}%, '
            f'k = {gate.k:g}: <span id="gate-verdict" class="{verdict}">{verdict}</span> '
            f"({len(gate.findings)} finding(s), {len(gate.compared)} job(s) compared)</p>"
            f"<p class=\"rule\">Rule: {_esc(RULE)}.</p>{table}{new_only}")


def _devices_table(jobs: list[dict]) -> str:
    """One row per device: what it is (CPU, cores, ABI, OS) and the kernels' ISA the runtime picked on it."""
    devices: dict[str, dict] = {}
    isas: dict[str, set] = {}
    for j in jobs:
        d = j["device"]
        key = d.get("id") or d["serial"]
        devices.setdefault(key, d)
        isa = (j.get("result") or {}).get("isa")
        isas.setdefault(key, set()).update([isa] if isa else [])
    rows = "".join(
        f'<tr class="device" data-device="{_esc(key)}"><td>{_esc(key)}</td><td>{_esc(d.get("platform"))}</td>'
        f'<td>{_esc(d.get("model"))}</td><td class="cpu">{_esc(d.get("soc"))}</td><td class="num">{_esc(d.get("cores") or "")}</td>'
        f'<td class="abi">{_esc(d.get("abi"))}</td><td class="isa">{_esc(", ".join(sorted(isas[key])))}</td>'
        f'<td class="os">{_esc(d.get("os_version"))}</td><td>{_esc(d.get("server"))}</td></tr>'
        for key, d in devices.items())
    return ('<table id="devices"><tr><th>device</th><th>platform</th><th>model</th><th>CPU</th><th>cores</th>'
            f"<th>ABI</th><th>ISA</th><th>OS</th><th>server</th></tr>{rows}</table>")


def _trace_link(trace: str | None, base_dir: str) -> str:
    """The trace as a link relative to the report's folder (the report and the runs folder move together)."""
    if not trace:
        return ""
    try:
        rel = os.path.relpath(trace, base_dir)
    except ValueError:  # another drive on Windows: only an absolute link works
        rel = trace
    href = urllib.parse.quote(rel.replace(os.sep, "/"))
    return f'<a href="{_esc(href)}" title="{_esc(rel)}">trace</a>'  # the key is in the row already


def _jobs_table(jobs: list[dict], base_dir: str) -> str:
    head = ("<tr><th>job</th><th>status</th><th>attempts</th><th>median ms</th><th>p90 ms</th><th>MAD ms</th>"
            "<th>peak RSS KiB</th><th>mJ/inference</th><th>model bytes</th><th>verify</th><th>error</th><th>trace</th></tr>")
    rows = []
    for j in jobs:
        v = j.get("verify")
        verify = "" if v is None else ("pass" if v.get("pass") else "FAIL")
        rows.append(
            f'<tr class="job" data-key="{_esc(j["key"])}"><td>{_esc(j["key"])}</td>'
            f'<td class="{_esc(j["status"])}">{_esc(j["status"])}</td><td class="num">{j["attempts"]}</td>'
            f'<td class="num">{_num(j.get("median_ms"))}</td><td class="num">{_num(j.get("p90_ms"))}</td>'
            f'<td class="num">{_num(mad(j.get("samples_ms") or []) if j.get("samples_ms") else None)}</td>'
            f'<td class="num">{_num(j.get("peak_rss_kb"), "{:.0f}")}</td><td class="num">{_num(j.get("energy_mj"))}</td>'
            f'<td class="num">{_num(j.get("model_bytes"), "{:d}")}</td><td>{verify}</td>'
            f'<td class="error">{_esc((j.get("error") or "")[:300])}</td>'
            f'<td class="trace">{_trace_link(j.get("trace"), base_dir)}</td></tr>')
    return f'<table id="jobs">{head}{"".join(rows)}</table>'


def _latency_section(jobs: list[dict]) -> str:
    groups: dict[tuple[str, str], list[dict]] = {}
    for j in jobs:
        groups.setdefault((j["model"], j["device"].get("id") or j["device"]["serial"]), []).append(j)
    plots_ = [_svg(plots.latency_plot(f"{model} on {device}", [(_label(j), j["samples_ms"]) for j in js
                                                               if j.get("samples_ms")],
                                      **{"class": "latency-plot", "data-model": model, "data-device": device}))
              for (model, device), js in groups.items() if any(j.get("samples_ms") for j in js)]
    return "".join(plots_) or "<p>No job measured any latency.</p>"


def _energy_section(jobs: list[dict]) -> str:
    bars = [(j["key"].replace("#", " "), j["energy_mj"]) for j in jobs if j.get("energy_mj") is not None]
    if not bars:
        return "<p>No job measured power (set <code>power: true</code> in a config, on a device that reports it).</p>"
    return _svg(plots.bar_plot("Energy per inference", bars, "mJ per inference", **{"class": "energy-plot"}))


def _history_section(store: ResultStore, jobs: list[dict]) -> str:
    """A line per job measured in two runs or more (one point is no history)."""
    histories = [(j, points) for j in jobs if len(points := store.history(j["key"], "median_ms")) > 1]
    parts = [_svg(plots.line_plot(f"median latency of {j['key']} across runs", points, "ms",
                                  **{"class": "history-plot", "data-key": j["key"]}))
             for j, points in histories[:HISTORY_LIMIT]]
    if not parts:
        return "<p>No job has been measured in more than one run yet.</p>"
    more = len(histories) - HISTORY_LIMIT
    return "".join(parts) + (f"<p>{more} more job(s) not drawn.</p>" if more > 0 else "")


def render(store: ResultStore, run_id: str, gate: GateResult | None = None, base_dir: str = ".") -> str:
    """The page; `base_dir` is the folder it is written to (trace links are relative to it)."""
    run = store.run(run_id)
    jobs = store.jobs(run_id)
    counts = {s: sum(j["status"] == s for j in jobs) for s in ("passed", "failed", "lost", "not_run")}
    created = datetime.datetime.fromtimestamp(run["created"], datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    summary = ", ".join(f'<span class="{s if n else ""}">{n} {s.replace("_", " ")}</span>' for s, n in counts.items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>PocketTorch farm run {_esc(run_id)}</title>
<style>{STYLE}</style></head><body>
<h1>PocketTorch farm run <code id="run-id">{_esc(run_id)}</code></h1>
<section id="summary"><p>Started {created}; status <b class="{_esc(run['status'])}">{_esc(run['status'])}</b>;
{len(jobs)} job(s): {summary}. Farm file: <code>{_esc(run['config'].get('farm_file', ''))}</code></p></section>
<section id="devices-section"><h2>Devices</h2>{_devices_table(jobs)}</section>
<section id="gate"><h2>Regression gate</h2>{_gate_section(gate)}</section>
<section id="jobs-section"><h2>Jobs</h2>{_jobs_table(jobs, base_dir)}</section>
<section id="latency"><h2>Latency distribution per model and device</h2>{_latency_section(jobs)}</section>
<section id="energy"><h2>Energy per inference</h2>{_energy_section(jobs)}</section>
<section id="history"><h2>History across runs</h2>{_history_section(store, jobs)}</section>
</body></html>
"""
