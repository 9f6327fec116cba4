"""bench/RESULTS.md sections: each tool replaces only its own section, so an AVX2 run keeps the AVX-512 tables."""
from __future__ import annotations

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))
import results_md  # noqa: E402


def test_sections_are_replaced_in_place_and_others_kept(tmp_path):
    path = tmp_path / "RESULTS.md"
    results_md.write_section(path, "compare-avx512", "## AVX-512\n\nold 512")
    results_md.write_section(path, "sizes", "## Sizes\n\ncore 40 KB")
    results_md.write_section(path, "compare-avx512", "## AVX-512\n\nnew 512")
    results_md.write_section(path, "compare-avx2", "## AVX2\n\nfirst 2")
    text = path.read_text()
    assert text.startswith(results_md.TITLE)
    found = results_md.sections(text)
    assert list(found) == ["compare-avx512", "sizes", "compare-avx2"]
    assert found["compare-avx512"] == "## AVX-512\n\nnew 512\n" and "old 512" not in text
    assert found["sizes"] == "## Sizes\n\ncore 40 KB\n"


def test_body_with_regex_escapes_is_written_verbatim(tmp_path):
    path = tmp_path / "RESULTS.md"
    results_md.write_section(path, "a", "x")
    results_md.write_section(path, "a", r"ratio \1 \g<0> 1.0x")
    assert results_md.sections(path.read_text())["a"] == "ratio \\1 \\g<0> 1.0x\n"


@pytest.mark.parametrize("key", ["", "Compare", "a b", "x-->"])
def test_bad_keys_are_refused(tmp_path, key):
    with pytest.raises(ValueError):
        results_md.write_section(tmp_path / "R.md", key, "x")


def test_checked_in_results_have_the_compare_sections():
    text = (pathlib.Path(results_md.__file__).parent / "RESULTS.md").read_text()
    assert "compare-avx512" in results_md.sections(text)
