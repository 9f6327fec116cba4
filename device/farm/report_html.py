"""A self-contained HTML report of one farm run: summary, the regression gate's verdict, every job, latency
distributions per model x device, energy per inference, and each job's median latency across runs.
Plots are inline SVG; the page loads nothing from anywhere."""
from __future__ import annotations

import datetime
import html
import xml.etree.ElementTree as ET

from pockettorch.device.farm import plots
from pockettorch.device.farm.gate import RULE, GateResult, mad
from pockettorch.device.farm.store import ResultStore

HISTORY_LIMIT = 24  # jobs whose history is drawn; a big farm would otherwise make a huge page

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
table { border-collapse: collapse; margin: 8px 0 20px; } th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
th { background: #f2f2f2; } #jobs td:first-child { word-break: break-all; min-width: 18em; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.passed { color: #1d7a33; } .failed, .lost, .FAIL { color: #b3261e; font-weight: bold; } .not_run { color: #8a6d00; }
.PASS { color: #1d7a33; font-weight: bold; } svg { display: block; margin: 6px 0 14px; }
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


def _jobs_table(jobs: list[dict]) -> str:
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
            f'<td>{_esc((j.get("error") or "")[:300])}</td><td>{_esc(j.get("trace") or "")}</td></tr>')
    return f'<table id="jobs">{head}{"".join(rows)}</table>'


def _latency_section(jobs: list[dict]) -> str:
    groups: dict[tuple[str, str], list[dict]] = {}
    for j in jobs:
        groups.setdefault((j["model"], j["device"].get("id") or j["device"]["serial"]), []).append(j)
    return "".join(_svg(plots.latency_plot(f"{model} on {device}", [(_label(j), j.get("samples_ms") or []) for j in js],
                                           **{"class": "latency-plot", "data-model": model, "data-device": device}))
                   for (model, device), js in groups.items())


def _energy_section(jobs: list[dict]) -> str:
    bars = [(j["key"].replace("#", " "), j["energy_mj"]) for j in jobs if j.get("energy_mj") is not None]
    note = "" if bars else "<p>No job measured power (set <code>power: true</code> in a config).</p>"
    return note + _svg(plots.bar_plot("Energy per inference", bars, "mJ per inference", **{"class": "energy-plot"}))


def _history_section(store: ResultStore, jobs: list[dict]) -> str:
    parts = []
    for j in jobs[:HISTORY_LIMIT]:
        points = store.history(j["key"], "median_ms")
        parts.append(_svg(plots.line_plot(f"median latency of {j['key']} across runs", points, "ms",
                                          **{"class": "history-plot", "data-key": j["key"]})))
    more = f"<p>{len(jobs) - HISTORY_LIMIT} more job(s) not drawn.</p>" if len(jobs) > HISTORY_LIMIT else ""
    return "".join(parts) + more


def render(store: ResultStore, run_id: str, gate: GateResult | None = None) -> str:
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
<section id="gate"><h2>Regression gate</h2>{_gate_section(gate)}</section>
<section id="jobs-section"><h2>Jobs</h2>{_jobs_table(jobs)}</section>
<section id="latency"><h2>Latency distribution per model and device</h2>{_latency_section(jobs)}</section>
<section id="energy"><h2>Energy per inference</h2>{_energy_section(jobs)}</section>
<section id="history"><h2>History across runs</h2>{_history_section(store, jobs)}</section>
</body></html>
"""
