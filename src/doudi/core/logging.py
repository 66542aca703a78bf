"""Keep personal data out of logs: ID numbers and mobile numbers are masked in every record."""

from __future__ import annotations

import logging
import re

_ID_RE = re.compile(r"(?<!\d)(\d{6})(\d{8})(\d{3}[\dXx])(?!\d)")
_ID15_RE = re.compile(r"(?<!\d)(\d{6})(\d{6})(\d{3})(?!\d)")
_PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_personal_data(text: str) -> str:
    text = _ID_RE.sub(lambda m: m.group(1) + "*" * 12, text)
    text = _ID15_RE.sub(lambda m: m.group(1) + "*" * 9, text)
    return _PHONE_RE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


class PersonalDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        masked = mask_personal_data(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
