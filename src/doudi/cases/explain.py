"""The stored determination (Determination.output: trace, failed tests, parameters used) in plain Chinese for the
case page: each variable with its label, its value in words (money with two decimals and 元, rates as percentages,
yes/no, codes by their Chinese name) and its reference; failed tests as sentences; the parameters with their value,
effective date and source; the final amount. Pure functions: nothing is recomputed, the snapshot is only read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

# Codes of the rules vocabulary (docs/rules.md) and of program outputs, by their Chinese name.
CODE_LABELS: dict[str, str] = {
    # member statuses
    "present": "在户",
    "clergy_away": "宗教教职人员（不在户）",
    "in_prison": "服刑人员",
    "re_education_through_labour": "劳动教养人员",
    "drug_rehabilitation": "强制隔离戒毒人员",
    "missing": "宣告失踪人员",
    # income kinds
    "wage": "工资性收入",
    "business": "家庭经营净收入",
    "property": "财产净收入",
    "transfer_support": "赡养费、扶养费、抚养费",
    "pension": "养老金、离退休金",
    "basic_pension_base": "城乡居民基本养老保险基础养老金",
    "unemployment_benefit": "失业保险金",
    "social_assistance": "政府发放的社会救助款物",
    "preferential_treatment": "优待抚恤金",
    "family_planning_award": "计划生育奖励与扶助金",
    "scholarship": "奖学金",
    "good_samaritan_award": "见义勇为奖励",
    "elderly_allowance": "高龄津贴",
    "disability_subsidy": "残疾人两项补贴",
    # asset kinds
    "deposit": "银行存款",
    "securities": "有价证券",
    "fund": "基金",
    "commercial_insurance": "商业保险",
    "internet_finance": "互联网金融资产",
    "creditor_right": "债权",
    "vehicle": "机动车辆",
    "disabled_mobility_vehicle": "残疾人功能性补偿代步车",
    "ship": "船舶",
    "housing": "住房",
    "non_residential_property": "非住宅房产",
    "business_registration": "市场主体登记",
    # expense kinds
    "medical": "医疗支出",
    "education": "教育支出",
    "disability_rehabilitation": "残疾康复支出",
    "rent": "租房支出",
    "other": "其他",
    # program outputs and options
    "regular": "按户纳入",
    "single_person": "按单人户纳入",
    "gradual_exit": "渐退",
    "none": "不纳入",
    "highest": "就高不重复",
    "sum": "累加",
    "township": "乡镇（街道）审批",
    "county": "县级审批",
    "one_case_one_discussion": "一事一议",
    "emergency": "急难型",
    "expense": "支出型",
    "dispersed": "分散供养",
    "centralised": "集中供养",
    "urban": "城市",
    "rural": "农村",
    "full": "有劳动能力",
    "partial": "部分丧失劳动能力",
}
# Input fields the registry may not hold yet (docs/rules.md), for "the rules could not compute" messages.
FIELD_LABELS: dict[str, str] = {
    "has_able_supporter": "有无具备赡养、抚养、扶养能力的义务人",
    "self_care": "生活自理能力评估",
    "support_mode": "供养方式",
    "labour_capacity": "劳动能力",
    "birth_date": "出生日期",
    "disability_grade": "残疾等级",
    "request": "申请事项",
    "type": "临时救助类型",
    "group": "救助对象类别",
    "persons": "救助人数",
    "months": "救助月数",
    "expense": "必需支出金额",
    "items": "殡葬服务项目",
    "deceased": "逝者",
}
MONEY_DTYPES = frozenset({"money", "amount"})
TWO_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class Row:
    name: str
    label: str
    value: str
    reference: str
    kind: str  # parameter / formula / aggregate
    test: bool = False  # a "…_test_passed" or eligibility variable
    passed: bool | None = None


@dataclass(frozen=True)
class ParameterRow:
    path: str
    label: str
    value: str
    effective_from: str
    reference: str
    confirmed: bool
    note: str = ""


@dataclass(frozen=True)
class Explanation:
    available: bool  # the rules computed this program
    message: str  # why there is no computation, or an input error kept in the snapshot
    eligible: bool | None
    amount: str  # "588.00 元" or ""
    summary: list[tuple[str, str]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    parameters: list[ParameterRow] = field(default_factory=list)
    rules_version: str = ""
    as_of: str = ""
    detail: str = ""  # the technical detail of an input error, for the operators


# --- values -------------------------------------------------------------------------------------------------
def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def money(value: Any) -> str:
    """1234.5 → "1,234.50 元"; None or a non-number → "—"."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    return _("%(amount)s 元") % {"amount": f"{amount.quantize(TWO_PLACES):,}"}


