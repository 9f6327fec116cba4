"""docs/COVERAGE.md: the generator writes a row per architecture, and the checked-in file is the suite's."""
import pathlib

import torch

from architectures import BUILDERS, KNOWN_FAILING
from coverage_check import check
from coverage_report import DEFAULT_OUT, main, parse_rows, render


class Spectrum(torch.nn.Module):
    """An op PocketTorch has no lowering for (a real FFT), to show how a failure is reported."""

    def forward(self, x):
        return torch.fft.rfft(x).abs()


def test_report_rows_show_ops_for_a_pass_and_stage_and_error_for_a_failure():
    outcomes = [check("espcn_pixel_shuffle", "torch.nn composition", BUILDERS["espcn_pixel_shuffle"]),
                check("spectrum", "torch.nn composition", lambda: (Spectrum(), (torch.randn(2, 16),)))]
    text = render(outcomes)
    assert parse_rows(text) == {"espcn_pixel_shuffle": "pass", "spectrum": "FAIL"}
    assert "**1 of 2 pass.**" in text
    row = next(line for line in text.splitlines() if line.startswith("| espcn_pixel_shuffle "))
    assert "conv2d x" in row  # the ops its program uses
    fail = next(line for line in text.splitlines() if line.startswith("| spectrum "))
    assert "export:" in fail and "_fft_r2c" in fail  # the stage and the op it stopped at


def test_generator_writes_the_file(tmp_path):
    out = tmp_path / "COVERAGE.md"
    assert main(["--out", str(out), "conv_autoencoder"]) == 0
    assert parse_rows(out.read_text()) == {"conv_autoencoder": "pass"}


def test_checked_in_report_covers_the_suite():
    """Every registered architecture has a row; every failing row is a recorded known failure."""
    rows = parse_rows(pathlib.Path(DEFAULT_OUT).read_text())
    assert set(rows) == set(BUILDERS), "regenerate: python tests/coverage/coverage_report.py"
    unrecorded = [name for name, result in rows.items() if result == "FAIL" and name not in KNOWN_FAILING]
    assert not unrecorded, f"failing in docs/COVERAGE.md but not in KNOWN_FAILING: {unrecorded}"


def test_a_vacuous_comparison_is_a_failure():
    """An architecture whose eager output is ~0 everywhere would match anything: check() refuses to call it a pass."""
    outcome = check("tiny", "torch.nn composition", lambda: (_Tiny(), (torch.randn(2, 4),)))
    assert not outcome.passed and "vacuous" in outcome.error


class _Tiny(torch.nn.Module):
    def forward(self, x):
        return x * 1e-30
