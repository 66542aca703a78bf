"""Code health: every variable has a label, a reference and a YAML test; rules import nothing else."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from doudi.rules import PROGRAMS, load_parameters
from doudi.rules.evaluation import _compile

from .yamltests import YAML_ROOT, load_tests

RULES_ROOT = Path(__file__).resolve().parents[1]
ALL_VARIABLES = [v for p in PROGRAMS.values() for v in p.variables.values()]
TYPE_OF_DTYPE = {"money": "money", "rate": "rate", "int": "int", "bool": "bool", "str": "str",
                 "list_str": "list_str", "list_rate": "list_rate"}


@pytest.mark.parametrize("var", ALL_VARIABLES, ids=[v.name for v in ALL_VARIABLES])
def test_variable_has_label_and_reference(var):
    assert var.label.strip()
    assert var.reference.strip()
    assert var.name.startswith(var.program + "_")


FORMULA_VARIABLES = [v for v in ALL_VARIABLES if v.parameter is None]


@pytest.mark.parametrize("var", FORMULA_VARIABLES, ids=[v.name for v in FORMULA_VARIABLES])
def test_variable_has_a_yaml_test_that_checks_it(var):
    file = YAML_ROOT / var.program / f"{var.name}.yaml"
    assert file.exists(), f"missing {file.relative_to(RULES_ROOT)}"
    tests = [t for t in load_tests() if t.file == file]
    assert any(var.name in t.output for t in tests), f"no test in {file.name} checks {var.name}"


def test_every_yaml_file_is_named_after_a_variable():
    names = {(v.program, v.name) for v in ALL_VARIABLES}
    for file in YAML_ROOT.rglob("*.yaml"):
        assert (file.parent.name, file.stem) in names, file


def test_parameter_variables_match_parameter_files():
    params = load_parameters()
    used = set()
    for var in ALL_VARIABLES:
        if var.parameter is None:
            continue
        assert var.parameter in params, var.parameter
        assert TYPE_OF_DTYPE[var.dtype] == params.parameter(var.parameter).type, var.name
        used.add(var.parameter)
    # Parameters under a program's namespace must be used by it (others, e.g. verification.*, belong to
    # batch jobs that read them through ParameterSet directly).
    program_params = {p for p in params.parameters if p.split(".")[0] in PROGRAMS}
    assert program_params - used == set(), "parameter files no program uses"


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_program_compiles(program):
    prog = PROGRAMS[program]
    assert prog.eligible in prog.variables and prog.amount in prog.variables
    assert all(t in prog.variables for t in prog.tests)
    _compile(prog)


def test_rules_import_only_the_standard_library_third_party_and_doudi_rules():
    forbidden = ("django", "ninja")
    for file in RULES_ROOT.rglob("*.py"):
        tree = ast.parse(file.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top not in forbidden, f"{file}: imports {name}"
                if top == "doudi":
                    assert name.startswith("doudi.rules"), f"{file}: imports {name}"


def test_docs_list_every_parameter_and_input_field():
    from doudi.rules.inputs import CASE_KEYS, HOUSEHOLD_KEYS, MEMBER_KEYS, REQUEST_KEYS

    docs = RULES_ROOT.parents[2] / "docs" / "rules.md"
    if not docs.exists():
        pytest.skip("docs/rules.md not present")
    text = docs.read_text(encoding="utf-8")
    for path in load_parameters().parameters:
        assert f"`{path}`" in text, f"docs/rules.md does not list parameter {path}"
    for key in CASE_KEYS:
        assert f"`{key}" in text, key
    for key in HOUSEHOLD_KEYS:
        assert f"`household.{key}" in text, key
    for key in MEMBER_KEYS:
        assert f"`household.members[].{key}`" in text, key
    for key in REQUEST_KEYS:
        assert f"`request.{key}`" in text, key
