"""The generated SDKs on the host JVM: kotlinc -Werror compiles them (Android-only files against stubs, and the
example of each generated README), gcc
builds their JNI glue with the selected runtime sources without a warning, and each typed class gives the
same outputs as `pockettorch.load` (max abs diff <= 1e-5) and the catalogue's typed errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import pockettorch
from pockettorch import errors

pytestmark = pytest.mark.slow

MAIN_CLASS = {"classifier": "com.test.classifier.ClassifierHostKt", "multi": "com.test.multi.MultiHostKt",
              "embed": "com.test.embed.EmbedHostKt", "heads": "com.test.heads.HeadsHostKt"}


def test_jni_glue_and_runtime_compile_without_warnings(jni_libraries):
    for key, folder in jni_libraries.items():
        log = (folder / "gcc.log").read_text()
        assert log == "", f"{key}: gcc -Wall -Wextra warned:\n{log[-3000:]}"


@pytest.mark.parametrize("key", sorted(MAIN_CLASS))
def test_typed_class_matches_python_runtime(key, sdks, run_host_test, tmp_path):
    sdk = sdks[key]
    folder = sdk.ptm.parent
    if key == "classifier":
        bigger = tmp_path / "bigger.ptm"
        pockettorch.export(sdk.case.module, (torch.rand(1, 3, 16, 16),), name=sdk.case.name).save(bigger)
        args = [sdk.ptm, folder / "input_0.bin", tmp_path, bigger, sdks["multi"].ptm]
    elif key == "multi":
        args = [sdk.ptm, folder, tmp_path]
    else:
        args = [sdk.ptm, folder / "input_0.bin", tmp_path]
    proc = run_host_test(MAIN_CLASS[key], *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{key} host test passed" in proc.stdout

    expected = pockettorch.load(sdk.ptm).run_numpy([t.numpy() for t in sdk.case.inputs])
    for i, want in enumerate(expected):
        got = np.fromfile(tmp_path / f"output_{i}.bin", dtype=np.float32)
        assert got.size == want.size, f"output {i}: {got.size} values, expected {want.size}"
        assert np.max(np.abs(got - want.reshape(-1))) <= 1e-5, f"output {i} differs"


def test_dynamic_length_model_runs_each_length_in_range(sdks, run_host_test, tmp_path):
    """A program with a dynamic sequence length (1..6): the typed class runs lengths 1, 4 and 6 as the Python
    runtime does, and lengths 0 and 7 raise INPUT_SHAPE naming the range (DynamicHost.kt)."""
    sdk = sdks["dynamic"]
    proc = run_host_test("com.test.dynamic.DynamicHostKt", sdk.ptm, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "dynamic host test passed" in proc.stdout
    with pockettorch.load(sdk.ptm) as m:
        for length in (1, 4, 6):
            want = m.run_numpy([np.arange(length, dtype=np.int64).reshape(1, length) % 10])[0]
            got = np.fromfile(tmp_path / f"output_{length}.bin", dtype=np.float32)
            assert got.shape == (length * 4,) and np.max(np.abs(got - want.reshape(-1))) <= 1e-5, length


def test_error_codes_agree_with_the_catalogue(run_host_test):
    proc = run_host_test("com.test.catalogue.CatalogueHostKt")
    assert proc.returncode == 0, proc.stderr
    generated = [json.loads(line) for line in proc.stdout.splitlines()]
    expected = [{"code": e.code, "name": e.name, "message": e.message, "hint": e.hint}
                for e in errors.CATALOGUE if e.code != 0]
    assert generated == expected


@pytest.mark.parametrize("layout,channels", [("NCHW", "RGB"), ("NHWC", "BGR"), ("NCHW", "GRAY")])
def test_image_normalization_matches_numpy(layout, channels, run_host_test, tmp_path):
    rng = np.random.default_rng(0)
    argb = rng.integers(0, 2**32, size=6, dtype=np.uint64)  # 3x2 pixels, 0xAARRGGBB
    (tmp_path / "pixels.txt").write_text("".join(f"{int(p)}\n" for p in argb))
    proc = run_host_test("com.test.image.ImageHostKt", tmp_path / "pixels.txt", tmp_path / "out.bin", layout, channels)
    assert proc.returncode == 0, proc.stderr

    rgb = np.stack([(argb >> 16) & 255, (argb >> 8) & 255, argb & 255], axis=-1).astype(np.float32)  # [6, 3]
    if channels == "GRAY":
        planes = (rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[:, None]
        mean, std = np.array([0.5]), np.array([0.25])
    else:
        planes = rgb[:, ::-1] if channels == "BGR" else rgb
        mean, std = np.array([0.5, 0.4, 0.3]), np.array([0.2, 0.25, 0.3])
    values = ((planes / 255.0 - mean) / std).reshape(2, 3, -1)  # [H, W, C]
    want = values.transpose(2, 0, 1) if layout == "NCHW" else values
    got = np.fromfile(tmp_path / "out.bin", dtype=np.float32)
    np.testing.assert_allclose(got, want.reshape(-1), atol=1e-5)


@pytest.mark.parametrize("key", ["int8", "int8dyn", "w4"])
def test_quantized_programs_match_python_runtime(key, sdks, run_host_test, tmp_path):
    """Static int8, dynamic int8 (an LSTM and a linear) and int4 weight-only programs through the generated typed
    class and its JNI library: the same outputs as `pockettorch.load`."""
    sdk = sdks[key]
    ops = {op for op, _ in pockettorch.load(sdk.ptm).instructions()}
    assert {"int8": "qconv2d", "int8dyn": "qlstm_dynamic", "w4": "linear_wo"}[key] in ops, ops  # it is quantized
    proc = run_host_test("com.test.quantized.QuantizedHostKt", key, sdk.ptm, sdk.ptm.parent / "input_0.bin", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{key} host test passed" in proc.stdout
    (want,) = pockettorch.load(sdk.ptm).run_numpy([t.numpy() for t in sdk.case.inputs])
    got = np.fromfile(tmp_path / "output_0.bin", dtype=np.float32)
    assert got.size == want.size and np.max(np.abs(got - want.reshape(-1))) <= 1e-5
