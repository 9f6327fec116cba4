"""The Vulkan column of bench/RESULTS.md: the zoo models fully delegated to the Vulkan backend, timed on this host's
Vulkan device beside the same file's CPU fallback, in one run, with their error against eager.

    python bench/vulkan_column.py [--models mobilenet_v2 resnet18 transformer_encoder] [--iters 10]

On a machine without a GPU the device is Mesa's lavapipe, a software driver: the column then shows that the
programs run on Vulkan and match eager, not how fast a GPU is (the section says so). On a phone, bench a GPU through
the Android SDK built with `--backend vulkan` (README, "Delegation to accelerators").
"""
from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import torch

import pockettorch
from pockettorch.exporter import zoo

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402
import results_md  # noqa: E402

MODELS = ("mobilenet_v2", "resnet18", "transformer_encoder")
SOFTWARE_DRIVERS = ("llvmpipe", "lavapipe", "swiftshader")


def bench(path: pathlib.Path, backend: str, iters: int) -> dict:
    out = path.with_suffix(f".{backend}.json")
    subprocess.run([sys.executable, "-m", "pockettorch.cli", "bench", str(path), "--backend", backend, "--iters",
                    str(iters), "--warmup", "2", "--json", str(out)], check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())


def max_rel_err(path: pathlib.Path, module: torch.nn.Module, inputs: tuple) -> float:
    with torch.no_grad():
        want = module(*inputs)
    got = pockettorch.load(str(path), strict_backends=True)(*inputs)
    want, got = np.asarray(want), np.asarray(got[0] if isinstance(got, (list, tuple)) else got)
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))


def row(model: str, workdir: pathlib.Path, iters: int) -> tuple[str, dict]:
    module, inputs = zoo.build(model)[:2]
    path = workdir / f"{model}.ptm"
    program = pockettorch.export(module, inputs, name=model, backends=["vulkan"])
    program.save(path)
    part = program.metadata["delegation"]
    vk, cpu = bench(path, "vulkan", iters), bench(path, "cpu", iters)
    vk_ms, cpu_ms = vk["latency_ms"]["median"], cpu["latency_ms"]["median"]
    ops = part["backends"]["vulkan"]["ops"]
    line = (f"| {model} | {ops} / {part['cpu_ops']} | {part['backends']['vulkan']['partitions']} | {cpu_ms:.2f} | "
            f"{vk_ms:.2f} | {vk_ms / cpu_ms:.1f}x | {max_rel_err(path, module, inputs):.1e} |")
    return line, vk["backend"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(zoo.ZOO))
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--results", default=str(pathlib.Path(__file__).with_name("RESULTS.md")))
    args = ap.parse_args(argv)
    if not pockettorch.load(zoo_vulkan_probe()).delegates[0]["active"]:
        sys.exit("no Vulkan device: the delegates would run their CPU fallback (set VK_DRIVER_FILES to an ICD)")
    lines, backend = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            print(f"{model} ...", file=sys.stderr)
            line, backend = row(model, pathlib.Path(tmp), args.iters)
            lines.append(line)
    machine = common.machine_info()
    software = any(s in (backend["device"] + backend["driver"]).lower() for s in SOFTWARE_DRIVERS)
    body = "\n".join([
        f"## Vulkan backend, {backend['device']} ({backend['driver']})",
        "",
        ("**A software driver (Mesa lavapipe on the CPU): this column shows correctness and full delegation, not GPU "
         "speed.** " if software else "") +
        f"Host: {machine.get('cpu', '?')}, CPU flags {' '.join(machine.get('isa', []))}, 1 thread, median of "
        f"{args.iters} runs after 2 warm-ups. Each model is one program exported with `--backend vulkan`, timed on "
        "Vulkan and, in the same run, on its CPU fallback (`--backend cpu`). Error: max |vulkan - eager| / "
        "max |eager| (fp32). Made by `bench/vulkan_column.py`.",
        "",
        "| model | ops on Vulkan / on CPU | partitions | CPU fallback ms | Vulkan ms | Vulkan / CPU | rel err vs eager |",
        "|---|---|---|---|---|---|---|",
        *lines,
    ])
    results_md.write_section(pathlib.Path(args.results), "vulkan", body)
    print(body)
    return 0


def zoo_vulkan_probe() -> bytes:
    """A one-op program delegated to Vulkan: whether this host's Vulkan device takes it."""
    x = torch.ones(1, 4)
    return pockettorch.export(torch.nn.ReLU(), (x,), backends=["vulkan"]).to_bytes()


if __name__ == "__main__":
    raise SystemExit(main())
