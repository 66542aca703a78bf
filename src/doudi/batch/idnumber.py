"""Resident ID numbers (GB 11643-1999) as vectorised Ibis expressions.

A valid number has 18 characters: 17 digits and a check character computed with ISO 7064 MOD 11-2
(weights ``7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2``, check = ``"10X98765432"[sum mod 11]``).  The address
and birth-date parts are not checked: numbers keep the address code valid when they were issued
(rules-cn.md §9.2-9.3), and sources are matched exactly against the registry anyway.

The digits are read from two integers of 9 and 8 digits so that every step is exact on every backend
(PySpark compiles integer floor division through DOUBLE, which is exact below 2^53).
"""

from __future__ import annotations

from typing import cast

import ibis
import ibis.expr.types as ir

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
ID_PATTERN = r"^[0-9]{17}[0-9X]$"


def check_char(first17: str) -> str:
    """The check character for 17 digits (pure Python, used by tests and data generators)."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def is_valid_id(value: object) -> bool:
    """Pure-Python twin of :func:`valid_id_expr`."""
    if not isinstance(value, str) or len(value) != 18:
        return False
    head, last = value[:17], value[17]
    if not head.isascii() or not head.isdigit() or last not in "0123456789X":
        return False
    return check_char(head) == last


# Blanks trimmed from both ends of every text value: space, \t, \n, \v, \f, \r (the same on every backend;
# ``StringValue.strip`` trims different sets on DuckDB and Spark).
_BLANKS_RE = r"^[ \t\n\r\x0b\x0c]+|[ \t\n\r\x0b\x0c]+$"


def strip_blanks(value: ir.StringValue) -> ir.StringValue:
    """``value`` without leading and trailing blanks.

    The trim runs only on values whose first or last character sorts before ``!`` (every blank does): that
    test is several times cheaper than trimming every value, and nearly every value is already clean.
    """
    padded = ((value < "!") | (value.right(1) < "!")).fill_null(False)
    return cast(ir.StringValue, ibis.ifelse(padded, value.re_replace(_BLANKS_RE, ""), value))


def normalise_id_expr(raw: ir.Value) -> ir.StringValue:
    """Trim and upper-case an ID column (a lower-case ``x`` check character is common); ``''`` → NULL."""
    text = strip_blanks(cast(ir.StringValue, raw.cast("string"))).upper()
    return cast(ir.StringValue, text.nullif(""))


def with_id_check(table: ir.Table, column: str, out: str) -> ir.Table:
    """``table`` plus a boolean column ``out``: ``column`` (already normalised) is a valid ID number.

    Built in stages (parts, then the weighted sum, then the comparison) because backends do not share
    repeated sub-expressions: written as one expression, DuckDB recomputes the digit parts for every term
    and the check is about six times slower.
    """
    value = table[column]
    parts = {
        "_id_shape": value.re_search(ID_PATTERN),
        # try_cast: PySpark runs in ANSI mode and would raise on a bad cast even inside a guarded branch.
        "_id_hi": value.substr(0, 9).try_cast("int64"),  # digits 1-9
        "_id_lo": value.substr(9, 8).try_cast("int64"),  # digits 10-17
        "_id_last": value.substr(17, 1),
    }
    t = table.mutate(**parts)
    total: ir.IntegerValue = ibis.literal(0, type="int64")
    for pos, weight in enumerate(WEIGHTS):
        digit = (t._id_hi // (10 ** (8 - pos))) % 10 if pos < 9 else (t._id_lo // (10 ** (16 - pos))) % 10
        total = total + digit * weight
    t = t.mutate(_id_sum=total)
    # "10X98765432"[r] is the character whose value is (12 - r) mod 11, with X for 10.
    expected = (12 - t._id_sum % 11) % 11
    actual = ibis.ifelse(t._id_last == "X", 10, t._id_last.try_cast("int64"))
    ok = (t._id_shape & (actual == expected)).fill_null(False)
    return t.mutate(**{out: ok}).drop(*parts, "_id_sum")


def valid_id_expr(id_number: ir.StringValue) -> ir.BooleanValue:
    """Single-expression form of :func:`with_id_check` (for small inputs; prefer the staged form)."""
    shape_ok = id_number.re_search(ID_PATTERN)
    high = id_number.substr(0, 9).try_cast("int64")
    low = id_number.substr(9, 8).try_cast("int64")
    total: ir.IntegerValue = ibis.literal(0, type="int64")
    for pos, weight in enumerate(WEIGHTS):
        digit = (high // (10 ** (8 - pos))) % 10 if pos < 9 else (low // (10 ** (16 - pos))) % 10
        total = total + digit * weight
    last = id_number.substr(17, 1)
    actual = ibis.ifelse(last == "X", 10, last.try_cast("int64"))
    return cast(ir.BooleanValue, (shape_ok & (actual == (12 - total % 11) % 11)).fill_null(False))
