"""`pockettorch sdk android`: the module's layout and Gradle settings (parsed), the selective-build manifest,
name sanitising and validation, clear CLI errors, and deterministic regeneration."""
from __future__ import annotations

import json
import pathlib
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

import pockettorch
from pockettorch.cli import cli
from pockettorch.sdk_templates import escape, model_info
from pockettorch.sdk_templates.android import generator
from android_support import c_sources
from gradle_kts import imports, settings


def tree(root: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def generate_cli(*args):
    return CliRunner().invoke(cli, ["sdk", "android", *map(str, args)], catch_exceptions=False)


def test_gradle_module_settings(sdks):
    sdk = sdks["classifier"]
    gradle = settings((sdk.out / "build.gradle.kts").read_text())
    assert gradle["plugins.id"] == [["com.android.library"]]
    assert gradle["android.namespace"] == ["com.test.classifier"]
    assert gradle["android.defaultConfig.minSdk"] == [24]
    assert gradle["android.defaultConfig.ndk.abiFilters"] == [["arm64-v8a", "armeabi-v7a", "x86_64"]]
    assert gradle["android.compileOptions.sourceCompatibility"] == ["JavaVersion.VERSION_17"]
    assert gradle["android.compileOptions.targetCompatibility"] == ["JavaVersion.VERSION_17"]
    assert gradle["kotlin.compilerOptions.jvmTarget"] == ["JvmTarget.JVM_17"]
    assert "org.jetbrains.kotlin.gradle.dsl.JvmTarget" in imports((sdk.out / "build.gradle.kts").read_text())
    (cmake_path,) = gradle["android.externalNativeBuild.cmake.path"]
    assert cmake_path[0] == "file" and (sdk.out / cmake_path[1][0]).is_file()
    (rules,) = gradle["android.defaultConfig.consumerProguardFiles"]
    assert all((sdk.out / r).is_file() for r in rules)
    manifest = ET.parse(sdk.out / "src" / "main" / "AndroidManifest.xml").getroot()
    assert manifest.tag == "manifest"
    readme = (sdk.out / "README.md").read_text()
    assert f'include(":{sdk.sdk.library.replace("_", "-")}")' in readme and "TinyClassifier(context)" in readme


def test_module_carries_the_model_and_only_its_kernels(sdks):
    for sdk in sdks.values():
        info = model_info.read_model(sdk.ptm)
        asset = sdk.out / "src" / "main" / "assets" / f"{sdk.case.name}.ptm"
        assert asset.read_bytes() == sdk.ptm.read_bytes()
        manifest = json.loads((sdk.out / "pockettorch-manifest.json").read_text())
        assert [k["kernel"] for k in manifest["runtime_sources"]["kernels"]] == list(info.kernels)
        assert manifest["sha256"] == info.sha256
        cpp = sdk.out / "src" / "main" / "cpp"
        kernels = sorted(p.stem for p in (cpp / "runtime" / "kernels").glob("*.c"))
        assert kernels == list(info.kernels)
        for k in manifest["runtime_sources"]["kernels"]:
            assert k["source_bytes"] == sum((cpp / "runtime" / f).stat().st_size for f in k["files"])
        # CMakeLists.txt builds exactly the C files the module holds
        assert sorted(c_sources(sdk)) == sorted(str(p.relative_to(cpp)) for p in cpp.rglob("*.c"))


def test_android_code_stays_in_its_own_files(sdks):
    for sdk in sdks.values():
        for rel, text in sdk.sdk.files.items():
            if rel.endswith(".kt"):
                uses_android = any(i.startswith("android.") for i in imports(text))
                assert uses_android == (rel in sdk.sdk.android_only), rel


def test_names_from_the_model_are_sanitised():
    specs = [model_info.TensorInfo(n, "float32", (1,)) for n in ("input.0", "class", "1st", "dispatcher", "input_0", "out")]
    idents = [t["ident"] for t in generator._tensors(specs, generator.RESERVED_PARAMETERS)]
    assert idents == ["input0", "class_", "t1st", "dispatcher_", "input0_2", "out_"]
    assert escape.kotlin_string('say "hi" to $user\\n\n') == '"say \\"hi\\" to \\$user\\\\n\\n"'


@pytest.mark.parametrize("model_name,class_name", [("model", "TypedModel"), ("tensor", "TensorModel"),
                                                   ("2d-net", "M2dNet")])
def test_class_names_derived_from_the_model_avoid_the_sdk_types(sdks, tmp_path, model_name, class_name):
    case = sdks["multi"].case
    ptm = tmp_path / "m.ptm"
    pockettorch.export(case.module, case.inputs, name=model_name).save(ptm)
    assert generator.generate(ptm, "com.acme.vision").class_name == class_name


def test_cli_writes_the_module(sdks, tmp_path):
    ptm = sdks["heads"].ptm
    result = generate_cli(ptm, "--out", tmp_path / "m", "--package", "com.acme.vision", "--class-name", "Heads")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m" / "src/main/kotlin/com/acme/vision/Heads.kt").is_file()
    assert "Heads (com.acme.vision)" in result.output


@pytest.mark.parametrize("args,message", [
    (["--package", "Com.Acme"], "package name 'Com.Acme' is not usable"),
    (["--package", "vision"], "at least two segments"),
    (["--package", "com.class.x"], "'class'"),
    (["--package", "com.acme", "--class-name", "tiny model"], "is not a usable Kotlin class name"),
    *[(["--package", "com.acme", "--class-name", taken], f"'{taken}' is not a usable Kotlin class name: it is a name "
       f"the generated code or its language already uses (suggestion: {taken}Model)")
      for taken in ("Tensor", "Prediction", "PocketTorchException", "Output", "String", "Int", "Unit", "Any", "List")],
    (["--package", "com.acme", "--class-name", "C" * 65], "use at most 64 characters"),
    *[(["--package", f"{reserved}.io"], f"{reserved}.* is reserved by Kotlin, Java or Android")
      for reserved in ("kotlin", "java", "javax", "android")],
    (["--package", "com.acme.new"], "'new'"),  # a Java keyword: JNI and Java callers could not name it
])
def test_bad_names_are_clear_cli_errors(sdks, tmp_path, args, message):
    result = generate_cli(sdks["heads"].ptm, "--out", tmp_path / "m", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "m").exists()


def test_bad_model_and_foreign_folder_are_clear_errors(sdks, tmp_path):
    (tmp_path / "bad.ptm").write_bytes(b"not a program" * 100)
    result = generate_cli(tmp_path / "bad.ptm", "--out", tmp_path / "m", "--package", "com.acme.vision")
    assert result.exit_code == 1 and "PKT_BAD_MAGIC" in result.output
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    result = generate_cli(sdks["heads"].ptm, "--out", mine, "--package", "com.acme.vision")
    assert result.exit_code == 2 and "is not empty" in result.output
    assert (mine / "notes.txt").read_text() == "keep me"


def test_regeneration_is_deterministic_and_removes_stale_files(sdks, tmp_path):
    out = tmp_path / "m"
    args = ["--out", out, "--package", "com.acme.vision", "--class-name", "Vision"]
    assert generate_cli(sdks["classifier"].ptm, *args).exit_code == 0
    first = tree(out)
    assert generate_cli(sdks["classifier"].ptm, *args).exit_code == 0
    assert tree(out) == first
    other = tmp_path / "other"
    assert generate_cli(sdks["classifier"].ptm, "--out", other, *args[2:]).exit_code == 0
    assert tree(other) == first
    # Another model into the same folder: the classifier's asset, labels and bitmap helper are gone.
    assert generate_cli(sdks["multi"].ptm, *args).exit_code == 0
    now = tree(out)
    assert "src/main/assets/two_inputs.ptm" in now and "src/main/assets/tiny_classifier.ptm" not in now
    assert not any(p.endswith(("VisionLabels.kt", "VisionBitmaps.kt")) for p in now)
    assert "src/main/cpp/runtime/kernels/conv2d.c" not in now
