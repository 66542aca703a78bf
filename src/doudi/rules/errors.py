"""Errors raised by the rules package.

Every input problem surfaces as a :class:`RulesInputError` naming the offending field, so callers (the
API, the CLI, batch jobs) can map it to a message without catching anything deeper.
"""

from __future__ import annotations


class RulesError(Exception):
    """Base class for errors raised by ``doudi.rules``."""


class RulesInputError(RulesError, ValueError):
    """Bad input: the field path (e.g. ``household.members[2].birth_date``) and a message."""

    code = "rules_input_error"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "field": self.field}


class ParameterNotFound(RulesInputError):
    """No parameter value for a path / region / area / date."""

    code = "parameter_not_found"

    def __init__(self, path: str, message: str, field: str = "parameters") -> None:
        super().__init__(field, f"{path}: {message}")
        self.path = path


class ParameterFileError(RulesError):
    """A parameter YAML file is malformed (a packaging bug, not bad user input)."""
