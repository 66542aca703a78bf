"""Hits in plain Chinese for the pages: what was found, in which department's data, against which limit, and
the parameter (value, effective date, reference) the limit comes from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from doudi.batch.sources import SOURCE_KINDS
from doudi.verification.choices import RULE_LABELS, RULE_PARAMETERS
from doudi.verification.models import Hit

PARAMETER_LABELS = {
    "dibao.assets.max_vehicles": gettext_lazy("允许的机动车辆数"),
    "dibao.assets.max_business_registrations": gettext_lazy("允许的在营市场主体数"),
    "dibao.assets.max_housing": gettext_lazy("允许的住房套数"),
    "dibao.assets.max_non_residential": gettext_lazy("允许的商业用房数"),
    "dibao.assets.financial_limit_months": gettext_lazy("金融资产上限（月低保标准的倍数）"),
    "dibao.standard": gettext_lazy("低保标准（元/月）"),
    "verification.income_tolerance": gettext_lazy("收入核对容差"),
    "verification.housing_fund_contribution_rate": gettext_lazy("住房公积金缴存比例"),
}


@dataclass
class HitView:
    hit: Hit
    rule: str
    source: str
    sentence: str
    parameters: list[dict[str, Any]] = field(default_factory=list)


def sentence(rule: str, value: str, threshold: str) -> str:
    if rule == "death":
        return _("成员死亡日期为 %(v)s（核对基准日 %(t)s）") % {"v": value, "t": threshold}
    if rule == "vehicle":
        return _("家庭名下非残疾人代步机动车 %(v)s 辆，超过允许的 %(t)s 辆") % {"v": value, "t": threshold}
    if rule == "business":
        return _("家庭成员登记在营市场主体 %(v)s 个，超过允许的 %(t)s 个") % {"v": value, "t": threshold}
    if rule == "housing":
        return _("家庭名下住宅 %(v)s 套，超过允许的 %(t)s 套") % {"v": value, "t": threshold}
    if rule == "commercial_property":
        return _("家庭名下商业用房 %(v)s 处，超过允许的 %(t)s 处") % {"v": value, "t": threshold}
    if rule == "financial_assets":
        return _("人均存款和有价证券 %(v)s 元，超过人均上限 %(t)s 元") % {"v": value, "t": threshold}
    if rule == "income":
        return _("核对到的家庭月收入 %(v)s 元，超过申报月收入加容差后的 %(t)s 元") % {"v": value, "t": threshold}
    return _("%(rule)s：%(v)s（限值 %(t)s）") % {"rule": rule, "v": value, "t": threshold}


def source_label(kind: str) -> str:
    found = SOURCE_KINDS.get(kind)
    return f"{found.label}（{found.department}）" if found else kind


def describe(hit: Hit, used: dict[str, list[dict[str, Any]]] | None = None) -> HitView:
    params = []
    for path in RULE_PARAMETERS.get(hit.rule, ()):
        for entry in (used or {}).get(path, []):
            params.append({"label": PARAMETER_LABELS.get(path, path), **entry})
    batch = hit.source_batch
    source = source_label(hit.source)
    if batch is not None:
        source = f"{source} · {batch.department} {batch.period_start:%Y-%m-%d}—{batch.period_end:%Y-%m-%d}"
    return HitView(
        hit=hit,
        rule=str(RULE_LABELS.get(hit.rule, hit.rule)),
        source=source,
        sentence=sentence(hit.rule, hit.value, hit.threshold),
        parameters=params,
    )


def count_rows(counts: Any) -> list[dict[str, Any]]:
    return [
        {"region": region, "cells": [by.get(rule, 0) for rule in counts.rules], "total": total}
        for region, by, total in counts.rows
    ]


def source_line(entry: dict[str, Any]) -> str:
    period = entry.get("period") or ["", ""]
    return (
        f"{source_label(entry.get('kind', ''))}：{entry.get('file', '')}（{entry.get('department', '')}，"
        f"{period[0]}—{period[1]}，SHA-256 {str(entry.get('sha256', ''))[:12]}…，批次 {entry.get('batch')}）"
    )
