"""Loader and checker for the YAML variable tests (tests/yaml/<program>/<variable>.yaml).

Each file is a list of tests::

    - name: A family of three with 600 yuan income receives the difference   # a sentence
      reference: 最低生活保障审核审批办法 2012 art. 27                           # optional citation
      input:            # a case; as_of / region_code / area default to BASE below
        household: {members: [...], incomes: [...]}
      output:           # expected values; member variables as {member id: value}
        dibao_amount: "660.00"

Money is compared as Decimal (``"660"`` equals ``660.00``); member and row maps may be partial.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from doudi.rules.parameters import load_yaml

YAML_ROOT = Path(__file__).parent / "yaml"
BASE: dict[str, Any] = {"as_of": "2019-06-01", "region_code": "469001", "area": "rural"}


@dataclass(frozen=True)
class YamlTest:
    program: str
    variable: str
    name: str
    case: dict[str, Any]
    output: dict[str, Any]
    error_field: str | None
    file: Path

    @property
    def id(self) -> str:
        return f"{self.program}/{self.variable}: {self.name}"


def load_tests(root: Path = YAML_ROOT) -> list[YamlTest]:
    tests: list[YamlTest] = []
    for file in sorted(root.rglob("*.yaml")):
        program = file.relative_to(root).parts[0]
        doc = load_yaml(file.read_text(encoding="utf-8"))
        if not isinstance(doc, list) or not doc:
            raise ValueError(f"{file}: expected a non-empty list of tests")
        for item in doc:
            unknown = set(item) - {"name", "reference", "input", "output", "error_field", "program"}
            if unknown or "name" not in item or "input" not in item:
                raise ValueError(f"{file}: bad test {item.get('name')!r} (keys {sorted(item)})")
            if "output" not in item and "error_field" not in item:
                raise ValueError(f"{file}: test {item['name']!r} needs output or error_field")
            case = {**BASE, **item["input"]}
            tests.append(
                YamlTest(
                    program=item.get("program", program),
                    variable=file.stem,
                    name=item["name"],
                    case=case,
                    output=item.get("output") or {},
                    error_field=item.get("error_field"),
                    file=file,
                )
            )
    return tests


def _norm(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | Decimal | float):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


def compare(name: str, actual: Any, expected: Any) -> list[str]:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{name}: expected a per-member map, got {actual!r}"]
        errors = []
        for key, exp in expected.items():
            if str(key) not in actual:
                errors.append(f"{name}[{key}]: no such member")
            else:
                errors.extend(compare(f"{name}[{key}]", actual[str(key)], exp))
        return errors
    if _norm(actual) != _norm(expected):
        return [f"{name}: expected {expected!r}, got {actual!r}"]
    return []
