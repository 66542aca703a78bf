"""Verification (核对): other departments' source batches, runs over a set of households, their hits, and what
the applicant and the township did about them (docs/verification-service.md)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from doudi.cases.models import Application, Recheck
from doudi.core.models import Region, User
from doudi.registry.models import Household, Person
from doudi.verification.choices import (
    SOURCE_KIND_CHOICES,
    BatchStatus,
    NoticeMethod,
    Outcome,
    RunKind,
    RunStatus,
)


class SourceBatch(models.Model):
    """One delivery of one kind of data from a provider department, validated and stored as Parquet.

    `region` is the area the delivery covers (the province for a provincial platform's extract, or a county):
    a run uses, per kind, the accepted batch of the most specific region containing it (services.sources_in_force).
    """

    kind = models.CharField(_("数据类别"), max_length=24, choices=SOURCE_KIND_CHOICES)
    department = models.CharField(_("提供部门"), max_length=100)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("覆盖区域"))
    region_path = models.CharField(max_length=80, db_index=True)
    period_start = models.DateField(_("数据起始日期"))
    period_end = models.DateField(_("数据截止日期"))
    received_on = models.DateField(_("接收日期"))
    file_name = models.CharField(_("原始文件名"), max_length=200)
    file_format = models.CharField(_("文件格式"), max_length=8)
    encoding = models.CharField(_("编码"), max_length=24, blank=True)
    sha256 = models.CharField(max_length=64)
    rows = models.PositiveIntegerField(_("总行数"))
    stored_rows = models.PositiveIntegerField(_("入库行数"))
    rejected_rows = models.PositiveIntegerField(_("拒收行数"))
    rejects_by_reason = models.JSONField(_("拒收原因统计"), default=dict)
    # Relative to settings.VAR_DIR: sources/<kind>/<batch uuid>/<kind>.parquet (+ <kind>.rejects.parquet).
    parquet_path = models.CharField(max_length=300)
    status = models.CharField(_("状态"), max_length=16, choices=BatchStatus.choices, default=BatchStatus.ACCEPTED)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("替换为")
    )
    note = models.CharField(_("备注"), max_length=300, blank=True)
    uploaded_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("核对数据批次")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "region"],
                condition=Q(status=BatchStatus.ACCEPTED),
                name="source_batch_one_in_force_per_kind_region",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=models.F("period_start")), name="source_batch_period_ordered"
            ),
        ]


class VerificationRun(models.Model):
    """One verification of a set of households: what it used (sources, parameters), how it went, what it found."""

    kind = models.CharField(_("核对类型"), max_length=16, choices=RunKind.choices)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("核对范围"))
    region_path = models.CharField(max_length=80, db_index=True)
    application = models.ForeignKey(
        Application, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("案件")
    )
    as_of = models.DateField(_("核对基准日"))
    overrides = models.JSONField(_("参数覆盖"), default=dict, blank=True)
    sources = models.JSONField(_("使用的数据批次"), default=list, blank=True)
    parameters_digest = models.CharField(_("规则参数摘要"), max_length=64, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(_("进度"), default=0)
    phase = models.CharField(_("当前阶段"), max_length=200, blank=True)
    households = models.PositiveIntegerField(_("核对户数"), default=0)
    persons = models.PositiveIntegerField(_("核对人数"), default=0)
    flagged_households = models.PositiveIntegerField(_("命中户数"), default=0)
    hits = models.PositiveIntegerField(_("命中条数"), default=0)
    rejects = models.PositiveIntegerField(_("拒收行数"), default=0)
    summary = models.JSONField(_("核对摘要"), default=dict, blank=True)
    timings = models.JSONField(_("耗时（秒）"), default=dict, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error = models.TextField(_("失败原因"), blank=True)
    worker = models.CharField(max_length=100, blank=True)
    # Refreshed by the executing worker with every progress update (at least every HEARTBEAT_SECONDS while the
    # job reports): a running run whose heartbeat is older than the stale timeout is taken as abandoned.
    heartbeat_at = models.DateTimeField(_("最近进度时间"), null=True, blank=True)
    created_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("发起时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("核对批次")
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="verification_run_progress_0_100"),
            models.CheckConstraint(
                condition=~Q(kind=RunKind.APPLICATION) | Q(application__isnull=False),
                name="verification_run_application_kind_has_case",
            ),
        ]


class RunHousehold(models.Model):
    """A household a completed run verified (with or without hits): the coverage figures count these."""

    run = models.ForeignKey(VerificationRun, on_delete=models.PROTECT, related_name="+")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    application = models.ForeignKey(Application, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    recheck = models.ForeignKey(Recheck, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    region_path = models.CharField(max_length=80)
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("核对家庭")
        constraints = [models.UniqueConstraint(fields=["run", "household"], name="run_household_unique")]
        indexes = [models.Index(fields=["household", "run"]), models.Index(fields=["application"])]


class Hit(models.Model):
    """One finding of a run: a member matched in a source broke a rule (value against threshold)."""

    run = models.ForeignKey(VerificationRun, on_delete=models.PROTECT, related_name="+")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    application = models.ForeignKey(Application, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    recheck = models.ForeignKey(Recheck, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    region_path = models.CharField(max_length=80)
    source = models.CharField(_("数据来源"), max_length=24, choices=SOURCE_KIND_CHOICES)
    source_batch = models.ForeignKey(SourceBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    rule = models.CharField(_("核对规则"), max_length=32)
    value = models.CharField(_("核对值"), max_length=40)
    threshold = models.CharField(_("限值"), max_length=40)
    outcome = models.CharField(_("核实结论"), max_length=16, choices=Outcome.choices, blank=True)
    outcome_reason = models.TextField(_("核实情况"), blank=True)
    outcome_on = models.DateField(_("核实日期"), null=True, blank=True)
    outcome_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    outcome_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("核对命中")
        indexes = [
            models.Index(fields=["run", "region_path"]),
            models.Index(fields=["application", "run"]),
            models.Index(fields=["household", "run"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome="") | (Q(outcome_on__isnull=False) & ~Q(outcome_reason="")),
                name="hit_outcome_dated_with_reason",
            ),
        ]


class Notice(models.Model):
    """The applicant (household) was told the result of a run (2012 art. 20: in writing, with the reasons)."""

    run = models.ForeignKey(VerificationRun, on_delete=models.PROTECT, related_name="+")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="+")
    application = models.ForeignKey(Application, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    region_path = models.CharField(max_length=80)
    notified_on = models.DateField(_("告知日期"))
    method = models.CharField(_("告知方式"), max_length=16, choices=NoticeMethod.choices)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    recorded_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("核对结果告知")


class Dispute(models.Model):
    """The applicant disputes a hit, with evidence (2012 art. 20; 2021 art. 18)."""

    hit = models.ForeignKey(Hit, on_delete=models.PROTECT, related_name="disputes")
    region_path = models.CharField(max_length=80)
    received_on = models.DateField(_("提出日期"))
    statement = models.TextField(_("异议理由"))
    recorded_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("核对结果异议")


class Evidence(models.Model):
    """A file the applicant brought (image or PDF), stored under VAR_DIR/verification/evidence/."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="evidence")
    file_name = models.CharField(_("文件名"), max_length=200)
    stored_path = models.CharField(max_length=300)
    content_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("异议证据")
