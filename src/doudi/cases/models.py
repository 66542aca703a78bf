"""Applications, configurable workflows (Wagtail-style WorkflowState/TaskState), home visits, publicity, spot checks,
determinations, decisions, recipients over time, rechecks and change reports. Money is Decimal."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from doudi.cases.choices import (
    ApplicationStatus,
    CaseKind,
    ChangeKind,
    DeadlineUnit,
    Discovery,
    Level,
    ObjectionStatus,
    Outcome,
    Program,
    PublicityStage,
    RecheckCategory,
    RecheckReason,
    RecheckStatus,
    RecipientStatus,
    RuleSet,
    StepStatus,
)
from doudi.core.models import Region, User
from doudi.registry.models import Household, Person


class Holiday(models.Model):
    """An operator's correction to the official calendar: a holiday the package does not know, or a make-up
    working day. Overrides `chinese_calendar` for that date."""

    date = models.DateField(_("日期"), unique=True)
    is_working_day = models.BooleanField(_("是否工作日"))
    note = models.CharField(_("说明"), max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("节假日调整")
        ordering = ["date"]


class WorkflowDefinition(models.Model):
    """The steps a case of one program goes through, for a region subtree (null = everywhere) and a rule set.

    The most specific active definition whose region contains the case's village wins (docs/cases.md).
    `config` holds program settings: required documents, temporary-assistance tiers, act-first completion days.
    """

    program = models.CharField(_("救助项目"), max_length=32, choices=Program.choices)
    kind = models.CharField(_("业务类型"), max_length=16, choices=CaseKind.choices, default=CaseKind.NEW)
    rule_set = models.CharField(_("适用办法"), max_length=8, choices=RuleSet.choices)
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("适用区域"))
    name = models.CharField(_("名称"), max_length=100)
    active = models.BooleanField(_("启用"), default=True)
    total_deadline_days = models.PositiveSmallIntegerField(_("全流程时限（工作日）"), null=True, blank=True)
    total_deadline_basis = models.CharField(_("全流程时限依据"), max_length=200, blank=True)
    config = models.JSONField(_("配置"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("审批流程")
        indexes = [models.Index(fields=["program", "kind", "rule_set"])]


class WorkflowStep(models.Model):
    definition = models.ForeignKey(WorkflowDefinition, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(_("顺序"))
    code = models.CharField(_("环节代码"), max_length=32)
    name = models.CharField(_("环节名称"), max_length=64)
    level = models.CharField(_("办理层级"), max_length=16, choices=Level.choices)
    roles = models.JSONField(_("可办理角色"), default=list)
    deadline_days = models.PositiveSmallIntegerField(_("时限"), null=True, blank=True)
    deadline_unit = models.CharField(
        _("时限单位"), max_length=16, choices=DeadlineUnit.choices, default=DeadlineUnit.WORKING
    )
    optional = models.BooleanField(_("可跳过"), default=False)
    decides = models.BooleanField(_("作出决定"), default=False)
    refusable = models.BooleanField(_("可作不予批准决定"), default=False)
    guards = models.JSONField(_("办理条件"), default=list, blank=True)
    basis = models.CharField(_("依据"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("流程环节")
        ordering = ["definition", "order"]
        constraints = [
            models.UniqueConstraint(fields=["definition", "code"], name="workflow_step_code_unique"),
            models.UniqueConstraint(fields=["definition", "order"], name="workflow_step_order_unique"),
        ]


class SpotCheckBatch(models.Model):
    """One county draw of applications awaiting approval; the sample is seeded by the batch id (reproducible)."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, verbose_name=_("县级区划"))
    program = models.CharField(_("救助项目"), max_length=32, choices=Program.choices)
    ratio = models.DecimalField(_("抽查比例"), max_digits=4, decimal_places=2)
    population = models.JSONField(_("待审批案件"), default=list)
    mandatory = models.JSONField(_("必须入户核查案件"), default=list)
    sample = models.JSONField(_("抽中案件"), default=list)
    created_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("入户抽查批次")
        constraints = [
            models.CheckConstraint(condition=Q(ratio__gt=0, ratio__lte=1), name="spot_check_ratio_0_1"),
        ]


