"""The arm64 proxy's machinery (bench/arm64_proxy.py) on a hand-written loop of known length: the loop finder
and FMA mix on its disassembly, and the two instruction counters (qemu's exec log on aarch64, callgrind on
x86-64) against the count the loop must execute. Correctness of the counting, not timings. Skips without
ziglang, qemu-aarch64-static, aarch64 objdump or valgrind."""
from __future__ import annotations

import pathlib
import shutil
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))

import arm64_proxy as proxy  # noqa: E402

pytestmark = pytest.mark.slow

ITERS = 1000
# proxy_measured runs a 4-instruction loop body (2 vector FMAs, a decrement, a backward branch) ITERS times;
# the proxy_begin/proxy_end markers bound the counted region as in bench/proxy_driver.c.
LOOP_C = r"""
__attribute__((noinline)) void proxy_begin(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void proxy_end(void) { __asm__ volatile("" ::: "memory"); }
__attribute__((noinline)) void proxy_measured(void) {
#if defined(__aarch64__)
  __asm__ volatile("mov x9, #%(iters)d\n1:\nfmla v0.4s, v1.4s, v2.4s\nfmla v3.4s, v1.4s, v2.4s\n"
                   "subs x9, x9, #1\nb.ne 1b\n" ::: "x9", "v0", "v3", "cc");
#else
  __asm__ volatile("mov $%(iters)d, %%%%ecx\n1:\nvfmadd231ps %%%%ymm1, %%%%ymm2, %%%%ymm0\n"
                   "vfmadd231ps %%%%ymm1, %%%%ymm2, %%%%ymm3\ndec %%%%ecx\njnz 1b\n" ::: "ecx", "xmm0", "xmm3", "cc");
#endif
}
#include <stdio.h>
int main(void) { proxy_begin(); proxy_measured(); proxy_end(); puts("isa test"); return 0; }
""" % {"iters": ITERS}


@pytest.fixture(scope="module", params=[proxy.ARM64, proxy.X86_64], ids=lambda a: a.name)
def built(request, tmp_path_factory):
    """(arch, binary of LOOP_C, its disassembly by function)."""
    arch = request.param
    missing = proxy.tool_problems(need_x86=arch is proxy.X86_64)
    if missing:
        pytest.skip("missing " + "; ".join(missing))
    d = tmp_path_factory.mktemp(f"loop-{arch.name}")
    (d / "loop.c").write_text(LOOP_C)
    proxy.zig_cc(arch, ["-O2", str(d / "loop.c")], d / "loop")
    return arch, d / "loop", proxy.disassemble(arch, d / "loop")


def test_loop_finder_finds_the_fma_loop(built):
    arch, _, funcs = built
    loops = proxy.inner_loops(arch, funcs["proxy_measured"])
    assert [[i.text.split()[0] for i in body] for body in loops] in (
        [["fmla", "fmla", "subs", "b.ne"]], [["vfmadd231ps", "vfmadd231ps", "dec", "jne"]])
    assert proxy.loop_mix(arch, funcs, "proxy_measured") == [{"function": "proxy_measured", "loops": [(4, 2)]}]
    assert proxy.inner_loops(arch, funcs["proxy_begin"]) == []  # straight-line code has no loop


def test_counter_matches_the_known_count(built):
    arch, binary, funcs = built
    if arch is proxy.ARM64:
        prof = proxy.count_qemu(binary, [], proxy.symbol(funcs, "proxy_begin"), proxy.symbol(funcs, "proxy_end"))
    else:
        prof = proxy.count_callgrind(binary, [], funcs)
    # the loop, plus the function's straight-line set-up and return exactly as compiled
    padding = ("nop", "xchg %ax,%ax", "cs nop", "data16")  # alignment after the return, never executed
    outside_loop = len(funcs["proxy_measured"]) - 4 - sum(i.text.startswith(padding) for i in funcs["proxy_measured"])
    assert prof.by_function["proxy_measured"] == ITERS * 4 + outside_loop
    assert prof.vector_fma == ITERS * 2
    assert prof.isa == "test"
    assert prof.instructions - prof.by_function["proxy_measured"] <= 4  # the calls around it in main, no more


def test_missing_tools_are_named(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda tool: None)
    assert any("qemu-user-static" in m for m in proxy.tool_problems())


def test_previous_run_is_read_back(tmp_path):
    """The report's before/after columns come from the section it replaces; a file without one gives nothing."""
    import results_md

    results = tmp_path / "RESULTS.md"
    assert proxy.previous_run(str(results)) == ({}, {})
    results_md.write_section(results, "arm64-proxy", "\n".join([
        "| model | input | arm64 instructions | arm64 FMA share |", "|---|---|---|---|",
        "| lstm | 1x32x40 | 7,234,135 | 24.0% |", "| mlp | 1x784 | - | - |", "",
        "- lstm, arm64 (neon): pkt_gemv_neon 41.4% (FMA 35.0%)", "- lstm, x86-64 (avx2): pkt_gemv_avx2 64.5%"]))
    assert proxy.previous_run(str(results)) == ({("lstm", "1x32x40"): 7234135},
                                                {"lstm": "pkt_gemv_neon 41.4% (FMA 35.0%)"})
