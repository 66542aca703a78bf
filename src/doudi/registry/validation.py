"""Field validation shared by forms, the API and imports: each failure names its field."""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import re
from collections.abc import Callable
from typing import Any

from django.utils import translation

from doudi.core import idnumber
from doudi.core.errors import ApplicationError
from doudi.registry.choices import (
    ETHNIC_GROUPS,
    AssetKind,
    DisabilityCategory,
    ExpenseKind,
    HukouType,
    IncomeKind,
    LabourCapacity,
    LeftBehind,
    PovertyStatus,
    Relation,
    Sex,
)

# Chinese names (incl. rare CJK extension characters), the middle dot of minority names, Latin letters.
NAME_RE = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0002ebef·•A-Za-z ]{1,40}$")
ADDRESS_FORBIDDEN_RE = re.compile(r"[<>{}\\\x00-\x1f\x7f]")
MAX_MONEY = decimal.Decimal("99999999.99")


def _fail(field: str, message: str, code: str = "invalid") -> ApplicationError:
    return ApplicationError(code, message, field)


def clean_name(value: Any, field: str = "name") -> str:
    text = str(value or "").strip()
    if not text:
        raise _fail(field, "姓名不能为空", "required")
    if not NAME_RE.match(text):
        raise _fail(field, "姓名只能包含汉字、字母、间隔号“·”和空格，不能包含符号、数字或网页代码")
    return text


def clean_text(value: Any, field: str, *, label: str, max_length: int, required: bool = True) -> str:
    text = str(value or "").strip()
    if not text:
        if required:
            raise _fail(field, f"{label}不能为空", "required")
        return ""
    if len(text) > max_length:
        raise _fail(field, f"{label}不能超过{max_length}个字符")
    if ADDRESS_FORBIDDEN_RE.search(text):
        raise _fail(field, f"{label}不能包含尖括号、花括号、反斜杠或控制字符")
    return text


def clean_choice(value: Any, field: str, choices: Any, *, label: str, blank: bool = False) -> str:
    text = str(value if value is not None else "").strip()
    if blank and text == "":
        return ""
    if not hasattr(choices, "values"):
        if text in set(choices):
            return text
        raise _fail(field, f"{label}“{text}”不是有效取值")
    codes, by_label = _choice_maps(choices, translation.get_language() or "")
    if text in codes:
        return text
    # accept the label as well as the code (imports use the Chinese labels)
    if text in by_label:
        return by_label[text]
    raise _fail(field, f"{label}“{text}”不是有效取值")


@functools.cache
def _choice_maps(choices: Any, language: str) -> tuple[frozenset[str], dict[str, str]]:
    """Codes and label → code of a choices class, built once per class and active language (labels are lazy
    translations, so the language is part of the key)."""
    codes = frozenset(str(v) for v in choices.values)
    by_label: dict[str, str] = {}
    for code, display in choices.choices:
        by_label.setdefault(str(display), str(code))
    return codes, by_label


