"""Staff and cadre lists, integrity runs and their findings (docs/integrity.md)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from doudi.cases.models import Application, Recipient
from doudi.core.models import Region, User
from doudi.integrity.choices import OPEN_STATUSES, CheckCode, FindingStatus, StaffKind
from doudi.registry.models import Household, Person


class StaffMember(models.Model):
    """One term of a person on an imported list of assistance staff (民政经办人员) or village cadres (村委会成员)."""

    name = models.CharField(_("姓名"), max_length=40)
    id_number = models.CharField(_("公民身份号码"), max_length=18, db_index=True)
    kind = models.CharField(_("人员类别"), max_length=24, choices=StaffKind.choices)
    position = models.CharField(_("职务"), max_length=64, blank=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("任职区域"))
    region_path = models.CharField(max_length=80, db_index=True)
    from_date = models.DateField(_("任职开始日期"))
    to_date = models.DateField(_("任职结束日期"), null=True, blank=True)
    source_file = models.CharField(_("来源文件"), max_length=200)
    source_sha256 = models.CharField(max_length=64)
    imported_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    imported_at = models.DateTimeField(_("导入时间"))

    class Meta:
        verbose_name = _("经办人员和村干部名单")
        constraints = [
            models.UniqueConstraint(fields=["id_number", "kind", "region", "from_date"], name="staff_term_unique"),
            models.CheckConstraint(
                condition=Q(to_date__isnull=True) | Q(to_date__gte=models.F("from_date")), name="staff_term_dates"
            ),
        ]


class IntegrityRun(models.Model):
    """One run of the checks over a region subtree: what ran, when, and how many new findings each produced."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("核查范围"))
    region_path = models.CharField(max_length=80, db_index=True)
    as_of = models.DateField(_("核查基准日"))
    checks = models.JSONField(_("核查项目"), default=list)
    counts = models.JSONField(_("新发现问题数"), default=dict)
    started_at = models.DateTimeField(_("开始时间"))
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    actor = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("比对核查批次")


class Finding(models.Model):
    """A suspected problem found by a check, followed up by the county (assign, resolve or dismiss).

    Written in bulk by the checks (INSERT … SELECT); `subject_key` names what the finding is about, so that a
    rerun never opens a second finding of the same check for the same subject (see the constraint).
    """

    check_code = models.CharField(_("核查项目"), max_length=32, choices=CheckCode.choices)
    subject_key = models.CharField(max_length=80)
    county = models.ForeignKey(Region, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("县"))
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("村（社区）"))
    region_path = models.CharField(max_length=80, db_index=True)
    household = models.ForeignKey(Household, null=True, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, null=True, on_delete=models.PROTECT, related_name="+")
    recipient = models.ForeignKey(Recipient, null=True, on_delete=models.PROTECT, related_name="+")
    application = models.ForeignKey(Application, null=True, on_delete=models.PROTECT, related_name="+")
    staff = models.ForeignKey(StaffMember, null=True, on_delete=models.PROTECT, related_name="+")
    description = models.TextField(_("问题描述"))
    evidence = models.JSONField(_("比对依据"), default=dict)
    detected_at = models.DateTimeField(_("发现时间"))
    run = models.ForeignKey(IntegrityRun, null=True, on_delete=models.PROTECT, related_name="findings")
    status = models.CharField(_("状态"), max_length=16, choices=FindingStatus.choices, default=FindingStatus.OPEN)
    assignee = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("承办人")
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(_("处理情况"), blank=True, default="")
    resolved_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("比对核查发现的问题")
        constraints = [
            models.UniqueConstraint(
                fields=["check_code", "subject_key"],
                condition=Q(status__in=OPEN_STATUSES),
                name="finding_one_open_per_check_subject",
            ),
            models.CheckConstraint(
                condition=Q(status__in=OPEN_STATUSES) | ~Q(resolution=""), name="finding_closed_has_resolution"
            ),
            models.CheckConstraint(
                condition=~Q(status=FindingStatus.ASSIGNED) | Q(assignee__isnull=False),
                name="finding_assigned_has_assignee",
            ),
        ]
        indexes = [
            models.Index(fields=["check_code", "subject_key"], name="finding_check_subject"),
            models.Index(fields=["status", "region_path"], name="finding_status_region"),
        ]
