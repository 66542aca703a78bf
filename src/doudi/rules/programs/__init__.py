"""Registry of programs."""

from __future__ import annotations

from ..errors import RulesInputError
from ..model import Program
from .dibao import dibao
from .disability import disability
from .funeral import funeral
from .tekun import tekun
from .temporary import temporary

PROGRAMS: dict[str, Program] = {p.name: p for p in (dibao, tekun, temporary, disability, funeral)}


def get_program(name: object) -> Program:
    if not isinstance(name, str) or name not in PROGRAMS:
        raise RulesInputError("program", f"unknown program {name!r}; known: {', '.join(sorted(PROGRAMS))}")
    return PROGRAMS[name]


__all__ = ["PROGRAMS", "get_program"]
