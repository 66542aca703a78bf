"""Tracking numbers (受理编号) for complaints: unguessable, easy to read aloud, with a check character.

* 19 random characters from `secrets` over a 31-character alphabet (digits 2-9 and A-Z without I, L, O: nothing
  that reads like 0/O, 1/I/L) = 19 × log2(31) ≈ 94 bits of randomness.
* One check character: sum of (position × value) mod 31. As 31 is prime and every weight is below it, any single
  wrong character and any swap of two characters changes the sum, so typos are caught before any lookup.
* Shown in five groups of four: `7KQ3-MZ2R-...`. Input is read leniently (case, spaces, dashes).
"""

from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BASE = len(ALPHABET)  # 31, prime
RANDOM_LENGTH = 19
LENGTH = RANDOM_LENGTH + 1
GROUP = 4
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
RANDOM_BITS = RANDOM_LENGTH * 4.95419631  # log2(31)


def check_character(body: str) -> str:
    total = sum((position + 1) * _VALUE[char] for position, char in enumerate(body))
    return ALPHABET[total % BASE]


def generate() -> str:
    """A new tracking number in canonical form (20 characters, no dashes)."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return body + check_character(body)


def display(number: str) -> str:
    return "-".join(number[i : i + GROUP] for i in range(0, len(number), GROUP))


class Invalid(ValueError):
    """`reason` is "format" (length or characters) or "check" (the check character does not match)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalise(raw: str) -> str:
    """The canonical form of what a person typed, or Invalid."""
    text = "".join(ch for ch in str(raw or "").upper() if ch not in " -_\t\u3000－—")
    if len(text) != LENGTH or any(ch not in _VALUE for ch in text):
        raise Invalid("format")
    if check_character(text[:-1]) != text[-1]:
        raise Invalid("check")
    return text
