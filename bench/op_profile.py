"""Where PocketTorch's time goes, per operator, for each zoo model: the C runner's `--profile` over the same
.ptm files compare.py measures, written as the `op-profile-<isa>` section of bench/RESULTS.md.

    python bench/op_profile.py [--models mobilenet_v2 resnet18] [--threads 1 2] [--iters 50] [--workdir bench/.work]

Per-instruction timing costs two clock reads an instruction, so the totals run a little above compare.py's.
Read it beside compare.py's section of the same ISA: the ops with the largest share are where a gap comes from.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import peers  # noqa: E402
import results_md  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
MODELS = ["mobilenet_v2", "resnet18", "transformer_encoder", "mlp", "lstm"]


def profile(runner: str, ptm: pathlib.Path, threads: int, iters: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "run.json"
        subprocess.run([runner, str(ptm), "--threads", str(threads), "--iters", str(iters), "--warmup", "5",
                        "--profile", "--json", str(out)], check=True, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


def table(model: str, threads: int, run: dict) -> list[str]:
    iters = run["iters"]
    lines = [f"#### {model}, {threads} thread(s): median {run['latency_ms']['median']:.3f} ms", "",
             "| op | instructions | ms per run | share |", "|---|---|---|---|"]
    for op in run["ops"]:
        lines.append(f"| {op['op']} | {op['calls'] // iters} | {op['total_ms'] / iters:.3f} | {op['share']:.1%} |")
    return lines + [""]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--workdir", type=pathlib.Path, default=common.DEFAULT_WORKDIR)
    ap.add_argument("--results", default=str(HERE / "RESULTS.md"), help="markdown report ('' for none)")
    args = ap.parse_args(argv)
    from pockettorch.runtime.build import build_runner

    runner = build_runner()
    isa = os.environ.get("PKT_MAX_ISA")
    runs = {}
    for model in args.models:
        ptm = peers.artifact_path(args.workdir, model, "pockettorch")
        if not ptm.exists():
            ap.error(f"{ptm} is missing: run compare.py (or measure_one.py --export) for {model} first")
        for threads in args.threads:
            runs[model, threads] = profile(runner, ptm, threads, args.iters)
    session_isa = next(iter(runs.values())).get("isa", isa or "best")
    machine = common.machine_info()
    lines = [f"## Per-operator profile, PocketTorch on {session_isa}" + (f" (PKT_MAX_ISA={isa})" if isa else ""), "",
             f"`python bench/op_profile.py` ({args.iters} timed runs, `pkt_runner --profile`); machine: "
             f"{machine['cpu']} ({', '.join(machine['isa'])}).", ""]
    for (model, threads), run in runs.items():
        lines += table(model, threads, run)
    text = "\n".join(lines)
    print(text)
    if args.results:
        key = f"op-profile-{session_isa}" + ("-capped" if isa else "")
        results_md.write_section(pathlib.Path(args.results), key, text)
        print(f"wrote section {key} of {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
