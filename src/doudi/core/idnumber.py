"""Resident ID numbers per GB 11643-1999 (18 digits; 15-digit numbers are converted).

Structure: 6-digit address code + YYYYMMDD + 3-digit sequence (odd = male) + check character
(ISO 7064 MOD 11-2). The address code is the one valid when the number was issued, so obsolete
codes (e.g. 469003 儋州市) are accepted: the caller passes the set of known and obsolete codes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"

# Province-level prefixes (GB/T 2260), used when the full address-code list is not loaded for a province.
PROVINCE_PREFIXES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)


class IdNumberError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class IdNumber:
    number: str
    address_code: str
    birth_date: dt.date
    sex: str  # "1" male, "2" female (GB/T 2261.1)


def check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def upgrade_15(number: str) -> str:
    """Convert an old 15-digit number: insert '19' after the address code, append the check character."""
    body = number[:6] + "19" + number[6:]
    return body + check_char(body)


def parse(raw: str, *, address_known: Callable[[str], bool] | None = None, today: dt.date | None = None) -> IdNumber:
    """Validate and normalise an ID number; raise IdNumberError with a Chinese message on failure."""
    number = (raw or "").strip().upper().replace(" ", "")
    if not number:
        raise IdNumberError("id_required", "身份证号码不能为空")
    if len(number) == 15:
        if not number.isdigit():
            raise IdNumberError("id_format", "15位身份证号码只能包含数字")
        number = upgrade_15(number)
    elif len(number) != 18:
        raise IdNumberError("id_length", f"身份证号码应为18位（或旧式15位），实际为{len(number)}位")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise IdNumberError("id_format", "身份证号码前17位必须为数字，最后一位为数字或X")
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdNumberError("id_birth_date", f"身份证号码中的出生日期{number[6:14]}不是有效日期") from None
    today = today or dt.date.today()
    if birth > today or birth.year < 1880:
        raise IdNumberError("id_birth_date", f"身份证号码中的出生日期{number[6:14]}不合理")
    expected = check_char(number[:17])
    if number[17] != expected:
        raise IdNumberError("id_checksum", "身份证号码校验位错误，请核对是否录入有误")
    address = number[:6]
    known = address_known(address) if address_known else address[:2] in PROVINCE_PREFIXES
    if not known:
        raise IdNumberError("id_address", f"身份证号码的地址码{address}不是已知或曾用的行政区划代码")
    sex = "1" if int(number[16]) % 2 == 1 else "2"
    return IdNumber(number=number, address_code=address, birth_date=birth, sex=sex)


def make(address_code: str, birth: dt.date, sequence: int) -> str:
    """Build a valid 18-digit number (synthetic data and tests). sequence: 0-999; odd = male."""
    body = f"{address_code}{birth:%Y%m%d}{sequence:03d}"
    return body + check_char(body)


def mask(number: str) -> str:
    """Mask for display to staff outside the handling office and for any export that is not personal."""
    if len(number) < 8:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]