def _rate(value: Any, label: str) -> str:
    number = _decimal(value)
    if number is None:
        return str(value)
    if "倍" in label:
        return _("%(n)s 倍") % {"n": f"{number.normalize():f}"}
    percent = (number * 100).quantize(TWO_PLACES).normalize()
    return f"{percent:f}%"


def _code(value: Any) -> str:
    return CODE_LABELS.get(str(value), str(value))


def format_value(value: Any, dtype: str, label: str = "") -> str:
    """One value of a variable (not per member) in words."""
    if value is None:
        return "—"
    if isinstance(value, bool) or dtype == "bool":
        return _("是") if value else _("否")
    if dtype in MONEY_DTYPES:
        return money(value)
    if dtype == "rate":
        return _rate(value, label)
    if dtype == "list_rate":
        return "、".join(_rate(v, "") for v in value) if value else _("无")
    if dtype == "list_str" or isinstance(value, list):
        return "、".join(_code(v) for v in value) if value else _("无")
    if dtype == "str":
        return _code(value)
    return str(value)


def _per_member(values: Mapping[str, Any], dtype: str, label: str, names: Mapping[str, str]) -> str:
    if not values:
        return _("无")
    parts = [
        f"{names.get(str(key), _('成员%(id)s') % {'id': key})}：{format_value(v, dtype, label)}"
        for key, v in values.items()
    ]
    return "；".join(parts)


def _dtype(name: str, value: Any, dtypes: Mapping[str, str]) -> str:
    if name in dtypes:
        return dtypes[name]
    if isinstance(value, bool):
        return "bool"
    return "str"


def field_label(path: str) -> str:
    """ "household.members[0].self_care" → "生活自理能力评估" (the path itself when unknown)."""
    last = path.rsplit(".", 1)[-1].split("[", 1)[0]
    return FIELD_LABELS.get(last, path)


# --- the explanation ------------------------------------------------------------------------------------------
def is_test(name: str) -> bool:
    return name.endswith(("_test_passed", "_eligible"))


def failed_sentence(label: str, reference: str) -> str:
    if reference:
        return _("不符合“%(label)s”的要求（依据：%(reference)s）。") % {"label": label, "reference": reference}
    return _("不符合“%(label)s”的要求。") % {"label": label}


