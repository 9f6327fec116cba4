"""Benchmark PocketTorch against its peers on the zoo models (and bench/models.py's), interleaved, in one run.

    python bench/compare.py [--models mlp resnet18 ...] [--threads 1 2] [--iters 50] [--json out.json]
    python bench/compare.py --onnx model.onnx [...]   # PocketTorch (importing the file) vs ONNX Runtime on it
    python bench/compare.py --models bert_base bert_base_seq32 --section compare-bert

For every model: export it once per runtime (each export in its own subprocess), then for every thread count
start one fresh `measure_one.py --serve` process per runtime (load time, file size and peak RSS come from it),
warm them all up, and time them in rounds: each round runs --chunk iterations of every runtime, in an order that
rotates from round to round, until each has --iters samples. Drift of the machine therefore hits all alike.
PocketTorch's own C runner (pkt_runner, when runtime/build.py can build it) joins the rounds as one subprocess
per round; its timing is in-process C timing (no Python in the loop).

With --onnx, the models are ONNX files instead of zoo models (bench/onnx_input.py): PocketTorch imports each file,
ONNX Runtime runs the same file, and max |output - reference| is against ONNX Runtime without graph optimizations.
A runtime that is not installed or fails on a model is reported as missing/failed with the reason.
The results go to the console, to the section of bench/RESULTS.md for the ISA PocketTorch ran with (--results;
bench/results_md.py) and optionally to --json.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import pathlib
import re
import select
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import models  # noqa: E402
import results_md  # noqa: E402
import peers  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
MEASURE_ONE = str(HERE / "measure_one.py")
RUNNER = "pkt_runner"  # the column of PocketTorch's C runner binary
PEERS = [p for p in peers.ORDER if p not in peers.OWN]
DYNAMIC = "pockettorch_dynamic"  # only on models with dynamic dims (bench/models.py); compared with `pockettorch`
LABELS = {name: peers.adapter(name).LABEL for name in peers.ORDER} | {RUNNER: "PocketTorch C runner"}
MODELS = ["mobilenet_v2", "resnet18", "transformer_encoder", "mlp", "lstm"]
# `--models bert_base bert_base_seq32 --section compare-bert`: the BERT-base encoder against the peers at seq 128,
# and the program exported with seq dynamic (1..128) beside the ones exported for 128 and for 32.


class Failed(Exception):
    """A runtime failed on a model (or is missing); .result is what the tables report."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.result = {"status": status, "reason": reason}


def log_tail(path: pathlib.Path, lines: int = 3) -> str:
    try:
        text = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return " | ".join(text[-lines:])[-600:]


