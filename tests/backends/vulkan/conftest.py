import os

import pytest

import vkharness


@pytest.fixture(scope="session")
def vk(tmp_path_factory):
    """The harness on lavapipe; skipped where glslang or the Vulkan headers are missing (no backend to build)."""
    import runpy
    shaders = runpy.run_path(str(vkharness.RUNTIME / "backends/vulkan/shaders.py"))
    if not shaders["available"]():
        pytest.skip("glslangValidator or the Vulkan headers are not installed (make install)")
    os.environ.update(vkharness.lavapipe_env({}))
    h = vkharness.Harness(vkharness.build(tmp_path_factory.mktemp("vk")))
    if not h.available():
        pytest.skip("no Vulkan device (lavapipe: mesa-vulkan-drivers, make install)")
    return h


@pytest.fixture
def vk_module_env(monkeypatch):
    """pockettorch.load's sessions on lavapipe; skipped when the binding was built without the Vulkan backend."""
    from pockettorch.runtime import manifest
    if "vulkan" not in manifest.buildable_backends():
        pytest.skip("the binding has no Vulkan backend (glslangValidator / Vulkan headers missing)")
    for k, v in vkharness.lavapipe_env({}).items():
        monkeypatch.setenv(k, v)