class Application(models.Model):
    """A case (WorkflowState): a new application, an act-first temporary assistance, or a recheck of a recipient."""

    program = models.CharField(_("救助项目"), max_length=32, choices=Program.choices)
    kind = models.CharField(_("业务类型"), max_length=16, choices=CaseKind.choices, default=CaseKind.NEW)
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="applications")
    applicant = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+", verbose_name=_("申请人"))
    subject_person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("救助对象")
    )
    # "h<household id>" or "p<person id>": one open case per program and subject (see the constraint).
    subject_key = models.CharField(max_length=24)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, verbose_name=_("所在村（社区）"))
    region_path = models.CharField(max_length=80, db_index=True)
    workflow = models.ForeignKey(WorkflowDefinition, on_delete=models.PROTECT, related_name="+")
    rule_set = models.CharField(_("适用办法"), max_length=8, choices=RuleSet.choices)
    status = models.CharField(
        _("状态"), max_length=16, choices=ApplicationStatus.choices, default=ApplicationStatus.IN_PROGRESS
    )
    current_step = models.CharField(_("当前环节"), max_length=32, blank=True)
    received_on = models.DateField(_("受理日期"))
    due_date = models.DateField(_("办结时限"), null=True, blank=True)
    discovered_by = models.CharField(_("来源"), max_length=24, choices=Discovery.choices, default=Discovery.INTAKE)
    intake_level = models.CharField(_("代办层级"), max_length=16, choices=Level.choices)
    kin_declared = models.BooleanField(_("近亲属备案"), default=False)
    kin_details = models.JSONField(_("近亲属情况"), default=list, blank=True)
    documents = models.JSONField(_("申请材料"), default=dict, blank=True)
    verification_authorised = models.BooleanField(_("已签署核对授权书"), default=False)
    authorised_on = models.DateField(_("授权日期"), null=True, blank=True)
    disputed = models.BooleanField(_("有异议或举报"), default=False)
    spot_check_batch = models.ForeignKey(SpotCheckBatch, null=True, blank=True, on_delete=models.PROTECT)
    spot_check_selected = models.BooleanField(_("抽中入户核查"), default=False)
    request = models.JSONField(_("申请事项"), default=dict, blank=True)
    recipient = models.ForeignKey(
        "Recipient", null=True, blank=True, on_delete=models.PROTECT, related_name="cases", verbose_name=_("复查对象")
    )
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("救助申请")
        constraints = [
            models.UniqueConstraint(
                fields=["program", "subject_key"],
                condition=Q(status=ApplicationStatus.IN_PROGRESS),
                name="application_one_open_case_per_subject",
            ),
            models.CheckConstraint(
                condition=Q(verification_authorised=False) | Q(authorised_on__isnull=False),
                name="application_authorisation_dated",
            ),
        ]
        indexes = [models.Index(fields=["status", "current_step"])]


class CaseStep(models.Model):
    """One step of one case (TaskState), copied from the definition when the case opens so that later edits of
    the definition never rewrite a running case."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="steps")
    order = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=64)
    level = models.CharField(max_length=16, choices=Level.choices)
    roles = models.JSONField(default=list)
    optional = models.BooleanField(default=False)
    decides = models.BooleanField(default=False)
    refusable = models.BooleanField(default=False)
    guards = models.JSONField(default=list, blank=True)
    deadline_days = models.PositiveSmallIntegerField(null=True, blank=True)
    deadline_unit = models.CharField(max_length=16, choices=DeadlineUnit.choices, default=DeadlineUnit.WORKING)
    basis = models.CharField(max_length=200, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=StepStatus.choices, default=StepStatus.WAITING)
    responsible_region = models.ForeignKey(Region, null=True, on_delete=models.PROTECT, related_name="+")
    opened_on = models.DateField(_("开始日期"), null=True, blank=True)
    due_date = models.DateField(_("办理时限"), null=True, blank=True, db_index=True)
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    acted_at = models.DateTimeField(_("办理时间"), null=True, blank=True)
    acted_on = models.DateField(_("办理日期"), null=True, blank=True)
    comment = models.TextField(_("意见"), blank=True)
    payload = models.JSONField(_("办理记录"), default=dict, blank=True)

    class Meta:
        verbose_name = _("办理环节")
        ordering = ["application", "order"]
        constraints = [
            models.UniqueConstraint(fields=["application", "code"], name="case_step_code_unique"),
        ]


class HomeVisit(models.Model):
    """入户调查 record: at least two investigators (2012 art. 18), signed by them and the members present."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="home_visits")
    level = models.CharField(_("层级"), max_length=16, choices=Level.choices)
    visited_on = models.DateField(_("入户日期"))
    investigators = models.JSONField(_("调查人员"), default=list)
    members_present = models.JSONField(_("在场家庭成员"), default=list, blank=True)
    findings = models.TextField(_("调查情况"))
    conforms = models.BooleanField(_("情况属实"), default=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("入户调查")


class Publicity(models.Model):
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="publicities")
    stage = models.CharField(_("公示类型"), max_length=16, choices=PublicityStage.choices)
    place = models.CharField(_("公示地点"), max_length=100)
    start_date = models.DateField(_("公示开始"))
    end_date = models.DateField(_("公示结束"))
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("公示")
        constraints = [
            models.UniqueConstraint(fields=["application", "stage"], name="publicity_once_per_stage"),
            models.CheckConstraint(condition=Q(end_date__gte=models.F("start_date")), name="publicity_end_after_start"),
        ]


