"""Small expression helpers that keep decimal arithmetic exact and identical across backends.

Backends differ: DuckDB turns DECIMAL / INT into DOUBLE and overflows DECIMAL(18, s) × DECIMAL(18, s)
above 10^6; Spark widens and may reduce scale.  So every product goes through :func:`mul` (operands
widened to DECIMAL(38, 6)), every variable is cast to its declared type, and the only division (per-capita
display values) is done in integer micro-yuan by :func:`per_capita`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

MONEY = dt.Decimal(18, 6)
AMOUNT = dt.Decimal(18, 2)
WIDE = dt.Decimal(38, 6)
INT = dt.int64

DTYPES: dict[str, dt.DataType] = {
    "money": MONEY,
    "rate": MONEY,
    "amount": AMOUNT,
    "int": dt.int64,
    "bool": dt.boolean,
    "str": dt.string,
    "date": dt.date,
    "list_str": dt.Array(dt.string),
    "list_rate": dt.Array(MONEY),
}


def dec(value: str | int | Decimal) -> ir.DecimalScalar:
    """A DECIMAL(18, 6) literal."""
    return cast(ir.DecimalScalar, ibis.literal(Decimal(value), type=MONEY))


def to_type(expr: Any, dtype: str, force: bool = False) -> ir.Value:
    """Cast ``expr`` to a variable dtype; decimals are always cast explicitly (see module docstring).

    ``force`` also forces integer casts (DuckDB sums BIGINT into HUGEINT while Ibis believes int64).
    """
    target = DTYPES[dtype]
    value = expr if isinstance(expr, ir.Value) else ibis.literal(expr)
    if force and target.is_integer():
        if value.type() == target:
            value = value.cast(dt.Decimal(38, 0))
        return value.cast(target)
    if target.is_decimal():
        assert isinstance(target, dt.Decimal)
        # Ibis drops a cast when it believes the type already matches, but backends may disagree about
        # the real type (DuckDB: DECIMAL(18,6) + DECIMAL(18,6) is DECIMAL(19,6)); go through WIDE first.
        if value.type() == target:
            value = value.cast(dt.Decimal(38, target.scale))
        return value.cast(target)
    if value.type() == target:
        return value
    return value.cast(target)


def wide(expr: Any) -> ir.NumericValue:
    value = expr if isinstance(expr, ir.Value) else ibis.literal(Decimal(expr), type=WIDE)
    if value.type() == WIDE:
        return cast(ir.NumericValue, value)
    return cast(ir.NumericValue, value.cast(WIDE))


NARROW = dt.Decimal(18, 12)
INT_WIDE = dt.Decimal(38, 0)
_NARROW_LIMIT = Decimal(1_000_000)  # |x| < 10^6 fits DECIMAL(18, 12)


def _factor(value: Any) -> tuple[ir.NumericValue, int]:
    """A product operand and its scale: integers as DECIMAL(38, 0), everything else DECIMAL(38, 6)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return cast(ir.NumericValue, ibis.literal(Decimal(value), type=INT_WIDE)), 0
    if isinstance(value, ir.Value) and value.type().is_integer():
        return cast(ir.NumericValue, value.cast(INT_WIDE)), 0
    return wide(value), 6


def _scale_down(product: ir.NumericValue) -> ir.NumericValue:
    """A DECIMAL(38, 12) product as DECIMAL(18, 6), rounded half away from zero.

    Re-scaling a 128-bit decimal divides 128-bit integers, which DuckDB does ~25× slower than 64-bit ones and
    which dominated caseload runs (one per product per row); products below 10^6 in magnitude (nearly all:
    money × rate) go through DECIMAL(18, 12), 64-bit, instead. Both branches give the same value.
    """
    small = (product < ibis.literal(_NARROW_LIMIT)) & (product > ibis.literal(-_NARROW_LIMIT))
    fast = product.cast(NARROW).cast(MONEY)
    return cast(ir.NumericValue, ibis.ifelse(small, fast, product.cast(WIDE).cast(MONEY)))


def mul(*factors: Any) -> ir.NumericValue:
    """Exact product of decimals/ints as DECIMAL(18, 6).

    Operands are widened (DuckDB overflows DECIMAL(18, 6) × DECIMAL(18, 6) above 10^6); a product of two
    decimals (scale 12) is brought back to scale 6 before the next factor — exact, since money has at most 2
    and rates at most 4 decimal places — and integer operands do not add to the scale at all.
    """
    result, scale = _factor(factors[0])
    for f in factors[1:]:
        operand, extra = _factor(f)
        result = cast(ir.NumericValue, result * operand)
        scale += extra
        if scale > 6:
            result, scale = wide(_scale_down(result)), 6
    return cast(ir.NumericValue, to_type(result, "money"))


def money(expr: Any) -> ir.NumericValue:
    return cast(ir.NumericValue, to_type(expr, "money"))


def zero() -> ir.DecimalScalar:
    return dec(0)


def clamp0(expr: ir.NumericValue) -> ir.NumericValue:
    """max(0, expr) as DECIMAL(18, 6)."""
    return money(ibis.greatest(money(expr), zero()))


def full_years(birth: ir.DateValue, as_of: ir.DateValue) -> ir.IntegerValue:
    """Age in full years (周岁) at ``as_of``.

    One explicit formula because backends disagree on date differences.  A person born on 29 February
    turns a year older on 1 March in non-leap years.
    """
    before_birthday = (as_of.month() * 100 + as_of.day()) < (birth.month() * 100 + birth.day())
    years = as_of.year() - birth.year() - ibis.ifelse(before_birthday, 1, 0)
    return cast(ir.IntegerValue, years.cast(INT))


def per_capita(total: ir.NumericValue, size: ir.IntegerValue) -> ir.NumericValue:
    """``total / size`` rounded half-up to 6 decimal places, using integer micro-yuan arithmetic.

    Display only: eligibility compares ``total < standard × size`` exactly instead.
    """
    micro = mul(total, 1_000_000).cast(INT)
    n = ibis.greatest(size.cast(INT), 1)
    quotient = ((micro * 2 + n) // (n * 2)).cast(INT)
    value = mul(quotient, dec("0.000001"))
    return cast(ir.NumericValue, ibis.ifelse(size > 0, value, ibis.null(MONEY)))


def round_amount(expr: ir.NumericValue) -> ir.NumericValue:
    """The single rounding step: to 0.01 yuan, half-up (amounts are non-negative, so DuckDB's
    half-away-from-zero and Spark's HALF_UP agree)."""
    return cast(ir.NumericValue, to_type(money(expr).round(2), "amount"))
