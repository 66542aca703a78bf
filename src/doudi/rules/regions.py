"""Region codes (GB/T 2260) known to the rules, and the parent chain used for parameter fallback.

Fallback rule (documented in docs/rules.md): a 12-, 9- or 6-digit code resolves through
``code → county (first 6 digits) → city (first 4 digits + "00") → province (first 2 digits + "0000")``
and finally the ``default`` key of a parameter.  Duplicates are dropped, so ``460400499`` (洋浦) resolves
``460400499 → 460400 → 460000`` and ``469001`` (五指山) resolves ``469001 → 469000 → 460000``.
"""

from __future__ import annotations

from .errors import RulesInputError

# Source: rules-cn.md §9.2 (GB/T 2260 as in modood/Administrative-divisions-of-China).
KNOWN_REGIONS: dict[str, str] = {
    "460000": "海南省",
    "460100": "海口市",
    "460105": "秀英区",
    "460106": "龙华区",
    "460107": "琼山区",
    "460108": "美兰区",
    "460200": "三亚市",
    "460202": "海棠区",
    "460203": "吉阳区",
    "460204": "天涯区",
    "460205": "崖州区",
    "460300": "三沙市",
    "460321": "西沙群岛",
    "460322": "南沙群岛",
    "460323": "中沙群岛的岛礁及其海域",
    "460400": "儋州市",
    "460400499": "洋浦经济开发区",
    "469000": "省直辖县级行政区划",
    "469001": "五指山市",
    "469002": "琼海市",
    "469003": "儋州市（旧码）",
    "469005": "文昌市",
    "469006": "万宁市",
    "469007": "东方市",
    "469021": "定安县",
    "469022": "屯昌县",
    "469023": "澄迈县",
    "469024": "临高县",
    "469025": "白沙黎族自治县",
    "469026": "昌江黎族自治县",
    "469027": "乐东黎族自治县",
    "469028": "陵水黎族自治县",
    "469029": "保亭黎族苗族自治县",
    "469030": "琼中黎族苗族自治县",
}

DEFAULT_KEY = "default"


def _check_shape(code: str) -> None:
    if not isinstance(code, str) or not code.isdigit() or len(code) not in (6, 9, 12):
        raise ValueError(f"region code must be a 6-, 9- or 12-digit string, got {code!r}")


def region_chain(code: str) -> list[str]:
    """Parent chain of ``code`` (most specific first), without the ``default`` key."""
    _check_shape(code)
    chain: list[str] = []
    for candidate in (code, code[:6], code[:4] + "00", code[:2] + "0000"):
        if candidate not in chain:
            chain.append(candidate)
    return chain


def validate_region(code: object, field: str = "region_code") -> str:
    """Return ``code`` if it is known (or is a township/village code under a known county)."""
    if not isinstance(code, str):
        raise RulesInputError(field, f"must be a string region code, got {type(code).__name__}")
    try:
        _check_shape(code)
    except ValueError as exc:
        raise RulesInputError(field, str(exc)) from None
    if code in KNOWN_REGIONS or (len(code) > 6 and code[:6] in KNOWN_REGIONS):
        return code
    raise RulesInputError(field, f"unknown region code {code!r}")


def region_name(code: str) -> str | None:
    return KNOWN_REGIONS.get(code)
