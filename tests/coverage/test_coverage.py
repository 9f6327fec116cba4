"""The coverage suite: each architecture (tests/coverage/architectures.py) exported, run on the C runtime through the
Python binding and compared with eager (relative error <= 1e-4, NaN/inf where eager has them).

Known failures are xfail(strict=False) with their reason, so they are recorded, not hidden: docs/COVERAGE.md
(python tests/coverage/coverage_report.py) lists the error each one stops at today."""
import pytest

from architectures import BUILDERS, FAMILY_OF, KNOWN_FAILING
from coverage_check import REL_TOL, check

FAST = ("vit", "resnet", "espcn_pixel_shuffle", "einsum_attention", "lstm_tagger", "conv_autoencoder")


def _params():
    for name in BUILDERS:
        marks = [] if name in FAST else [pytest.mark.slow]
        if name in KNOWN_FAILING:
            marks.append(pytest.mark.xfail(strict=False, reason=KNOWN_FAILING[name]))
        yield pytest.param(name, marks=marks, id=name)


def test_registry_has_forty_architectures_each_in_a_family():
    assert len(BUILDERS) >= 40
    assert set(FAMILY_OF) == set(BUILDERS)
    assert set(KNOWN_FAILING) <= set(BUILDERS)


@pytest.mark.parametrize("name", _params())
def test_architecture_matches_eager(name):
    outcome = check(name, FAMILY_OF[name], BUILDERS[name])
    assert outcome.passed, f"{outcome.stage}: {outcome.error}"
    assert outcome.rel_err <= REL_TOL
    assert outcome.ops, "the program has instructions"
