"""Selective runtime sources: every kernel builds and links alone with exactly the helper files `sources` lists.

Uses the host gcc on the real runtime sources; a kernel whose helper group is missing from
the manifest's `KERNEL_GROUPS` fails to link here, before it can fail in an app's Gradle or SwiftPM build.
"""
from __future__ import annotations

import pathlib
import shutil
import subprocess

import numpy as np
import pytest
import torch

import pockettorch
from pockettorch.runtime import manifest as runtime_manifest
from pockettorch.sdk_templates import model_info, sources

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")

DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pockettorch/pockettorch.h"
/* load argv[1], fill inputs with 0.5 / 1, run, print status then outputs as %.9g */
int main(int argc, char** argv) {
  char err[256] = "";
  pkt_program* p = NULL;
  if (argc < 2) return 2;
  pkt_status st = pkt_program_load_file(argv[1], &p, err, sizeof err);
  if (st != PKT_OK) { printf("status %d %s\n", (int)st, err); return 0; }
  pkt_session_options opt = pkt_session_options_default();
  pkt_session* s = NULL;
  st = pkt_session_create(p, &opt, &s, err, sizeof err);
  if (st != PKT_OK) { printf("status %d %s\n", (int)st, err); pkt_program_free(p); return 0; }
  for (int i = 0; i < pkt_program_num_inputs(p); i++) {
    pkt_tensor_info info; pkt_program_input_info(p, i, &info);
    float* x = pkt_session_input_data(s, i);
    for (size_t k = 0; k < info.nbytes / sizeof(float); k++) x[k] = 0.5f * (float)(k % 7) - 1.0f;
  }
  st = pkt_session_run(s);
  printf("status %d\n", (int)st);
  for (int i = 0; i < pkt_program_num_outputs(p); i++) {
    pkt_tensor_info info; pkt_program_output_info(p, i, &info);
    const float* y = pkt_session_output_data(s, i);
    for (size_t k = 0; k < info.nbytes / sizeof(float); k++) printf("%.9g\n", y[k]);
  }
  pkt_session_free(s); pkt_program_free(p);
  return 0;
}
"""
FLAGS = ["-std=c11", "-O1", "-Wall", "-Wextra", "-Werror"]


def _write(root: pathlib.Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def _includes(root: pathlib.Path) -> list[str]:
    return [f"-I{root / d}" for d in ("include", ".")]


@pytest.fixture(scope="module")
def objects(tmp_path_factory) -> tuple[pathlib.Path, dict[str, pathlib.Path]]:
    """Every runtime .c compiled once (the full selection), plus the driver; keyed by relative path."""
    root = tmp_path_factory.mktemp("rt")
    full = sources.select(sources.ALL_KERNELS)
    _write(root, full.files)
    (root / "driver.c").write_text(DRIVER)
    objs = {}
    for rel in full.c_files + ["driver.c"]:
        obj = root / "obj" / (rel.replace("/", "__") + ".o")
        obj.parent.mkdir(exist_ok=True)
        subprocess.run(["gcc", *FLAGS, *_includes(root), "-c", str(root / rel), "-o", str(obj)], check=True,
                       capture_output=True, text=True)
        objs[rel] = obj
    return root, objs


def _link(root: pathlib.Path, objs: dict[str, pathlib.Path], selection: sources.RuntimeSources, name: str) -> pathlib.Path:
    table = root / f"{name}_kernel_table.c"
    table.write_bytes(selection.files["backends/cpu/kernel_table.c"])
    table_obj = table.with_suffix(".o")
    subprocess.run(["gcc", *FLAGS, *_includes(root), "-c", str(table), "-o", str(table_obj)], check=True)
    picked = [objs[rel] for rel in selection.c_files if rel != "backends/cpu/kernel_table.c"] + [table_obj, objs["driver.c"]]
    exe = root / name
    proc = subprocess.run(["gcc", *map(str, picked), "-o", str(exe), "-lm", "-lpthread"], capture_output=True, text=True)
    assert proc.returncode == 0, f"selection {name} does not link:\n{proc.stderr}"
    return exe


@pytest.mark.parametrize("kernel", sources.ALL_KERNELS)
def test_every_kernel_links_alone(objects, kernel):
    root, objs = objects
    selection = sources.select([kernel])
    assert f"kernels/{kernel}.c" in selection.files
    _link(root, objs, selection, f"only_{kernel}")


def test_every_runtime_file_is_placed_in_the_manifest():
    """A new C file or header must be put in runtime/manifest.py on purpose, or builds and SDKs would silently miss it
    (the one place that lists the folders: every build reads the manifest instead)."""
    present = {p.relative_to(runtime_manifest.RUNTIME_DIR).as_posix()
               for d in ("core", "backends", "compute", "kernels", "include", "tools", "python")
               for p in (runtime_manifest.RUNTIME_DIR / d).rglob("*.[ch]")}
    assert present == set(runtime_manifest.all_files())


def test_sdk_selection_is_the_manifest_build():
    sel = sources.select(["conv2d", "reshape"])
    assert sel.c_files == sorted(runtime_manifest.library_sources(["conv2d", "reshape"]))
    assert set(runtime_manifest.HEADERS) | set(runtime_manifest.PUBLIC_HEADERS) <= set(sel.files)


def test_selected_runtime_matches_python_and_leaves_other_kernels_out(objects, tmp_path):
    root, objs = objects
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5))
    torch.manual_seed(0)
    path = tmp_path / "net.ptm"
    pockettorch.export(net.eval(), (torch.zeros(1, 3, 8, 8),), name="net").save(path)
    info = model_info.read_model(path)
    assert "conv2d" in info.kernels and "linear" in info.kernels

    exe = _link(root, objs, sources.select(info.kernels, info.ops), "net_runtime")
    lines = subprocess.run([str(exe), str(path)], capture_output=True, text=True, check=True).stdout.split()
    assert lines[:2] == ["status", "0"]
    x = (0.5 * (np.arange(3 * 8 * 8) % 7) - 1.0).astype(np.float32).reshape(1, 3, 8, 8)
    expected = pockettorch.load(path).run_numpy([x])[0].ravel()
    np.testing.assert_allclose(np.array(lines[2:], dtype=np.float32), expected, atol=1e-5)

    without_conv = _link(root, objs, sources.select(["linear", "reshape"]), "no_conv")
    out = subprocess.run([str(without_conv), str(path)], capture_output=True, text=True, check=True).stdout
    assert out.startswith("status 30 "), out  # KERNEL_NOT_BUILT, with the op named
    assert "conv2d" in out


def test_manifest_counts_helper_groups_once():
    sel = sources.select(["conv2d", "linear", "matmul"])
    costs = {k.kernel: k for k in sel.kernels}
    assert "compute/gemm/gemm.c" in costs["conv2d"].files and "compute/gemm/gemm.c" not in costs["linear"].files
    m = sources.manifest(sel)
    assert m["total_source_bytes"] == sum(len(v) for v in sel.files.values())
    assert m["core_source_bytes"] + sum(k["source_bytes"] for k in m["kernels"]) == m["total_source_bytes"]


def test_unknown_kernel_is_refused():
    with pytest.raises(ValueError, match="unknown kernels"):
        sources.select(["conv3d"])