class Objection(models.Model):
    publicity = models.ForeignKey(Publicity, on_delete=models.PROTECT, related_name="objections")
    received_on = models.DateField(_("收到日期"))
    content = models.TextField(_("异议内容"))
    real_name = models.BooleanField(_("实名"), default=False)
    status = models.CharField(
        _("处理状态"), max_length=16, choices=ObjectionStatus.choices, default=ObjectionStatus.OPEN
    )
    resolution = models.TextField(_("核实情况"), blank=True)
    resolved_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    resolved_on = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("公示异议")


class Determination(models.Model):
    """What the rules said, with the exact input and trace, at the moment of a decision (never recomputed)."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="determinations")
    program = models.CharField(max_length=32, choices=Program.choices)
    rules_program = models.CharField(max_length=32, blank=True)
    rules_available = models.BooleanField(default=True)
    rules_version = models.CharField(max_length=64, blank=True)
    as_of = models.DateField()
    input = models.JSONField()
    output = models.JSONField()
    eligible = models.BooleanField(null=True)
    monthly_amount = models.DecimalField(null=True, max_digits=14, decimal_places=2)
    actor = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("测算结果快照")


class Decision(models.Model):
    application = models.OneToOneField(Application, on_delete=models.PROTECT, related_name="decision")
    outcome = models.CharField(_("决定"), max_length=16, choices=Outcome.choices)
    reasons = models.JSONField(_("理由"), default=list, blank=True)
    amount = models.DecimalField(_("金额（元）"), max_digits=14, decimal_places=2)
    decided_on = models.DateField(_("决定日期"))
    effective_month = models.DateField(_("起始月份"), null=True, blank=True)
    determination = models.ForeignKey(Determination, on_delete=models.PROTECT, related_name="+")
    act_first = models.BooleanField(_("先行救助"), default=False)
    actor = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("审批决定")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="decision_amount_non_negative"),
            models.CheckConstraint(
                condition=Q(outcome=Outcome.APPROVED) | ~Q(reasons=[]), name="decision_refusal_has_reasons"
            ),
        ]


class Recipient(models.Model):
    """A household (or person) receiving a recurring benefit; months are stored as their first day and
    payments cover start_month … end_month inclusive."""

    program = models.CharField(_("救助项目"), max_length=32, choices=Program.choices)
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="recipients")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    subject_key = models.CharField(max_length=24)
    region = models.ForeignKey(Region, on_delete=models.PROTECT)
    region_path = models.CharField(max_length=80, db_index=True)
    status = models.CharField(_("状态"), max_length=16, choices=RecipientStatus.choices, default=RecipientStatus.ACTIVE)
    start_month = models.DateField(_("起始月份"))
    end_month = models.DateField(_("终止月份（含）"), null=True, blank=True)
    monthly_amount = models.DecimalField(_("月保障金额（元）"), max_digits=14, decimal_places=2)
    determination = models.ForeignKey(Determination, on_delete=models.PROTECT, related_name="+")
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="+")
    recheck_category = models.CharField(_("复查类别"), max_length=16, choices=RecheckCategory.choices)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("救助对象")
        constraints = [
            models.UniqueConstraint(
                fields=["program", "subject_key"],
                condition=~Q(status=RecipientStatus.TERMINATED),
                name="recipient_one_live_per_subject",
            ),
            models.CheckConstraint(condition=Q(monthly_amount__gte=0), name="recipient_amount_non_negative"),
            models.CheckConstraint(
                condition=Q(end_month__isnull=True)
                | Q(end_month__gte=models.F("start_month"))
                | Q(status=RecipientStatus.TERMINATED),
                name="recipient_end_after_start",
            ),
        ]


class RecipientStatusChange(models.Model):
    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="history")
    from_status = models.CharField(max_length=16, choices=RecipientStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=RecipientStatus.choices)
    effective_month = models.DateField(_("生效月份"))
    monthly_amount = models.DecimalField(max_digits=14, decimal_places=2)
    reason = models.CharField(_("原因"), max_length=300)
    source = models.CharField(max_length=24, choices=Discovery.choices)
    application = models.ForeignKey(Application, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("救助对象状态变更")
        ordering = ["recipient", "at", "pk"]


class Recheck(models.Model):
    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="rechecks")
    due_date = models.DateField(_("复查期限"), db_index=True)
    category = models.CharField(_("复查类别"), max_length=16, choices=RecheckCategory.choices)
    reason = models.CharField(_("原因"), max_length=16, choices=RecheckReason.choices)
    status = models.CharField(_("状态"), max_length=16, choices=RecheckStatus.choices, default=RecheckStatus.SCHEDULED)
    application = models.ForeignKey(Application, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("复查")


class ChangeReport(models.Model):
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="change_reports")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("变更事项"), max_length=16, choices=ChangeKind.choices)
    reported_on = models.DateField(_("报告日期"))
    details = models.JSONField(_("变更内容"), default=dict, blank=True)
    region_path = models.CharField(max_length=80, db_index=True)
    reported_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("家庭情况变更报告")
