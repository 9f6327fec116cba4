"""arm64 instruction-count proxy: no arm64 hardware here, so instead of timings, two figures that predict them.

    python bench/arm64_proxy.py [--models mobilenet_v2 lstm] [--full] [--top 8] [--markdown out.md] [--results bench/RESULTS.md]

This is a PROXY, not a measurement on an arm64 CPU: it counts instructions, it does not time them, so it is
blind to latency chains, cache misses and issue width. What it shows:

1. Static mix: the innermost loops of every NEON function (name containing `neon`) in the aarch64 disassembly
   and of every AVX2 function (`avx2`) in the x86-64 one, and the share of each loop body that is vector
   FMA / dot-product instructions. Loops are found as backward branches inside a function (target <= branch);
   the innermost are those containing no other. A body is its address range (forward branches inside it are
   not followed).
2. Executed instructions of each zoo model, one thread, counted over `--runs` runs after one untimed run
   (bench/proxy_driver.c, the runtime's sources built with `zig cc -O3 -ffunction-sections` as cross.py does):
   - arm64: `qemu-aarch64-static -d in_asm,exec,nochain`. Without chaining qemu logs every translation block
     (TB) it executes; in_asm gives each TB's instructions, so count = sum over executed TBs of their length,
     and the FMA share comes from their mnemonics. Counted between the driver's proxy_begin/proxy_end.
   - x86-64 AVX2 (`PKT_MAX_ISA=avx2`): `valgrind --tool=callgrind --toggle-collect=proxy_measured` with
     per-instruction counts, mnemonics from objdump.
   Both methods are checked against a hand-written loop of known length in tests/bench/test_arm64_proxy.py.
   FLOPs are bench/common.py's (2 per multiply-add of matmuls and convolutions) on the same inputs.

Full-size mobilenet_v2/resnet18 take minutes under `qemu -d exec`, so by default the image models run on
112x112 inputs and the transformer on 32 tokens (`--full` uses the zoo's shapes); the table says which.
Needs `ziglang` (pip), qemu-user-static, binutils-aarch64-linux-gnu (objdump) and valgrind (`make install`).
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import results_md  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
DRIVER = HERE / "proxy_driver.c"
MODELS = ["mobilenet_v2", "resnet18", "transformer_encoder", "mlp", "lstm"]  # compare.py's
SMALL_SHAPES = {"mobilenet_v2": ((1, 3, 112, 112),), "resnet18": ((1, 3, 112, 112),),
                "transformer_encoder": ((1, 32, 256),)}


@dataclasses.dataclass(frozen=True)
class Arch:
    name: str
    zig_target: str
    objdump: str
    branch: re.Pattern  # mnemonics of (conditional) direct branches
    vector_fma: re.Pattern  # vector FMA / dot product, matched against "mnemonic operands"
    scalar_fma: re.Pattern


ARM64 = Arch("arm64", "aarch64-linux-musl", "aarch64-linux-gnu-objdump",
             re.compile(r"^(b|b\.\w+|cbn?z|tbn?z)$"),
             re.compile(r"^(fmla|fmls|sdot|udot|usdot|sudot|bfdot|bfmmla|smmla|ummla|fmlal2?|fmlsl2?)\s+v\d"),
             re.compile(r"^(fn?madd|fn?msub|fmla|fmls)\s+[sdh]\d"))
X86_64 = Arch("x86_64", "x86_64-linux-musl", "objdump",
              re.compile(r"^j[a-z]+$"),
              re.compile(r"^vf(n)?m(add|sub)(sub|add)?\d{3}p[sd]\s"),
              re.compile(r"^vf(n)?m(add|sub)\d{3}s[sd]\s"))


def tool_problems(need_x86: bool = True) -> list[str]:
    """What is missing to run the proxy (empty when all is there)."""
    from pockettorch.runtime import cross

    missing = [] if cross.have_ziglang() else [f"ziglang (pip install '{cross.ZIGLANG_PIN}')"]
    for tool, pkg in (("qemu-aarch64-static", "qemu-user-static"), (ARM64.objdump, "binutils-aarch64-linux-gnu"),
                      *((("valgrind", "valgrind"), ("objdump", "binutils")) if need_x86 else ())):
        if not shutil.which(tool):
            missing.append(f"{tool} (apt-get install {pkg})")
    return missing


# ---- building --------------------------------------------------------------------------------------------

def zig_cc(arch: Arch, args: list[str], out: pathlib.Path) -> None:
    from pockettorch.runtime import build, cross

    cmd = [*cross.zig_command(), "cc", "-target", arch.zig_target, "-mcpu=baseline", *args, "-static", "-o", str(out)]
    proc = subprocess.run(cmd, env=cross.zig_env(build.default_cache_dir().parent), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"zig cc failed:\n{' '.join(cmd)}\n{proc.stderr[-3000:]}")


def build_driver(arch: Arch, cache: pathlib.Path | None = None) -> pathlib.Path:
    """proxy_driver for `arch` (not stripped: the counters find functions by symbol), cached by source hash."""
    from pockettorch.runtime import build, cross, manifest

    srcs, flags = build.direct_build(None)
    args = [*flags, "-ffunction-sections", str(DRIVER), *srcs, *(f"-l{lib}" for lib in manifest.LINK_LIBS)]
    h = hashlib.sha256(repr((args, cross.zig_version())).encode())
    build.hash_sources(h)
    h.update(DRIVER.read_bytes())
    out = (cache or build.default_cache_dir()) / f"proxy-{arch.name}-{h.hexdigest()[:16]}" / "proxy_driver"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        zig_cc(arch, args, tmp)
        os.replace(tmp, out)
    return out


# ---- static mix: innermost loops in the disassembly ---------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Insn:
    addr: int
    text: str  # "mnemonic operands"


_FUNC = re.compile(r"^([0-9a-f]+) <(.+)>:$")
_INSN = re.compile(r"^\s*([0-9a-f]+):\s+(\S.*?)\s*$")
_TARGET = re.compile(r"\b([0-9a-f]+) <")


def disassemble(arch: Arch, binary: pathlib.Path) -> dict[str, list[Insn]]:
    """{function: its instructions} from `objdump -d`."""
    text = subprocess.run([arch.objdump, "-d", "--no-show-raw-insn", str(binary)], capture_output=True, text=True,
                          check=True).stdout
    funcs: dict[str, list[Insn]] = {}
    cur: list[Insn] | None = None
    for line in text.splitlines():
        if m := _FUNC.match(line):
            cur = funcs.setdefault(m.group(2), [])
        elif cur is not None and (m := _INSN.match(line)):
            cur.append(Insn(int(m.group(1), 16), re.sub(r"\s+", " ", m.group(2).split("//")[0].strip())))
    return funcs


def inner_loops(arch: Arch, insns: list[Insn]) -> list[list[Insn]]:
    """Bodies of the innermost loops: [target, branch] of every backward branch that contains no other."""
    if not insns:
        return []
    lo, hi = insns[0].addr, insns[-1].addr
    spans = set()
    for i in insns:
        mnemonic, _, ops = i.text.partition(" ")
        if arch.branch.match(mnemonic) and (m := _TARGET.search(ops)):
            t = int(m.group(1), 16)
            if lo <= t <= i.addr:
                spans.add((t, i.addr))
    inner = [s for s in spans if not any(o != s and s[0] <= o[0] and o[1] <= s[1] for o in spans)]
    return [[i for i in insns if a <= i.addr <= b] for a, b in sorted(inner)]


def fma_count(arch: Arch, texts) -> int:
    return sum(1 for t in texts if arch.vector_fma.match(t))


def loop_mix(arch: Arch, funcs: dict[str, list[Insn]], tag: str, also=()) -> list[dict]:
    """Per function whose name contains `tag` (or is in `also`): its innermost loops as (instructions, vector
    FMAs), hottest (most FMAs) first."""
    rows = []
    for name in sorted(f for f in funcs if tag in f or f in also):
        loops = [(len(b), fma_count(arch, (i.text for i in b))) for b in inner_loops(arch, funcs[name])]
        loops.sort(key=lambda nf: (-nf[1], -nf[0]))
        rows.append({"function": name, "loops": loops})
    return rows


# ---- dynamic counts ---------------------------------------------------------------------------------------

@dataclasses.dataclass
class Profile:
    instructions: int = 0
    vector_fma: int = 0
    scalar_fma: int = 0
    by_function: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    fma_by_function: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    isa: str = ""

    def add(self, arch: Arch, func: str, texts: list[str], times: int) -> None:
        f = fma_count(arch, texts)
        self.instructions += len(texts) * times
        self.vector_fma += f * times
        self.scalar_fma += sum(1 for t in texts if arch.scalar_fma.match(t)) * times
        self.by_function[func] += len(texts) * times
        self.fma_by_function[func] += f * times


def symbol(funcs: dict[str, list[Insn]], name: str) -> int:
    return funcs[name][0].addr


_TB = re.compile(rb"IN: ?([^\n]*)\n((?:0x[0-9a-f]+:[^\n]*\n)+)")
_TB_INSN = re.compile(rb"^0x([0-9a-f]+):\s+[0-9a-f]{8}\s+(\S[^\n]*?)\s*$", re.M)
_TRACE = re.compile(rb"Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")


def count_qemu(binary: pathlib.Path, args: list[str], begin: int, end: int, env: dict | None = None) -> Profile:
    """Instructions qemu executes between the first TB at `begin` and the first at `end` (see the module doc)."""
    tbs: dict[bytes, tuple[str, list[str]]] = {}  # TB start pc (16 hex digits) -> (function, instruction texts)
    counts: collections.Counter = collections.Counter()
    marks = [b"/%016x/" % begin, b"/%016x/" % end]
    state = 0  # 0 before the region, 1 inside, 2 after

    def scan(chunk: bytes) -> None:
        nonlocal state
        for m in _TB.finditer(chunk):
            texts = [re.sub(rb"\s+", b" ", t).decode() for _, t in _TB_INSN.findall(m.group(2))]
            pc = b"%016x" % int(_TB_INSN.search(m.group(2)).group(1), 16)
            tbs[pc] = (m.group(1).decode(errors="replace") or "?", texts)
        while state < 2 and chunk:
            at = chunk.find(marks[state])
            if state == 1:
                counts.update(_TRACE.findall(chunk if at < 0 else chunk[:at]))
            if at < 0:
                return
            state += 1
            chunk = chunk[at + 1:]

    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(["qemu-aarch64-static", "-d", "in_asm,exec,nochain", str(binary), *args],
                                stdout=out, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
        carry = b""
        while data := proc.stderr.read(1 << 24):
            data = carry + data
            cut = data.rfind(b"\nTrace ")  # everything before it is whole lines, TB listings included
            if cut < 0:
                carry = data
                continue
            scan(data[:cut + 1])
            carry = data[cut + 1:]
        scan(carry)
        rc = proc.wait()
        out.seek(0)
        stdout = out.read().decode()
    if rc != 0 or state != 2:
        raise RuntimeError(f"proxy_driver under qemu failed (exit {rc}, markers seen {state}/2): {stdout[-500:]}")
    prof = Profile(isa=stdout.split()[-1])
    for pc, n in counts.items():
        func, texts = tbs[pc]
        prof.add(ARM64, func, texts, n)
    return prof


def count_callgrind(binary: pathlib.Path, args: list[str], funcs: dict[str, list[Insn]],
                    env: dict | None = None) -> Profile:
    """Instructions executed inside proxy_measured (callgrind, per instruction), mnemonics from objdump."""
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "callgrind.out"
        proc = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=yes",
                               "--dump-line=no", "--compress-pos=no", "--compress-strings=no",
                               "--toggle-collect=proxy_measured", str(binary), *args],
                              capture_output=True, text=True, env={**os.environ, **(env or {})})
        if proc.returncode != 0:
            raise RuntimeError(f"proxy_driver under callgrind failed: {proc.stderr[-2000:]}")
        per_addr: collections.Counter = collections.Counter()
        skip = False  # the cost line after calls= is the callee's inclusive cost
        for line in out.read_text().splitlines():
            if line.startswith("calls="):
                skip = True
            elif line.startswith("0x"):
                if not skip:
                    addr, ir = line.split()[:2]
                    per_addr[int(addr, 16)] += int(ir)
                skip = False
    where = {i.addr: (f, i.text) for f, insns in funcs.items() for i in insns}
    prof = Profile(isa=proc.stdout.split()[-1])
    for addr, n in per_addr.items():
        func, text = where.get(addr, ("?", "?"))
        prof.add(X86_64, func, [text], n)
    return prof


# ---- models -----------------------------------------------------------------------------------------------

def export_model(model: str, full: bool, workdir: pathlib.Path) -> tuple[pathlib.Path, tuple, int]:
    """(.ptm path, input shapes, FLOPs of one forward) for a zoo model at the proxy's input size."""
    import torch

    import pockettorch
    from pockettorch.exporter import zoo

    module, inputs, _ = zoo.build(model)
    if not full and model in SMALL_SHAPES:
        g = torch.Generator().manual_seed(0)
        inputs = tuple(torch.randn(s, generator=g) for s in SMALL_SHAPES[model])
    shapes = tuple(tuple(t.shape) for t in inputs)
    path = workdir / f"{model}-{'x'.join(str(d) for d in shapes[0])}.ptm"
    if not path.exists():
        pockettorch.export(module, inputs, name=model).save(path)
    return path, shapes, common.count_flops(model, inputs)


