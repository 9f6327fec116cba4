"""`pockettorch sdk c`: what it writes (typed API, sizes from the runtime, selected sources), that writing is
deterministic, and the errors a user meets on the command line. Fast: nothing is compiled here."""
from __future__ import annotations

import hashlib
import json
import subprocess
import pathlib
import re

import pytest
from click.testing import CliRunner

from c_sdk_support import generate_sdk
from pockettorch import errors
from pockettorch.cli import cli, main
from pockettorch.runtime import _native
from pockettorch.sdk_templates.c_sdk import generate


def tree(root: pathlib.Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_embedded_profile_carries_the_embedded_platform_switched_on(models, tmp_path):
    generate_sdk(models["embedder"], tmp_path / "e", embed=True)
    generate_sdk(models["embedder"], tmp_path / "h", embed=False)
    embedded = tmp_path / "e" / "runtime" / "core"
    assert sorted(p.name for p in embedded.glob("platform_*.c")) == ["platform_embedded.c"]
    assert (embedded / "platform_embedded.c").read_text().startswith("#define PKT_PLATFORM_EMBEDDED 1\n")
    assert sorted(p.name for p in (tmp_path / "h" / "runtime" / "core").glob("platform_*.c")) == ["platform_posix.c"]
    kernels = sorted(p.stem for p in (tmp_path / "e" / "runtime" / "kernels").glob("*.c"))
    manifest = json.loads((tmp_path / "e" / "manifest.json").read_text())
    assert kernels == [k["kernel"] for k in manifest["runtime"]["kernels"]] and "take" in kernels
    assert "conv2d" not in kernels  # selective: only what the model uses


def test_header_is_typed_for_the_model(models, tmp_path):
    sdk = generate_sdk(models["embedder"], tmp_path / "sdk", embed=True)
    header = (tmp_path / "sdk" / "embedder_sdk.h").read_text()
    # int64 ids and a float scale in; dict outputs in output order: float scores, bool mask
    assert re.search(r"pkt_status embedder_sdk_run\(embedder_sdk\* model, const int64_t\* ids, const float\* scale, "
                     r"float\* scores, bool\* active\);", header), header
    assert "pkt_status embedder_sdk_init(embedder_sdk* model, void* memory, size_t memory_size);" in header
    assert "#define EMBEDDER_SDK_INPUT_IDS_NUMEL 12\n" in header and "#define EMBEDDER_SDK_INPUT_IDS_BYTES 96\n" in header
    assert "#define EMBEDDER_SDK_OUTPUT_ACTIVE_NUMEL 16\n" in header
    # sizes are the runtime's own numbers for this program
    workspace, arena = _native.embedded_sizes(models["embedder"].path.read_bytes())
    assert (sdk.workspace_bytes, sdk.arena_bytes) == (workspace, arena) and arena >= 64 and workspace > 0
    assert f"#define EMBEDDER_SDK_ARENA_BYTES ((size_t){arena}u)" in header
    assert f"#define EMBEDDER_SDK_WORKSPACE_BYTES ((size_t){workspace}u)" in header
    assert sdk.memory_bytes == -(-workspace // 64) * 64 + arena
    data = (tmp_path / "sdk" / "embedder_sdk_model.c").read_text()
    assert "_Alignas(64) const unsigned char embedder_sdk_model_data[EMBEDDER_SDK_MODEL_BYTES]" in data
    assert data.count("0x") == len(models["embedder"].path.read_bytes())


def test_host_header_loads_from_file_or_buffer(models, tmp_path):
    generate_sdk(models["two_inputs"], tmp_path / "sdk", embed=False)
    header = (tmp_path / "sdk" / "two_inputs_sdk.h").read_text()
    assert "pkt_status two_inputs_sdk_init(two_inputs_sdk* model, const char* path, int num_threads);" in header
    assert "two_inputs_sdk_init_buffer(" in header and "_model_data" not in header
    assert not (tmp_path / "sdk" / "two_inputs_sdk_model.c").exists()


def test_names_are_sanitised_and_distinct():
    """Inputs and outputs share run()'s parameter list: keywords, leading digits and repeats become distinct,
    usable identifiers, and macro stems stay valid."""
    from pockettorch.sdk_templates.model_info import TensorInfo

    inputs = [TensorInfo("int", "float32", (2,)), TensorInfo("0/x", "int32", ())]
    outputs = [TensorInfo("int", "uint8", (1,)), TensorInfo("", "float16", (3,))]
    idents = generate.identifiers(inputs, outputs, "net")
    assert idents == ["int_", "_0_x", "int__2", "output1"]
    clash = [TensorInfo("model", "float32", (1,)), TensorInfo("net", "float32", (1,)), TensorInfo("st", "bool", (1,))]
    assert generate.identifiers(clash, [], "net") == ["model_2", "net_2", "st_2"]
    tensors = generate._tensors(inputs + outputs, idents, 0)  # noqa: SLF001
    assert [t.ctype for t in tensors] == ["float", "int32_t", "uint8_t", "uint16_t"]
    assert [t.nbytes for t in tensors] == [8, 4, 1, 6]
    assert [t.macro for t in tensors] == ["INT_", "0_X", "INT__2", "OUTPUT1"]


def test_regeneration_is_byte_identical(models, tmp_path):
    for embed in (False, True):
        a, b = tmp_path / f"a{embed}", tmp_path / f"b{embed}"
        generate_sdk(models["conv_net"], a, embed=embed)
        generate_sdk(models["conv_net"], b, embed=embed)
        first = tree(a)
        assert first == tree(b)
        generate_sdk(models["conv_net"], a, embed=embed)  # again in place: nothing changes
        assert tree(a) == first


def test_switching_profile_in_place_removes_the_other_profiles_files(models, tmp_path):
    out = tmp_path / "sdk"
    generate_sdk(models["conv_net"], out, embed=True)
    assert (out / "conv_net_sdk_model.c").exists()
    generate_sdk(models["conv_net"], out, embed=False)
    assert not (out / "conv_net_sdk_model.c").exists()
    assert not (out / "runtime" / "core" / "platform_embedded.c").exists()


def test_cli_writes_the_sdk(models, tmp_path):
    r = CliRunner().invoke(cli, ["sdk", "c", str(models["two_inputs"].path), "--out", str(tmp_path / "sdk"),
                                 "--embed", "--prefix", "classifier"])
    assert r.exit_code == 0, r.output
    assert "embedded C SDK" in r.output and "prefix classifier" in r.output
    assert {"classifier.h", "classifier.c", "classifier_model.c", "example.c", "CMakeLists.txt", "Makefile",
            "README.md", "manifest.json"} <= {p.name for p in (tmp_path / "sdk").iterdir()}


def test_default_prefix_is_the_model_name(models, tmp_path):
    r = CliRunner().invoke(cli, ["sdk", "c", str(models["conv_net"].path), "--out", str(tmp_path / "sdk")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "sdk" / "conv_net.h").exists()
    assert generate.default_prefix("3D UNet") == "model" and generate.default_prefix("pkt_model") == "model"
    assert generate.default_prefix("MobileNetV2") == "mobile_net_v2"
    assert generate.default_prefix("main") == "model"


@pytest.mark.parametrize("prefix, why", [
    ("Classifier", "lowercase"), ("9lives", "lowercase"), ("my-model", "lowercase"), ("int", "lowercase"),
    ("pkt_model", "belong to the runtime"), ("pkt", "belong to the runtime"),
    *[(p, "C library or the generated code") for p in ("main", "free", "exit", "errno", "size_t", "read_file")],
    *[(p, "C++ keyword") for p in ("class", "new", "namespace")],
    ("m" * 65, "at most 64 characters"),
])
def test_bad_prefix_is_a_usage_error(models, tmp_path, prefix, why):
    r = CliRunner().invoke(cli, ["sdk", "c", str(models["two_inputs"].path), "--out", str(tmp_path / "sdk"),
                                 "--prefix", prefix])
    assert r.exit_code == 2, r.output
    assert "--prefix" in r.output and "not usable" in r.output and why in r.output and "suggestion" in r.output
    assert not (tmp_path / "sdk").exists()


def test_missing_or_corrupt_model_is_one_clear_line(tmp_path, capsys):
    assert main(["sdk", "c", str(tmp_path / "none.ptm"), "--out", str(tmp_path / "sdk")]) == 1
    assert "no model file at" in capsys.readouterr().err
    bad = tmp_path / "bad.ptm"
    bad.write_bytes(b"not a program at all" * 8)
    assert main(["sdk", "c", str(bad), "--out", str(tmp_path / "sdk")]) == 1
    assert "PKT_BAD_MAGIC" in capsys.readouterr().err


def test_foreign_output_folder_is_refused(models, tmp_path):
    (tmp_path / "mine.c").write_text("int main(void) { return 0; }\n")
    with pytest.raises(errors.InvalidArgumentError, match="not empty"):
        generate_sdk(models["two_inputs"], tmp_path, embed=False)
    assert (tmp_path / "mine.c").read_text().startswith("int main")


@pytest.mark.parametrize("prefix", ["m", "model_2_", "p" * 64])
def test_unusual_but_valid_prefixes_compile(models, tmp_path, prefix):
    """Short, trailing-underscore and longest prefixes: the typed API and the example compile (gcc, -Werror)."""
    out = tmp_path / "sdk"
    generate.generate(models["two_inputs"].path, out, prefix=prefix)
    for source in (f"{prefix}.c", "example.c"):
        subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I", str(out),
                        "-I", str(out / "runtime" / "include"), str(out / source)], check=True, timeout=120)
