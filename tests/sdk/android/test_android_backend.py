"""`pockettorch sdk android --backend vulkan`: the module compiles the Vulkan backend in (its sources, the SPIR-V
generated at SDK time, the registry's define) and links the NDK's libvulkan; its JNI library builds with the
module's own source list. The iOS SDK refuses the backend and says why."""
from __future__ import annotations

import json
import subprocess

import pytest
import torch
from click.testing import CliRunner

import pockettorch
from pockettorch.cli import cli
from pockettorch.runtime import manifest
from pockettorch.sdk_templates.android import generator
from android_support import GeneratedSdk, c_sources, java_home, jni_library


class Small(torch.nn.Module):
    def forward(self, x, y):
        return torch.relu(x + y) * y


@pytest.fixture(scope="module")
def delegated(tmp_path_factory):
    if "vulkan" not in manifest.buildable_backends():
        pytest.skip("the Vulkan backend cannot be built here (no glslangValidator or Vulkan headers)")
    d = tmp_path_factory.mktemp("vk_sdk")
    inputs = (torch.randn(2, 8), torch.randn(2, 8))
    ptm = pockettorch.export(Small(), inputs, name="small", backends=["vulkan"]).save(d / "small.ptm")
    return d, ptm


def test_android_module_compiles_the_vulkan_backend_in(delegated):
    d, ptm = delegated
    out = d / "android"
    result = CliRunner().invoke(cli, ["sdk", "android", ptm, "--out", str(out), "--package", "com.test.vk",
                                      "--backend", "vulkan"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    sdk = GeneratedSdk(d / "small.ptm", out, generator.generate(ptm, "com.test.vk", backends=("vulkan",)))
    sources = c_sources(sdk)
    for src in manifest.BACKENDS["vulkan"]["sources"]:
        assert f"runtime/{src}" in sources
    generated = [s for s in sources if s.endswith(manifest.BACKENDS["vulkan"]["generated"][0])]
    assert len(generated) == 1 and "pkt_vk_shaders" in (sdk.cpp / generated[0]).read_text()
    cmake = (sdk.cpp / "CMakeLists.txt").read_text()
    link = cmake[cmake.index("target_link_libraries("):]
    assert link[:link.index(")")].split()[-2:] == ["dl", "vulkan"]
    registry = (sdk.cpp / "runtime" / "core" / "backend_registry.c").read_text()
    assert registry.startswith("/* Delegate backends compiled into this SDK. */\n#define PKT_WITH_BACKEND_VULKAN 1\n")
    assert json.loads((out / "pockettorch-manifest.json").read_text())["backends"] == ["vulkan"]
    if java_home() is None:
        pytest.skip("no JDK headers for the JNI build")
    lib = jni_library(sdk) / f"lib{sdk.sdk.library}.so"
    symbols = subprocess.run(["nm", str(lib)], capture_output=True, text=True, check=True).stdout
    assert " pkt_backend_vulkan" in symbols and " pkt_vk_shaders" in symbols


def test_without_backend_the_module_has_no_backend_sources(delegated):
    _, ptm = delegated
    sdk = generator.generate(ptm, "com.test.vk")
    assert not any(p.startswith("src/main/cpp/runtime/backends/vulkan/") for p in sdk.files)
    assert "#define PKT_WITH_BACKEND" not in sdk.files["src/main/cpp/runtime/core/backend_registry.c"].decode()


def test_ios_says_vulkan_is_not_offered(delegated, tmp_path):
    _, ptm = delegated
    result = CliRunner().invoke(cli, ["sdk", "ios", ptm, "--out", str(tmp_path / "ios"), "--backend", "vulkan"])
    assert result.exit_code == 2
    assert "does not offer the vulkan backend" in result.output and "Metal" in result.output
    assert not (tmp_path / "ios").exists()


def test_android_refuses_an_unknown_backend(delegated, tmp_path):
    _, ptm = delegated
    result = CliRunner().invoke(cli, ["sdk", "android", ptm, "--out", str(tmp_path / "a"), "--package", "com.test.vk",
                                      "--backend", "metal"])
    assert result.exit_code == 2 and "no delegate backend 'metal'" in result.output