def explain(
    output: Mapping[str, Any],
    *,
    dtypes: Mapping[str, str] | None = None,
    parameter_labels: Mapping[str, str] | None = None,
    member_names: Mapping[str, str] | None = None,
    rules_available: bool = True,
    amount: Any = None,
    eligible: bool | None = None,
) -> Explanation:
    """Explain a stored determination output.

    `dtypes` maps variable names to their rules dtype (money, rate, bool …) and `parameter_labels` parameter paths
    to their Chinese label (see `program_metadata`); `member_names` maps the member ids of the snapshot (person ids)
    to names; `amount` / `eligible` are the stored determination's own values when known."""
    dtypes = dtypes or {}
    parameter_labels = parameter_labels or {}
    names = member_names or {}
    final = amount if amount is not None else output.get("monthly_amount")
    ok = eligible if eligible is not None else output.get("eligible")
    if not rules_available or output.get("rules_available") is False:
        message = str(output.get("message") or _("规则引擎尚未提供该项目的测算，按经办人员核定金额执行"))
        return Explanation(available=False, message=message, eligible=None, amount=money(amount) if amount else "")
    if "error" in output:
        field_path = str(output.get("field") or "")
        message = _("测算所需的数据不全（%(what)s），规则引擎未能测算，金额按经办人员核定执行。") % {
            "what": field_label(field_path) if field_path else str(output.get("message") or output["error"]),
        }
        detail = f"{field_path}: {output.get('message', output['error'])}" if field_path else ""
        return Explanation(
            available=True,
            message=message,
            eligible=None,
            amount=money(amount) if amount else "",
            detail=detail,
        )

    trace: list[Mapping[str, Any]] = list(output.get("trace") or [])
    by_name = {str(t.get("name")): t for t in trace}
    rows = []
    for entry in trace:
        name = str(entry.get("name", ""))
        label = str(entry.get("label") or name)
        value = entry.get("value")
        dtype = _dtype(name, value, dtypes)
        if entry.get("entity") == "member" and isinstance(value, Mapping):
            text = _per_member(value, dtype, label, names)
        elif entry.get("entity") in ("income", "expense", "asset") and isinstance(value, list):
            text = _("共%(n)s项") % {"n": len(value)} if value else _("无")
        else:
            text = format_value(value, dtype, label)
        test = is_test(name) and isinstance(value, bool)
        rows.append(
            Row(
                name=name,
                label=label,
                value=text,
                reference=str(entry.get("reference") or ""),
                kind=str(entry.get("kind") or ""),
                test=test,
                passed=value if test else None,
            )
        )

    failed = []
    for name in output.get("failed_tests") or []:
        entry = by_name.get(str(name), {})
        failed.append(failed_sentence(str(entry.get("label") or name), str(entry.get("reference") or "")))

    parameters = []
    for p in output.get("parameters_used") or []:
        path = str(p.get("path", ""))
        label = parameter_labels.get(path, path)
        dtype = dtypes.get(f"param:{path}", "")
        parameters.append(
            ParameterRow(
                path=path,
                label=label,
                value=format_value(p.get("value"), dtype or _guess_parameter_dtype(p.get("value"), label), label),
                effective_from=str(p.get("effective_from") or "—"),
                reference=str(p.get("reference") or ""),
                confirmed=bool(p.get("confirmed")),
                note=str(p.get("note") or ""),
            )
        )

    summary: list[tuple[str, str]] = []
    if output.get("household_size") is not None:
        summary.append((_("共同生活家庭成员人数"), str(output["household_size"])))
    if output.get("countable_income") is not None:
        summary.append((_("核定家庭月收入"), money(output["countable_income"])))
    if output.get("per_capita_income") is not None:
        summary.append((_("家庭人均月收入"), money(output["per_capita_income"])))
    if output.get("standard") is not None:
        summary.append((_("适用标准"), money(output["standard"])))

    return Explanation(
        available=True,
        message="",
        eligible=ok if isinstance(ok, bool) else None,
        amount=money(final) if final is not None else "",
        summary=summary,
        failed=failed,
        rows=rows,
        parameters=parameters,
        rules_version=str(output.get("rules_version") or ""),
        as_of=str(output.get("as_of") or ""),
    )


def _guess_parameter_dtype(value: Any, label: str) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, list):
        return "list_str"
    if "元" in label or ("标准" in label and "倍" not in label):
        return "money"
    if "比例" in label or "倍" in label or "系数" in label:
        return "rate"
    return "str"


def program_metadata(rules_program: str) -> tuple[dict[str, str], dict[str, str]]:
    """(variable dtypes, parameter labels) of a rules program; empty when the program is unknown.
    Parameter dtypes are also in the first map under "param:<path>"."""
    if not rules_program:
        return {}, {}
    from doudi.rules import PROGRAMS

    program = PROGRAMS.get(rules_program)
    if program is None:
        return {}, {}
    dtypes: dict[str, str] = {}
    labels: dict[str, str] = {}
    for var in program.variables.values():
        dtypes[var.name] = var.dtype
        if var.parameter:
            labels.setdefault(var.parameter, var.label)
            dtypes.setdefault(f"param:{var.parameter}", var.dtype)
    return dtypes, labels


def explain_determination(det: Any, member_names: Mapping[str, str] | None = None) -> Explanation:
    """Explain a `cases.models.Determination` (reads only its stored fields)."""
    dtypes, labels = program_metadata(det.rules_program)
    return explain(
        det.output or {},
        dtypes=dtypes,
        parameter_labels=labels,
        member_names=member_names,
        rules_available=det.rules_available,
        amount=det.monthly_amount,
        eligible=det.eligible,
    )
