"""Lowering rules take their ATen targets from the op table: each target is written once, and has one rule."""
import pathlib
import re

import pytest

from pockettorch.exporter import lowering
from pockettorch.exporter.lowering import RULES, load_rules, lowers
from pockettorch.runtime import op_table

LOWERING_DIR = pathlib.Path(lowering.__file__).parent


def test_every_op_table_target_has_exactly_one_rule_and_every_rule_target_is_in_the_table():
    rules = load_rules()
    table = set(op_table.ATEN_TO_OPS)
    assert set(rules) - table == set(), f"rules for targets the op table does not list: {sorted(set(rules) - table)}"
    assert table - set(rules) == set(), f"op table lists targets without a lowering rule: {sorted(table - set(rules))}"


def test_lowering_files_name_no_aten_target_in_full_when_registering():
    """`@lowers` names op-table entries and ATen names; a full target there would be a second copy of the table."""
    written = [f"{p.name}: {m}" for p in LOWERING_DIR.glob("*.py")
               for m in re.findall(r"@lowers\([^)]*\"aten\.[^)]*\)", p.read_text())]
    assert not written, written


def test_a_target_named_with_its_overload_goes_to_that_rule():
    load_rules()
    assert RULES["aten.div.Tensor_mode"].__name__ == "lower_div_mode"
    assert RULES["aten.div.Tensor"].__name__ == RULES["aten.div.Scalar"].__name__ == "lower_binary"
    assert RULES["aten.clamp.Tensor"].__name__ == "lower_clamp_tensor"
    assert RULES["aten.clamp.default"].__name__ == "lower_unary"


def test_names_the_op_table_does_not_list_fail_at_registration():
    with pytest.raises(ValueError, match="not an op"):
        lowers("no_such_op")
    with pytest.raises(ValueError, match=r"lists no ATen target aten\.cumprod\.\*"):
        lowers("cumsum", "cumprod")
    with pytest.raises(ValueError, match=r"aten\.sum\.dim"):
        lowers("reduce", "sum.dim")  # an overload is named in full


def test_a_second_rule_for_a_target_is_refused_and_registers_nothing():
    load_rules()
    before = dict(RULES)

    def lower_sum_again(ctx, node):
        raise AssertionError("never called")

    # sum.default alone could go to the new rule (named by overload), but prod makes the whole registration fail
    with pytest.raises(ValueError, match="aten.prod.dim_int has two lowering rules: lower_prod and lower_sum_again"):
        lowers("reduce", "sum.default", "prod")(lower_sum_again)
    with pytest.raises(ValueError, match="aten.div.Tensor_mode has two lowering rules"):
        lowers("binary", "div.Tensor_mode")(lower_sum_again)
    assert RULES == before