# ---- report -----------------------------------------------------------------------------------------------

def pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f}%" if b else "-"


def mix_table(title: str, rows: list[dict]) -> list[str]:
    out = [f"**{title}** (innermost loops, `instructions/vector FMAs`, most FMAs first)", "",
           "| function | hottest loop: instructions | FMAs | FMA share | other innermost loops |",
           "|---|---|---|---|---|"]
    for r in rows:
        if not r["loops"]:
            out.append(f"| {r['function']} | no loop | | | |")
            continue
        (n, f), rest = r["loops"][0], r["loops"][1:]
        out.append(f"| {r['function']} | {n} | {f} | {pct(f, n)} | {' '.join(f'{a}/{b}' for a, b in rest) or '-'} |")
    return out


def top_functions(prof: Profile, k: int) -> str:
    return ", ".join(f"{f} {pct(n, prof.instructions)} (FMA {pct(prof.fma_by_function[f], n)})"
                     for f, n in prof.by_function.most_common(k))


def previous_run(results: str) -> tuple[dict[tuple[str, str], int], dict[str, str]]:
    """From the arm64-proxy section of the results file (the run this one replaces): {(model, input): arm64
    instructions} and {model: where its arm64 instructions went}, so the new report shows before and after."""
    path = pathlib.Path(results) if results else None
    body = results_md.sections(path.read_text()).get("arm64-proxy", "") if path and path.exists() else ""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in body.splitlines()
            if line.startswith("| ")]
    counts = {}
    if rows and "arm64 instructions" in rows[0]:
        col = rows[0].index("arm64 instructions")
        counts = {(r[0], r[1]): int(r[col].replace(",", "")) for r in rows[1:] if r[col].replace(",", "").isdigit()}
    where = dict(re.findall(r"^- (\S+), arm64 \(\w+\): (.*)$", body, re.M))
    return counts, where


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    ap.add_argument("--full", action="store_true", help="the zoo's full input shapes (slow under qemu -d exec)")
    ap.add_argument("--runs", type=int, default=1, help="measured runs per model (counts are per run)")
    ap.add_argument("--top", type=int, default=6, help="functions listed per model and ISA")
    ap.add_argument("--no-x86", action="store_true", help="skip the AVX2 column (no valgrind)")
    ap.add_argument("--workdir", type=pathlib.Path, default=common.DEFAULT_WORKDIR / "arm64_proxy")
    ap.add_argument("--markdown", type=pathlib.Path, help="also write the report here")
    ap.add_argument("--results", default=str(HERE / "RESULTS.md"),
                    help="write the report as the arm64-proxy section of this file ('' for none)")
    a = ap.parse_args(argv)
    if missing := tool_problems(not a.no_x86):
        print("arm64_proxy: missing " + "; ".join(missing), file=sys.stderr)
        return 2
    a.workdir.mkdir(parents=True, exist_ok=True)
    arm = build_driver(ARM64)
    arm_funcs = disassemble(ARM64, arm)
    x86 = None if a.no_x86 else build_driver(X86_64)
    x86_funcs = disassemble(X86_64, x86) if x86 else {}

    lines = ["## arm64 instruction-count proxy (NOT a measurement on arm64 hardware)", "",
             f"`python bench/arm64_proxy.py{' --full' if a.full else ''}`: instructions counted, not timed. arm64: "
             "the runtime cross-built with zig (aarch64-linux-musl, -O3, baseline CPU) run under "
             "`qemu-aarch64-static -d in_asm,exec,nochain`; x86-64: the same sources built with zig for "
             "x86_64-linux-musl, `PKT_MAX_ISA=avx2`, counted by callgrind. One thread, per run, after one "
             "untimed run. FMA share: vector FMA/dot instructions among all executed instructions (NEON `fmla` "
             "is 4 lanes, AVX2 `vfmadd...ps ymm` 8: peak is 8 FLOPs/instruction on NEON, 16 on AVX2).", "",
             "`arm64 before`: the arm64 instructions of the run this one replaced (the section's previous table).", "",
             "| model | input | arm64 instructions | arm64 before | arm64 change | arm64 FMA share | "
             "x86-64 AVX2 instructions | AVX2 FMA share | FLOPs | FLOPs/instr arm64 | FLOPs/instr AVX2 |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    before, before_where = previous_run(a.results)
    details = []
    hot = {ARM64.name: set(), X86_64.name: set()}  # the functions each ISA spends most in, for the static mix
    for model in a.models:
        path, shapes, flops = export_model(model, a.full, a.workdir)
        args = [str(path), str(a.runs)]
        p = count_qemu(arm, args, symbol(arm_funcs, "proxy_begin"), symbol(arm_funcs, "proxy_end"))
        q = count_callgrind(x86, args, x86_funcs, env={"PKT_MAX_ISA": "avx2"}) if x86 else None
        n_arm = p.instructions // a.runs
        n_x86 = q.instructions // a.runs if q else 0
        shape = 'x'.join(map(str, shapes[0]))
        was = before.get((model, shape))
        change = f"{100 * (n_arm - was) / was:+.1f}%" if was else "-"
        lines.append(f"| {model} | {shape} | {n_arm:,} | {f'{was:,}' if was else '-'} | {change} | "
                     f"{pct(p.vector_fma, p.instructions)} | "
                     f"{f'{n_x86:,}' if q else '-'} | {pct(q.vector_fma, q.instructions) if q else '-'} | {flops:,} | "
                     f"{flops / n_arm:.2f} | {f'{flops / n_x86:.2f}' if q else '-'} |")
        details.append(f"- {model}, arm64 ({p.isa}): {top_functions(p, a.top)}")
        if model in before_where:
            details.append(f"- {model}, arm64 before: {before_where[model]}")
        hot[ARM64.name].update(f for f, _ in p.by_function.most_common(3))
        if q:
            hot[X86_64.name].update(f for f, _ in q.by_function.most_common(3))
            details.append(f"- {model}, x86-64 ({q.isa}): {top_functions(q, a.top)}")
        print(lines[-1], file=sys.stderr, flush=True)
    lines += ["", "Where the instructions go (share of the model's executed instructions, and each function's own "
              "vector FMA share; inlined code counts as its caller):", "", *details, ""]
    lines += mix_table("Static mix, NEON functions and each model's 3 hottest (aarch64 objdump)",
                       loop_mix(ARM64, arm_funcs, "neon", hot[ARM64.name]))
    if x86:
        lines += [""] + mix_table("Static mix, AVX2 functions and each model's 3 hottest (x86-64 objdump)",
                                  loop_mix(X86_64, x86_funcs, "avx2", hot[X86_64.name]))
    report = "\n".join(lines) + "\n"
    print(report)
    if a.markdown:
        a.markdown.write_text(report)
    if a.results:
        results_md.write_section(pathlib.Path(a.results), "arm64-proxy", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
