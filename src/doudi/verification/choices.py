"""Code tables of verification (核对): source kinds come from the batch package, the rest is ours."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from doudi.batch.sources import SOURCE_KINDS
from doudi.core.choices import Role

# The canonical kinds of the batch job (docs/verification.md §2), with their Chinese labels.
SOURCE_KIND_CHOICES = [(kind.name, kind.label) for kind in SOURCE_KINDS.values()]


class BatchStatus(models.TextChoices):
    ACCEPTED = "accepted", _("在用")
    SUPERSEDED = "superseded", _("已被替换")


class RunKind(models.TextChoices):
    APPLICATION = "application", _("申请核对")
    REGION = "region", _("辖区全部家庭核对")
    CASELOAD = "caseload", _("在册对象及在办申请核对")
    YEARLY = "yearly", _("年度复查核对")


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("核对中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


class Outcome(models.TextChoices):
    """The township's finding on one hit after the applicant was heard (2012 art. 20; 2021 art. 18)."""

    CONFIRMED = "confirmed", _("情况属实")
    EXPLAINED = "explained", _("已作说明，不影响认定")
    CORRECTED = "corrected", _("数据有误，已更正")


class NoticeMethod(models.TextChoices):
    WRITTEN = "written", _("书面告知")
    IN_PERSON = "in_person", _("当面告知")
    PHONE = "phone", _("电话告知")
    SMS = "sms", _("短信告知")


RULE_LABELS = {
    "death": _("成员死亡"),
    "vehicle": _("机动车辆"),
    "business": _("市场主体登记"),
    "housing": _("住房套数"),
    "commercial_property": _("商业用房"),
    "financial_assets": _("存款及有价证券"),
    "income": _("收入与申报不符"),
}
# The parameters each rule compares with (their values and references are in the run summary).
RULE_PARAMETERS = {
    "death": (),
    "vehicle": ("dibao.assets.max_vehicles",),
    "business": ("dibao.assets.max_business_registrations",),
    "housing": ("dibao.assets.max_housing",),
    "commercial_property": ("dibao.assets.max_non_residential",),
    "financial_assets": ("dibao.assets.financial_limit_months", "dibao.standard"),
    "income": ("verification.income_tolerance", "verification.housing_fund_contribution_rate"),
}

# Who may do what (docs/verification-service.md §3).
SOURCE_WRITE_ROLES = frozenset({Role.COUNTY_VERIFIER, Role.ADMIN})
SOURCE_READ_ROLES = frozenset({Role.COUNTY_VERIFIER, Role.COUNTY_APPROVER, Role.ADMIN})
CASELOAD_RUN_ROLES = frozenset({Role.COUNTY_VERIFIER, Role.ADMIN})
NOTICE_ROLES = frozenset({Role.TOWNSHIP_REVIEWER, Role.COUNTY_VERIFIER, Role.ADMIN})
DISPUTE_ROLES = frozenset({Role.VILLAGE_WORKER, Role.TOWNSHIP_REVIEWER, Role.COUNTY_VERIFIER, Role.ADMIN})
OUTCOME_ROLES = frozenset({Role.TOWNSHIP_REVIEWER, Role.COUNTY_VERIFIER, Role.ADMIN})