class Worker:
    """One `measure_one.py --serve` process: loads the artifact, then runs what it is told, one JSON line each."""

    def __init__(self, runtime: str, model: str, threads: int, workdir: pathlib.Path, timeout: float):
        self.runtime, self.timeout = runtime, timeout
        self.log = workdir / model / f"{runtime}-t{threads}.log"
        cmd = [sys.executable, MEASURE_ONE, "--runtime", runtime, "--model", model, "--threads", str(threads),
               "--workdir", str(workdir), "--serve"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     stderr=open(self.log, "w"))
        self.info = self._reply()
        self.last_cpu_s = None
        self.idle_cpu_s = 0.0
        self.settle_s = 0.0  # waited after its runs for its threads to go idle

    def _reply(self) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        line = self.proc.stdout.readline() if ready else None
        if line is None:
            self.close()
            raise Failed("failed", f"{self.runtime}: no answer within {self.timeout:.0f} s (timed out)")
        if not line:
            code = self.proc.wait()
            raise Failed("failed", f"{self.runtime}: worker exited with status {code}: {log_tail(self.log)}")
        reply = json.loads(line)
        if reply.get("status") in ("failed", "missing"):
            self.close()
            raise Failed(reply["status"], reply["reason"])
        return reply

    def ask(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        reply = self._reply()
        if "cpu_s" in reply:  # CPU this process burnt while others were timed (spinning thread pools)
            if self.last_cpu_s is not None and command.startswith("run"):
                self.idle_cpu_s += reply.get("cpu_before_s", self.last_cpu_s) - self.last_cpu_s
            self.last_cpu_s = reply["cpu_s"]
        return reply

    def run(self, n: int, rewarm: int) -> list[float]:
        samples = self.ask(f"run {n} {rewarm}")["samples_ms"]
        self.settle_s += common.wait_until_idle(self.proc.pid)  # its spinning pool must not slow the next one
        self.ask("warmup 0")  # CPU burnt from here on is burnt while others are timed
        return samples

    def quit(self) -> int:
        peak = self.ask("quit")["peak_rss_kb"]
        self.proc.wait(timeout=self.timeout)
        return peak

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class RunnerColumn:
    """PocketTorch's C runner: one `pkt_runner` process per round; it reports its own in-process statistics."""

    def __init__(self, binary: str, ptm: pathlib.Path, inputs: list[pathlib.Path], threads: int, warmup: int,
                 timeout: float):
        self.runtime, self.timeout = RUNNER, timeout
        self.cmd = [binary, str(ptm), "--threads", str(threads), "--input", *map(str, inputs)]
        self.warmup = warmup
        first = self._invoke(1)
        # as long a warm-up as the Python workers get (common.WARMUP_S), in runs of the first one's length
        per_run_s = max(first["latency_ms"]["median"], 1e-3) / 1e3
        self.warmup = max(warmup, min(100000, math.ceil(common.WARMUP_S / per_run_s)))
        self.info = {"status": "ok", "load_ms": first.get("load_ms"), "first_inference_ms":
                     first.get("first_inference_ms"), "file_bytes": ptm.stat().st_size,
                     "notes": f"pkt_runner --threads {threads}, C timing"}
        self.peak_rss_kb = first.get("peak_rss_kb", 0)
        self.rounds: list[dict] = []
        self.idle_cpu_s = self.settle_s = 0.0  # one process per round: nothing left running between them

    def _invoke(self, n: int) -> dict:
        try:
            p = subprocess.run(self.cmd + ["--warmup", str(self.warmup), "--iters", str(n)], capture_output=True,
                               text=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise Failed("failed", f"{RUNNER}: timed out after {self.timeout:.0f} s") from None
        if p.returncode != 0:
            raise Failed("failed", f"{RUNNER}: exit {p.returncode}: {p.stderr.strip()[-400:]}")
        return json.loads(p.stdout)

    def run(self, n: int, rewarm: int) -> list[float]:
        r = self._invoke(n)  # pkt_runner does its own --warmup runs in every invocation
        self.peak_rss_kb = max(self.peak_rss_kb, r.get("peak_rss_kb", 0))
        self.rounds.append(r["latency_ms"])
        return []

    def quit(self) -> int:
        return self.peak_rss_kb

    def close(self) -> None:
        pass


def find_runner(workdir: pathlib.Path) -> tuple[str | None, str]:
    """(path of pkt_runner, note). Uses runtime/build.py's build_runner if this tree has it."""
    try:
        from pockettorch.runtime.build import build_runner
    except ImportError as exc:
        return None, f"skipped: pockettorch.runtime.build is not importable in this tree ({exc})"
    try:
        return build_runner(), "built with pockettorch.runtime.build.build_runner()"
    except Exception as exc:  # noqa: BLE001
        return None, f"skipped: build_runner() failed: {type(exc).__name__}: {str(exc)[:300]}"


def export_all(model: str, runtimes: list[str], workdir: pathlib.Path, timeout: float, reuse: bool,
               onnx_file: str | None = None) -> dict:
    results = {}
    for rt in runtimes:
        path = peers.artifact_path(workdir, model, rt)
        if reuse and path.exists():
            results[rt] = {"status": "ok", "file_bytes": path.stat().st_size, "reused": True}
            continue
        path.unlink(missing_ok=True)
        log = workdir / model / f"{rt}-export.log"
        cmd = [sys.executable, MEASURE_ONE, "--runtime", rt, "--model", model, "--workdir", str(workdir), "--export"]
        cmd += ["--onnx", onnx_file] if onnx_file else []
        print(f"  export {model} for {rt} ...", end="", flush=True, file=sys.stderr)
        try:
            with open(log, "w") as err:
                p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True, timeout=timeout)
            lines = p.stdout.strip().splitlines()
            res = json.loads(lines[-1]) if lines else {
                "status": "failed", "reason": f"{rt}: export exited with status {p.returncode}: {log_tail(log)}"}
        except subprocess.TimeoutExpired:
            res = {"status": "failed", "reason": f"{rt}: export timed out after {timeout:.0f} s"}
        print(f" {res['status']}" + (f" in {res['export_s']:.1f} s" if "export_s" in res else ""), file=sys.stderr)
        results[rt] = res
    return results


def measure_cell(model: str, threads: int, runtimes: list[str], exports: dict, runner_bin: str | None,
                 args) -> dict:
    """Time all runtimes that exported, on one model x thread count, interleaved in rotating rounds."""
    workdir = pathlib.Path(args.workdir)
    results: dict[str, dict] = {}
    columns = []
    for rt in runtimes + ([RUNNER] if runner_bin else []):
        source = "pockettorch" if rt == RUNNER else rt
        if exports.get(source, {}).get("status") != "ok":
            results[rt] = dict(exports.get(source) or {"status": "failed", "reason": "not exported"})
            continue
        try:  # start (and so load) one at a time: load times are not disturbed by another load
            if rt == RUNNER:
                inputs = sorted((workdir / model).glob("inputs_*.npy"), key=lambda p: int(p.stem.split("_")[1]))
                col = RunnerColumn(runner_bin, peers.artifact_path(workdir, model, "pockettorch"), inputs, threads,
                                   args.warmup, args.timeout)
            else:
                col = Worker(rt, model, threads, workdir, args.timeout)
            columns.append(col)
            results[rt] = dict(col.info, samples_ms=[])
        except Failed as exc:
            results[rt] = exc.result
    load_before, other = os.getloadavg(), common.OtherLoad()
    try:
        for col in [c for c in columns if isinstance(c, Worker)]:
            col.ask(f"warmup {args.warmup}")
        rounds = math.ceil(args.iters / args.chunk)
        for r in range(rounds):
            n = min(args.chunk, args.iters - r * args.chunk)
            order = columns[r % len(columns):] + columns[:r % len(columns)] if columns else []
            for col in list(order):
                try:
                    results[col.runtime]["samples_ms"] += col.run(n, args.rewarm)
                except Failed as exc:
                    results[col.runtime] = exc.result
                    col.close()
                    columns.remove(col)
        for col in columns:
            try:
                results[col.runtime]["peak_rss_kb"] = col.quit()
                results[col.runtime]["idle_cpu_s"] = col.idle_cpu_s
                results[col.runtime]["settle_s"] = col.settle_s
            except Failed as exc:
                results[col.runtime] = exc.result
    finally:
        for col in columns:
            col.close()
    from pockettorch.runtime.stats import latency_stats

    for col in columns:
        res = results[col.runtime]
        if res.get("status") != "ok":
            continue
        if isinstance(col, RunnerColumn):
            res["latency_ms"] = {"median": _median([x["median"] for x in col.rounds]),
                                 "p90": _median([x["p90"] for x in col.rounds]), "rounds": col.rounds}
        else:
            res["latency_ms"] = latency_stats(res["samples_ms"])
    return {"results": results, "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
            "other_load_cores": other.cores()}


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def package_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for p in ("torch", "numpy", "onnxruntime", "onnx", "onnxscript", "executorch", "litert-torch", "ai-edge-litert"):
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = "not installed"
    return out


# ---- report ----
def _fmt_ms(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.1f}" if x < 1000 else f"{x:.0f}"


def _cell(res: dict | None, notes: dict) -> str:
    if res is None:
        return "-"
    if res.get("status") != "ok":
        key = res["reason"]
        notes.setdefault(key, (len(notes) + 1, res["status"]))
        return f"{res['status']} [{notes[key][0]}]"
    lat = res["latency_ms"]
    return f"{_fmt_ms(lat['median'])} / {_fmt_ms(lat['p90'])}"


def _dynamic_ratio(res: dict) -> str:
    """The dynamic program's median over the fixed-shape one's, timed in the same rounds ('-' where not run)."""
    dyn, fixed = res.get(DYNAMIC), res.get("pockettorch")
    if dyn is None:
        return "-"
    if dyn.get("status") != "ok" or (fixed or {}).get("status") != "ok":
        return "n/a"
    return f"{dyn['latency_ms']['median'] / fixed['latency_ms']['median']:.2f}x"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _fmt_sqnr(x) -> str:
    return "-" if x is None else "exact" if x == float("inf") else f"{x:.1f}"


def quantized_vs_float(run: dict) -> list[str]:
    """Per quantized row (`<model>@<scheme>`) whose float model ran in the same run: each runtime's quantized
    median and file over its own float ones (below 1.0x: faster, smaller)."""
    import quant_variants

    cells = {(c["model"], c["threads"]): c["results"] for c in run["cells"]}
    rows = []
    for (model, threads), res in cells.items():
        base, scheme = quant_variants.split(model)
        floats = cells.get((base, threads))
        if not scheme or floats is None:
            continue
        for c in run["columns"]:
            q, f = res.get(c, {}), floats.get(c, {})
            if q.get("status") == f.get("status") == "ok":
                rows.append([base, scheme, str(threads), LABELS[c],
                             f"{f['latency_ms']['median'] / q['latency_ms']['median']:.2f}x",
                             f"{q['file_bytes'] / f['file_bytes']:.3f}x", _fmt_sqnr(q.get("sqnr_db"))])
    if not rows:
        return []
    return ["", "### Quantized against float, same runtime, same run (speed-up = float median / quantized median: "
                "above 1.0x the quantized program is faster; file = quantized size / float size)", "",
            _table(["model", "scheme", "threads", "runtime", "speed-up", "file", "SQNR dB vs fp32 eager"], rows)]


def report(run: dict) -> str:
    notes: dict[str, tuple[int, str]] = {}
    cols = [c for c in run["columns"]]
    pk = run["peak"]
    out = [f"Peak of one core (practical FMA peak: best single-threaded {pk['n']}x{pk['n']} fp32 torch.matmul "
           f"over {pk['seconds']:.0f} s, measured before and after the run: {pk['before_gflops']:.1f} and "
           f"{pk['after_gflops']:.1f}): **{pk['gflops']:.1f} GFLOP/s**", ""]

    out.append("### Latency, ms: median / p90 (ratio = PocketTorch median / best peer median; peers: "
               + ", ".join(LABELS[p] for p in PEERS if p in cols) + ")")
    out.append("")
    rows = []
    for cell in run["cells"]:
        res = cell["results"]
        ok = {p: res[p]["latency_ms"]["median"] for p in PEERS if res.get(p, {}).get("status") == "ok"}
        best = min(ok, key=ok.get) if ok else None
        other = cell.get("other_load_cores")
        row = [cell["model"], str(cell["threads"]), "?" if other is None else f"{other:.2f}"]
        row += [_cell(res.get(c), notes) for c in cols]
        row.append(LABELS[best] if best else "none")
        for mine in ("pockettorch", RUNNER):
            if mine in cols:
                r = res.get(mine, {})
                row.append(f"{r['latency_ms']['median'] / ok[best]:.2f}x" if best and r.get("status") == "ok"
                           else "n/a")
        if DYNAMIC in cols:
            row.append(_dynamic_ratio(res))
        rows.append(row)
    ratio_cols = ["PocketTorch / best"] + (["C runner / best"] if RUNNER in cols else [])
    ratio_cols += ["dynamic / fixed"] if DYNAMIC in cols else []
    out.append(_table(["model", "threads", "other load"] + [LABELS[c] for c in cols] + ["best peer"] + ratio_cols,
                      rows))
    out += ["", "(other load: cores kept busy by processes outside this benchmark while the row was timed; "
                f"the machine has {run['machine']['cores']})"]

    out += ["", f"### Achieved GFLOP/s (% of threads x one-core peak {run['peak']['gflops']:.1f} GFLOP/s)", ""]
    rows = []
    for cell in run["cells"]:
        flops = run["flops"][cell["model"]]
        row = [cell["model"], str(cell["threads"]), f"{flops / 1e9:.4g}"]
        for c in cols:
            r = cell["results"].get(c, {})
            if r.get("status") == "ok":
                g = flops / (r["latency_ms"]["median"] * 1e-3) / 1e9
                row.append(f"{g:.2f} ({100 * g / (cell['threads'] * run['peak']['gflops']):.0f}%)")
            else:
                row.append("-")
        rows.append(row)
    out.append(_table(["model", "threads", "GFLOP"] + [LABELS[c] for c in cols], rows))

    out += ["", "### Load time, file size, peak RSS (each in a fresh process; first thread count), "
                "max |output - eager|", ""]
    rows = []
    first_threads = run["args"]["threads"][0]
    for cell in [c for c in run["cells"] if c["threads"] == first_threads]:
        for c in cols:
            r = cell["results"].get(c, {})
            if r.get("status") != "ok":
                rows.append([cell["model"], LABELS[c], _cell(r, notes), "", "", "", "", "", "", ""])
                continue
            rss = r.get("peak_rss_kb", 0) / 1024
            base = r.get("rss_before_load_kb")
            err = r.get("max_abs_err")
            export_s = run["exports"][cell["model"]].get("pockettorch" if c == RUNNER else c, {}).get("export_s")
            rows.append([cell["model"], LABELS[c], f"{export_s:.1f}" if export_s else "-",
                         f"{r['file_bytes'] / 2**20:.2f}", f"{r['load_ms']:.2f}",
                         f"{r['first_inference_ms']:.2f}", f"{rss:.0f}",
                         f"{rss - base / 1024:.0f}" if base else "-",
                         f"{err:.2e}" if isinstance(err, float) else str(err or "-"), _fmt_sqnr(r.get("sqnr_db"))])
    out.append(_table(["model", "runtime", "export s", "file MiB", "load ms", "first run ms", "peak RSS MiB",
                       "RSS over imports MiB", "max abs err", "SQNR dB vs eager"], rows))
    out += quantized_vs_float(run)

    if notes:
        out += ["", "### Missing and failed", ""]
        out += [f"{n}. {status}: {reason}" for reason, (n, status) in sorted(notes.items(), key=lambda kv: kv[1][0])]
    out += ["", "### Settings per runtime", ""]
    seen = {}
    for cell in run["cells"]:
        for c, r in cell["results"].items():
            if r.get("status") == "ok" and r.get("notes"):
                seen.setdefault(c, set()).add(r["notes"])
    out += [f"- {LABELS[c]}: " + "; ".join(sorted(v)) for c, v in seen.items()]
    if run.get("runner_note"):
        out.append(f"- PocketTorch C runner: {run['runner_note']}")
    spin = [(cell["model"], cell["threads"], c, r["idle_cpu_s"]) for cell in run["cells"]
            for c, r in cell["results"].items() if r.get("idle_cpu_s", 0) > 0.05]
    if spin:
        out.append("- CPU burnt by idle workers while others were timed (spinning thread pools): "
                   + ", ".join(f"{LABELS[c]} {m} t{t}: {s:.2f} s" for m, t, c, s in spin))
    settle = [(cell["model"], cell["threads"], c, r["settle_s"]) for cell in run["cells"]
              for c, r in cell["results"].items() if r.get("settle_s", 0) > 0.05]
    if settle:
        out.append("- Waited after a runtime's rounds for its threads to stop spinning before timing the next one: "
                   + ", ".join(f"{LABELS[c]} {m} t{t}: {s:.2f} s" for m, t, c, s in settle))
    return "\n".join(out)


def session_isa(run: dict) -> str:
    """The ISA PocketTorch's sessions ran with (from its workers' notes), e.g. avx2; 'unknown' if none ran."""
    for cell in run["cells"]:
        found = re.search(r"isa=(\w+)", cell["results"].get("pockettorch", {}).get("notes") or "")
        if found:
            return found.group(1)
    return "unknown"


def write_results_md(path: pathlib.Path, run: dict, text: str, section: str = "compare") -> str:
    """Write this run as the RESULTS.md section `<section>-<isa>` (other sections stay); returns the key."""
    m = run["machine"]
    isa = session_isa(run)
    cap = os.environ.get("PKT_MAX_ISA")
    import quant_variants

    described = [f"- {name}: {models.BENCH[name].description}" for name in run["args"]["models"] if name in models.BENCH]
    schemes = {quant_variants.split(name)[1] for name in run["args"]["models"]} - {None}
    described += [f"- `@{s}` rows: {quant_variants.SCHEMES[s]}" for s in sorted(schemes)]
    if DYNAMIC in run["columns"]:
        described.append(f"- {LABELS[DYNAMIC]}: one program exported with the sequence length dynamic "
                         f"(1..{models.SEQ_BOUND}), timed in the same rounds as the `PocketTorch` column's program, "
                         f"exported for exactly the row's length; `dynamic / fixed` is the ratio of their medians")
    loads = [c["loadavg_before"][0] for c in run["cells"]] + [c["loadavg_after"][0] for c in run["cells"]]
    head = [
        f"## Same-run comparison, PocketTorch on {isa}" + (f" (capped: PKT_MAX_ISA={cap})" if cap else ""), "",
        "Written by `bench/compare.py`. Numbers from one shared machine: compare ratios within this section.", "",
        f"- command: `{run['command']}`",
        f"- date: {run['date']}",
        f"- machine: {m['cpu']}, {m['cores']} cores ({', '.join(m['isa'])}), {m['os']}, Python {m['python']}",
        f"- PocketTorch kernels: {isa}" + (f" (PKT_MAX_ISA={cap})" if cap else " (the best this CPU has)"),
        f"- 1-minute load average during the cells: {min(loads, default=0):.2f} .. {max(loads, default=0):.2f}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in run["versions"].items()),
        f"- iterations: {run['args']['iters']} timed per runtime after {run['args']['warmup']} warm-up runs (and at least "
        f"{common.WARMUP_S} s), in rounds of {run['args']['chunk']} with rotating order, {run['args']['rewarm']} untimed "
        f"runs (and at least {common.REWARM_S * 1e3:.0f} ms) opening each round", *described, "", "",
    ]
    key = f"{section}-{isa}" + ("-capped" if cap else "")
    results_md.write_section(path, key, "\n".join(head) + text)
    return key


def _section_name(value: str) -> str:
    results_md._markers(value)  # lower-case letters, digits, '-' and '_'
    return value


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=MODELS, metavar="MODEL")
    ap.add_argument("--onnx", nargs="+", metavar="FILE", help="benchmark these ONNX files instead of zoo models "
                                                             "(PocketTorch imports them; ONNX Runtime runs them)")
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--runtimes", nargs="+", default=peers.ORDER, choices=peers.ORDER)
    ap.add_argument("--iters", type=int, default=50, help="timed runs per runtime (default 50)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--chunk", type=int, default=10, help="timed runs per runtime per round (default 10)")
    ap.add_argument("--rewarm", type=int, default=2,
                    help="untimed runs at the start of each round, after the other runtimes ran (default 2)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds for one export or one worker answer")
    ap.add_argument("--workdir", default=str(common.DEFAULT_WORKDIR))
    ap.add_argument("--reuse-artifacts", action="store_true", help="keep artifacts already in --workdir")
    ap.add_argument("--export-only", action="store_true",
                    help="only write the artifacts into --workdir (time them later, on a quiet machine, with "
                         "--reuse-artifacts)")
    ap.add_argument("--no-runner", action="store_true", help="leave out PocketTorch's C runner column")
    ap.add_argument("--json", help="also write all results (samples included) as JSON")
    ap.add_argument("--results", default=str(HERE / "RESULTS.md"), help="markdown report ('' for none)")
    ap.add_argument("--section", default="compare", type=_section_name,
                    help="RESULTS.md section: <section>-<isa> (default compare; e.g. compare-bert for the BERT rows)")
    args = ap.parse_args(argv)
    if args.iters < 1 or args.chunk < 1 or min(args.threads) < 1:
        ap.error("--iters, --chunk and --threads must be >= 1")
    unknown = [m for m in args.models if not models.known(m)]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(models.names())}")
    workdir = pathlib.Path(args.workdir).resolve()
    args.workdir = str(workdir)
    onnx_files: dict[str, str] = {}  # model name -> ONNX file
    if args.onnx:
        import onnx_input

        missing = [f for f in args.onnx if not os.path.isfile(f)]
        if missing:
            ap.error(f"no such ONNX file(s): {', '.join(missing)}")
        args.runtimes = [r for r in args.runtimes if r in onnx_input.RUNTIMES]
        onnx_files = {onnx_input.model_name(f): os.path.abspath(f) for f in args.onnx}
        args.models = list(onnx_files)

    runner_bin, runner_note = (None, "left out (--no-runner)") if args.no_runner or "pockettorch" not in \
        args.runtimes else find_runner(workdir)
    print(f"PocketTorch C runner: {runner_note}", file=sys.stderr)
    print("measuring the one-core peak ...", file=sys.stderr)
    peak = {"n": 1024, "seconds": 2.0}
    peak["before_gflops"] = common.measure_peak_gflops(peak["n"], peak["seconds"])
    run = {"command": "python bench/compare.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
           "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
           "machine": common.machine_info(), "versions": package_versions(), "peak": peak,
           "args": vars(args), "runner_note": runner_note, "flops": {}, "exports": {}, "cells": [],
           "columns": [r for r in peers.ORDER if r in args.runtimes and (
               r != DYNAMIC or any(models.dynamic_shapes(m) for m in args.models))] + ([RUNNER] if runner_bin else [])}
    for model in args.models:
        runtimes = [r for r in peers.ORDER if r in args.runtimes and (r != DYNAMIC or models.dynamic_shapes(model))]
        print(f"{model}:", file=sys.stderr)
        if model in onnx_files:
            onnx_input.ensure_inputs(onnx_files[model], workdir)
            run["flops"][model] = onnx_input.count_flops(onnx_files[model])
        else:
            common.ensure_inputs(model, workdir)
            run["flops"][model] = common.count_flops(model)
        exports = run["exports"][model] = export_all(model, runtimes, workdir, args.timeout, args.reuse_artifacts,
                                                     onnx_files.get(model))
        if args.export_only:
            continue
        for threads in args.threads:
            print(f"  timing {model} with {threads} thread(s) ...", file=sys.stderr)
            cell = measure_cell(model, threads, runtimes, exports, runner_bin, args)
            run["cells"].append({"model": model, "threads": threads, **cell})
    if args.export_only:
        print(json.dumps(run["exports"], indent=1))
        return 0 if all(r["status"] == "ok" for e in run["exports"].values() for r in e.values()) else 1
    print("measuring the one-core peak again ...", file=sys.stderr)
    peak["after_gflops"] = common.measure_peak_gflops(peak["n"], peak["seconds"])
    peak["gflops"] = max(peak["before_gflops"], peak["after_gflops"])
    text = report(run)
    print(text)
    if args.results:
        key = write_results_md(pathlib.Path(args.results), run, text, args.section)
        print(f"\nwrote section {key} of {args.results}", file=sys.stderr)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(run, indent=1) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
