"""Runs every YAML variable test (see yamltests.py)."""

from __future__ import annotations

import pytest

from doudi.rules import RulesInputError, evaluate

from .yamltests import compare, load_tests

TESTS = load_tests()


@pytest.mark.parametrize("test", TESTS, ids=[t.id for t in TESTS])
def test_yaml(test):
    if test.error_field is not None:
        with pytest.raises(RulesInputError) as info:
            evaluate(test.program, test.case)
        assert info.value.field == test.error_field
        return
    determination = evaluate(test.program, test.case)
    errors: list[str] = []
    for name, expected in test.output.items():
        if name in ("eligible", "monthly_amount", "failed_tests", "household_size", "countable_income",
                    "per_capita_income", "standard"):
            actual = getattr(determination, name)
            if name == "failed_tests":
                actual = list(actual)
        else:
            actual = determination.value(name)
        errors.extend(compare(name, actual, expected))
    assert not errors, "\n".join(errors)
