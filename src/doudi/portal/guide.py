"""The service guide (办事指南) per program: conditions, the standards in force for a county on a date from the
parameter data (with their legal reference, effective date and whether the value is confirmed), materials, process
and time limits (from the workflow the county applies), contact and hotline. 社会救助领域基层政务公开标准目录 lists
these items (事项、条件、标准、材料、流程、时间、地点、联系方式) — rules-cn.md §7."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from doudi.cases.choices import Program
from doudi.policy.layering import rules_region_key
from doudi.policy.selectors import current_parameter_set
from doudi.rules.errors import ParameterNotFound
from doudi.rules.parameters import ParameterSet, ParameterValue, format_decimal

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

GUIDE_PROGRAMS = (Program.DIBAO, Program.TEKUN, Program.TEMPORARY_ASSISTANCE)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Standard:
    label: str
    value: str  # formatted, with its unit
    effective_from: dt.date | None
    reference: str
    confirmed: bool


@dataclass(frozen=True)
class ProgramText:
    title: StrOrPromise
    basis: StrOrPromise
    conditions: tuple[StrOrPromise, ...]
    where: StrOrPromise


TEXTS: dict[str, ProgramText] = {
    Program.DIBAO: ProgramText(
        title=gettext_lazy("最低生活保障（低保）"),
        basis=gettext_lazy("《社会救助暂行办法》第二章；《最低生活保障审核确认办法》（民政部2021）"),
        conditions=(
            gettext_lazy("共同生活的家庭成员人均收入低于当地最低生活保障标准；"),
            gettext_lazy("家庭财产状况符合当地规定；"),
            gettext_lazy(
                "以家庭为单位，由户主或其代理人向户籍所在地（或持居住证的居住地）乡镇人民政府（街道办事处）提出书面申请，村（居）民委员会可以代为提交；"
            ),
            gettext_lazy("申请人应如实申报家庭收入、财产，并签署家庭经济状况核对授权书。"),
        ),
        where=gettext_lazy("乡镇人民政府（街道办事处）"),
    ),
    Program.TEKUN: ProgramText(
        title=gettext_lazy("特困人员救助供养"),
        basis=gettext_lazy("《社会救助暂行办法》第三章；《特困人员认定办法》（民发〔2021〕43号）"),
        conditions=(
            gettext_lazy("老年人、残疾人和未成年人；"),
            gettext_lazy("无劳动能力、无生活来源；"),
            gettext_lazy("无法定赡养、抚养、扶养义务人，或者其法定义务人无履行义务能力；"),
            gettext_lazy(
                "本人向户籍所在地乡镇人民政府（街道办事处）提出书面申请，本人申请有困难的可以委托村（居）民委员会或者他人代为提出。"
            ),
        ),
        where=gettext_lazy("乡镇人民政府（街道办事处）"),
    ),
    Program.TEMPORARY_ASSISTANCE: ProgramText(
        title=gettext_lazy("临时救助"),
        basis=gettext_lazy(
            "《社会救助暂行办法》第十一章；《关于进一步加强和改进临时救助工作的意见》（民发〔2018〕23号）"
        ),
        conditions=(
            gettext_lazy("急难型：因火灾、交通事故等意外事件，家庭成员突发重大疾病等，导致基本生活暂时出现严重困难；"),
            gettext_lazy("支出型：因教育、医疗等生活必需支出突然增加超出家庭承受能力，导致基本生活暂时出现严重困难；"),
            gettext_lazy("向乡镇人民政府（街道办事处）提出申请；情况紧急的可以先行救助，事后补办手续。"),
        ),
        where=gettext_lazy("乡镇人民政府（街道办事处）或县级民政部门"),
    ),
}


def _resolve(pset: ParameterSet, path: str, key: str, area: str, on: dt.date) -> ParameterValue | None:
    try:
        return pset.get(path, key, area, on)
    except ParameterNotFound:
        return None


def _money(value: Decimal) -> str:
    return _("%(amount)s 元") % {"amount": format_decimal(value.quantize(CENT, rounding=ROUND_HALF_UP))}


def _std(label: str, value: str, *sources: ParameterValue) -> Standard:
    """A standard computed from one or more parameters: in force since the latest of their dates, citing each."""
    dates = [s.effective_from for s in sources if s.effective_from is not None]
    references: list[str] = []
    for s in sources:
        if s.reference not in references:
            references.append(s.reference)
    return Standard(
        label=label,
        value=value,
        effective_from=max(dates) if dates else None,
        reference="；".join(references),
        confirmed=all(s.confirmed for s in sources),
    )


def standards(*, program: str, county_code: str, on: dt.date) -> list[Standard]:
    """The standards of one program in force in a county on a date; a value the data does not have for that county
    and date is left out (the page says so), never replaced by another region's."""
    pset = current_parameter_set()
    key = rules_region_key(county_code)
    out: list[Standard] = []
    areas = (("urban", _("城市")), ("rural", _("农村")))
    dibao = {area: _resolve(pset, "dibao.standard", key, area, on) for area, _label in areas}
    if program == Program.DIBAO:
        for area, label in areas:
            value = dibao[area]
            if value is not None:
                out.append(
                    _std(
                        _("%(area)s最低生活保障标准（每人每月）") % {"area": label},
                        _money(Decimal(str(value.value))),
                        value,
                    )
                )
    elif program == Program.TEKUN:
        ratio = _resolve(pset, "tekun.basic_living.ratio", key, "urban", on)
        minimum = _resolve(pset, "tekun.basic_living.minimum", key, "urban", on)
        for area, label in areas:
            standard = dibao[area]
            if ratio is None or standard is None:
                continue
            amount = Decimal(str(standard.value)) * Decimal(str(ratio.value))
            sources: tuple[ParameterValue, ...] = (standard, ratio)
            if minimum is not None and Decimal(str(minimum.value)) > amount:
                amount, sources = Decimal(str(minimum.value)), (minimum,)
            out.append(
                _std(
                    _("%(area)s特困人员基本生活标准（每人每月，不低于低保标准的%(ratio)s倍）")
                    % {"area": label, "ratio": format_decimal(Decimal(str(ratio.value))).rstrip("0").rstrip(".")},
                    _money(amount),
                    *sources,
                )
            )
        base = _resolve(pset, "tekun.care.base", key, "urban", on)
        if base is not None:
            for setting, setting_label in (("dispersed", _("分散供养")), ("centralised", _("集中供养"))):
                for level, level_label in (
                    ("full", _("生活能自理")),
                    ("partial", _("部分丧失生活自理能力")),
                    ("none", _("完全丧失生活自理能力")),
                ):
                    rate = _resolve(pset, f"tekun.care.{setting}.{level}", key, "urban", on)
                    if rate is None:
                        continue
                    out.append(
                        _std(
                            _("照料护理标准：%(setting)s，%(level)s（每人每月）")
                            % {"setting": setting_label, "level": level_label},
                            _money(Decimal(str(base.value)) * Decimal(str(rate.value))),
                            base,
                            rate,
                        )
                    )
    elif program == Program.TEMPORARY_ASSISTANCE:
        urban = dibao["urban"]
        for path, label in (
            ("temporary.township_ceiling_standard_multiple", _("乡镇（街道）审批额度（城市低保标准的倍数）")),
            ("temporary.cap_standard_multiple", _("一次性救助上限（城市低保标准的倍数，超过的一事一议）")),
        ):
            multiple = _resolve(pset, path, key, "urban", on)
            if multiple is None or urban is None:
                continue
            amount = Decimal(str(multiple.value)) * Decimal(str(urban.value))
            text = _("%(multiple)s 倍，即 %(amount)s") % {
                "multiple": format_decimal(Decimal(str(multiple.value))).rstrip("0").rstrip("."),
                "amount": _money(amount),
            }
            out.append(_std(label, text, urban, multiple))
    return out
