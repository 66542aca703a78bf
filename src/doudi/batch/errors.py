"""Errors raised by batch jobs.

A :class:`BatchInputError` means the run refuses to start: the CLI prints ``to_dict()`` as JSON on stderr and
exits with code 2.  ``field`` names the file and, where it applies, the column (``sources/vehicles.csv:value``).
"""

from __future__ import annotations


class BatchInputError(ValueError):
    """Bad input that stops a batch run before it starts."""

    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.code = code
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "field": self.field}
