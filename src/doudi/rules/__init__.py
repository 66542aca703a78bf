"""doudi.rules — social-assistance rules as code (pure Python: no Django, no other doudi package).

Public API::

    from doudi.rules import evaluate, evaluate_caseload, load_parameters, RulesInputError
    det = evaluate("dibao", case)          # one household -> Determination
    det.to_json()

See docs/rules.md for the input contract, parameters, rounding and region fallback.  Names are imported
lazily so that ``import doudi.rules.errors`` (or registering the CLI) does not load Ibis and DuckDB.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import ParameterNotFound, RulesError, RulesInputError
    from .evaluation import Determination, TraceEntry, evaluate, evaluate_caseload, rules_version
    from .parameters import Change, ParameterSet, ParameterValue, load_parameters
    from .programs import PROGRAMS, get_program

_EXPORTS = {
    "ParameterNotFound": ".errors",
    "RulesError": ".errors",
    "RulesInputError": ".errors",
    "Determination": ".evaluation",
    "TraceEntry": ".evaluation",
    "evaluate": ".evaluation",
    "evaluate_caseload": ".evaluation",
    "rules_version": ".evaluation",
    "Change": ".parameters",
    "ParameterSet": ".parameters",
    "ParameterValue": ".parameters",
    "load_parameters": ".parameters",
    "PROGRAMS": ".programs",
    "get_program": ".programs",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PROGRAMS",
    "Change",
    "Determination",
    "ParameterNotFound",
    "ParameterSet",
    "ParameterValue",
    "RulesError",
    "RulesInputError",
    "TraceEntry",
    "evaluate",
    "evaluate_caseload",
    "get_program",
    "load_parameters",
    "rules_version",
]
