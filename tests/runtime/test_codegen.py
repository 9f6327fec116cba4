"""The op table and error catalogue are the single sources of truth: generated C files must match them."""
import re

from pockettorch import errors
from pockettorch.runtime import codegen, op_table


def test_checked_in_generated_files_match_the_tables():
    stale = [rel for rel, text in codegen.render_all().items() if (codegen.RUNTIME_DIR / rel).read_text() != text]
    assert not stale, f"run `python -m pockettorch.runtime.codegen`: stale {stale}"


def test_c_status_enum_agrees_with_the_catalogue():
    header = (codegen.RUNTIME_DIR / "include/pockettorch/status.h").read_text()
    found = {name: int(code) for name, code in re.findall(r"PKT_(\w+) = (\d+),", header)}
    assert found == {e.name: e.code for e in errors.CATALOGUE}


def test_python_exceptions_agree_with_the_catalogue():
    from pockettorch.runtime import _native

    for spec in errors.CATALOGUE:
        name, message, hint = _native.status_info(spec.code)
        assert (name, message, hint) == (f"PKT_{spec.name}", spec.message, spec.hint)
        if spec.code:
            exc = errors.error_for_code(spec.code, "detail")
            assert exc.code == spec.code and exc.status_name == spec.name and exc.hint == spec.hint
            assert isinstance(exc, errors.PocketTorchError)


def test_catalogue_codes_are_unique_and_grouped():
    codes = [e.code for e in errors.CATALOGUE]
    assert len(codes) == len(set(codes))
    for e in errors.CATALOGUE:
        assert e.code == 0 or e.message.endswith(".") and e.hint.endswith(".")


def test_op_codes_are_unique_and_every_kernel_file_exists():
    codes = [op.code for op in op_table.OPS]
    assert len(codes) == len(set(codes))
    for op in op_table.OPS:
        assert (codegen.RUNTIME_DIR / "kernels" / f"{op.kernel}.c").is_file(), f"kernel file for {op.name} missing"