def clean_bool(value: Any, field: str, *, label: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in {"1", "true", "yes", "y", "是", "有"}:
        return True
    if text in {"", "0", "false", "no", "n", "否", "无"}:
        return False
    raise _fail(field, f"{label}应填“是”或“否”")


def clean_date(
    value: Any, field: str, *, label: str, required: bool = True, not_after: dt.date | None = None
) -> dt.date | None:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        result = value
    else:
        text = str(value or "").strip()
        if not text:
            if required:
                raise _fail(field, f"{label}不能为空", "required")
            return None
        text = text.replace("/", "-").replace(".", "-")
        if re.fullmatch(r"\d{8}", text):
            text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
        try:
            result = dt.date.fromisoformat(text)
        except ValueError:
            raise _fail(field, f"{label}“{text}”不是有效日期，请使用YYYY-MM-DD格式") from None
    if result.year < 1880:
        raise _fail(field, f"{label}不合理")
    if not_after is not None and result > not_after:
        raise _fail(field, f"{label}不能晚于{not_after.isoformat()}")
    return result


def clean_money(value: Any, field: str, *, label: str) -> decimal.Decimal:
    if isinstance(value, float):
        raise _fail(field, f"{label}必须以十进制文本或Decimal提供，不接受浮点数")
    text = str(value if value is not None else "").strip().replace(",", "").replace("，", "")
    if not text:
        raise _fail(field, f"{label}不能为空", "required")
    try:
        amount = decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise _fail(field, f"{label}“{text}”不是有效金额") from None
    if not amount.is_finite():
        raise _fail(field, f"{label}不是有效金额")
    if amount < 0:
        raise _fail(field, f"{label}不能为负数")
    if amount > MAX_MONEY:
        raise _fail(field, f"{label}超出允许范围")
    if amount != amount.quantize(decimal.Decimal("0.01")):
        raise _fail(field, f"{label}最多保留两位小数（分）")
    return amount.quantize(decimal.Decimal("0.01"))


def clean_int(value: Any, field: str, *, label: str, minimum: int = 0, maximum: int = 10_000) -> int:
    text = str(value if value is not None else "").strip()
    try:
        number = int(text)
    except ValueError:
        raise _fail(field, f"{label}必须是整数") from None
    if not minimum <= number <= maximum:
        raise _fail(field, f"{label}应在{minimum}到{maximum}之间")
    return number


def clean_person(
    data: dict[str, Any], *, address_known: Callable[[str], bool], prefix: str = "", today: dt.date | None = None
) -> dict[str, Any]:
    """Validate a person's fields; the ID number decides sex and birth date, which must agree if given."""
    today = today or dt.date.today()

    def f(name: str) -> str:
        return f"{prefix}{name}"

    try:
        parsed = idnumber.parse(str(data.get("id_number") or ""), address_known=address_known, today=today)
    except idnumber.IdNumberError as exc:
        raise ApplicationError(exc.code, exc.message, f("id_number")) from None
    out: dict[str, Any] = {"id_number": parsed.number, "name": clean_name(data.get("name"), f("name"))}
    sex = data.get("sex")
    if sex not in (None, ""):
        sex_code = clean_choice(sex, f("sex"), Sex, label="性别")
        if sex_code != parsed.sex:
            raise _fail(f("sex"), "性别与身份证号码不一致（第17位奇数为男、偶数为女）", "id_mismatch")
    out["sex"] = parsed.sex
    birth = data.get("birth_date")
    if birth not in (None, ""):
        birth_date = clean_date(birth, f("birth_date"), label="出生日期")
        if birth_date != parsed.birth_date:
            raise _fail(f("birth_date"), "出生日期与身份证号码不一致", "id_mismatch")
    out["birth_date"] = parsed.birth_date
    ethnicity = str(data.get("ethnicity") or "01").strip()
    if ethnicity not in ETHNIC_GROUPS:
        by_name = {v: k for k, v in ETHNIC_GROUPS.items()}
        if ethnicity not in by_name:
            raise _fail(f("ethnicity"), f"民族“{ethnicity}”不是GB/T 3304中的民族")
        ethnicity = by_name[ethnicity]
    out["ethnicity"] = ethnicity
    phone = str(data.get("phone") or "").strip()
    if phone and not re.fullmatch(r"[0-9\-+ ]{5,20}", phone):
        raise _fail(f("phone"), "联系电话格式不正确")
    out["phone"] = phone
    out["labour_capacity"] = clean_choice(
        data.get("labour_capacity") or LabourCapacity.FULL, f("labour_capacity"), LabourCapacity, label="劳动能力"
    )
    category = clean_choice(
        data.get("disability_category"), f("disability_category"), DisabilityCategory, label="残疾类别", blank=True
    )
    grade_raw = data.get("disability_grade")
    grade = (
        None
        if grade_raw in (None, "")
        else clean_int(grade_raw, f("disability_grade"), label="残疾等级", minimum=1, maximum=4)
    )
    if bool(category) != (grade is not None):
        raise _fail(
            f("disability_grade") if category else f("disability_category"), "残疾类别和残疾等级须同时填写或同时留空"
        )
    cert = str(data.get("disability_cert_no") or "").strip().upper()
    if cert:
        if not category:
            raise _fail(f("disability_cert_no"), "填写残疾人证号时须填写残疾类别和等级")
        expected = f"{parsed.number}{category}{grade}"
        if cert != expected:
            raise _fail(
                f("disability_cert_no"), "残疾人证号应为身份证号码加类别代码和等级代码（20位），与所填信息不一致"
            )
    out.update(disability_category=category, disability_grade=grade, disability_cert_no=cert)
    for key, label in (
        ("serious_illness", "重病患者"),
        ("student", "在校学生"),
        ("hiv", "艾滋病保密标记"),
        ("protection_order", "保护令保密标记"),
        ("confidential", "保密标记"),
    ):
        out[key] = clean_bool(data.get(key), f(key), label=label)
    out["left_behind"] = clean_choice(
        data.get("left_behind") or "", f("left_behind"), LeftBehind, label="留守情况", blank=True
    )
    death = data.get("death_date")
    out["death_date"] = clean_date(death, f("death_date"), label="死亡日期", required=False, not_after=today)
    if out["death_date"] and out["death_date"] < parsed.birth_date:
        raise _fail(f("death_date"), "死亡日期不能早于出生日期")
    return out


def clean_household(data: dict[str, Any], *, prefix: str = "") -> dict[str, Any]:
    def f(name: str) -> str:
        return f"{prefix}{name}"

    out: dict[str, Any] = {
        "address": clean_text(data.get("address"), f("address"), label="居住地址", max_length=200),
        "hukou_type": clean_choice(data.get("hukou_type"), f("hukou_type"), HukouType, label="户籍类别"),
        "registered_poor": clean_bool(data.get("registered_poor"), f("registered_poor"), label="建档立卡户"),
    }
    status = data.get("poverty_status") or (PovertyStatus.POOR if out["registered_poor"] else PovertyStatus.NOT_POOR)
    out["poverty_status"] = clean_choice(status, f("poverty_status"), PovertyStatus, label="脱贫状态")
    if out["poverty_status"] != PovertyStatus.NOT_POOR and not out["registered_poor"]:
        raise _fail(f("poverty_status"), "非建档立卡户的脱贫状态只能是“非建档立卡”")
    if out["registered_poor"] and out["poverty_status"] == PovertyStatus.NOT_POOR:
        raise _fail(f("poverty_status"), "建档立卡户须填写“未脱贫”或“已脱贫”")
    year = data.get("poverty_exit_year")
    out["poverty_exit_year"] = (
        None
        if year in (None, "")
        else clean_int(year, f("poverty_exit_year"), label="脱贫年度", minimum=2014, maximum=2100)
    )
    if out["poverty_exit_year"] and out["poverty_status"] != PovertyStatus.EXITED:
        raise _fail(f("poverty_exit_year"), "只有已脱贫户才能填写脱贫年度")
    return out


def clean_relation(value: Any, field: str = "relation") -> str:
    return clean_choice(value, field, Relation, label="与户主关系")


ITEM_KINDS = {"income": IncomeKind, "asset": AssetKind, "expense": ExpenseKind}
