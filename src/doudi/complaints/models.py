"""Complaints and reports (投诉举报): the complaint, the reporter's identity (kept apart and shown only to the
handling office), attachments, the handling record and reminders. See docs/complaints.md."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from doudi.cases.choices import Program
from doudi.cases.models import Application, Recipient
from doudi.complaints.choices import Action, Channel, EntryKind, Finding, Kind, ReminderKind, Status
from doudi.core.models import Region, User
from doudi.registry.models import Household


class Complaint(models.Model):
    tracking_number = models.CharField(_("受理编号"), max_length=20, unique=True)
    kind = models.CharField(_("类别"), max_length=16, choices=Kind.choices)
    channel = models.CharField(_("渠道"), max_length=16, choices=Channel.choices)
    program = models.CharField(_("涉及救助项目"), max_length=32, choices=Program.choices, blank=True)
    # The village or township the matter concerns, and its path (supervisors' statistics are scoped by it).
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("涉及地区"))
    region_path = models.CharField(max_length=80, db_index=True)
    county_matter = models.BooleanField(_("涉及乡镇工作人员或县级事项"), default=False)
    subject = models.CharField(_("标题"), max_length=100)
    description = models.TextField(_("具体内容"))
    anonymous = models.BooleanField(_("匿名"), default=True)
    # The handling office (a township or a county) and its path: lists are scoped by it.
    office = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("承办单位"))
    office_path = models.CharField(max_length=80, db_index=True)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.NEW)
    not_accepted_reason = models.CharField(_("不予受理理由"), max_length=500, blank=True)
    received_on = models.DateField(_("收到日期"))
    acceptance_due = models.DateField(_("受理期限"))
    handling_due = models.DateField(_("办理期限"))
    deadline_basis = models.JSONField(_("期限依据"), default=dict)
    accepted_on = models.DateField(_("受理日期"), null=True, blank=True)
    answered_on = models.DateField(_("答复日期"), null=True, blank=True)
    closed_on = models.DateField(_("办结日期"), null=True, blank=True)
    finding = models.CharField(_("核查结论"), max_length=16, choices=Finding.choices, blank=True)
    reply = models.TextField(_("书面答复"), blank=True)
    public_reply = models.TextField(_("公开答复摘要"), blank=True)
    household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    application = models.ForeignKey(Application, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    recipient = models.ForeignKey(Recipient, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("投诉举报")
        indexes = [
            models.Index(fields=["office_path", "status", "handling_due"]),
            models.Index(fields=["status", "acceptance_due"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=Status.NOT_ACCEPTED) | ~Q(not_accepted_reason=""),
                name="complaint_not_accepted_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(handling_due__gte=models.F("received_on")), name="complaint_due_after_receipt"
            ),
        ]

    def __str__(self) -> str:
        return f"投诉举报 {self.pk}"


class Reporter(models.Model):
    """Who filed a real-name complaint. Read only through `selectors.reporter_for` (the handling office);
    never in lists, statistics, the audit log or log records."""

    complaint = models.OneToOneField(Complaint, on_delete=models.PROTECT, related_name="reporter")
    name = models.CharField(_("姓名"), max_length=64)
    phone = models.CharField(_("联系电话"), max_length=32, blank=True)
    address = models.CharField(_("通讯地址"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("举报人信息")


class Attachment(models.Model):
    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="attachments")
    original_name = models.CharField(_("文件名"), max_length=120)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    stored_name = models.CharField(max_length=80, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("附件")


class Entry(models.Model):
    """One line of the handling record (append-only, like the audit log it is paired with)."""

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(_("事项"), max_length=16, choices=EntryKind.choices)
    text = models.TextField(_("内容"), blank=True)
    finding = models.CharField(_("核查结论"), max_length=16, choices=Finding.choices, blank=True)
    action = models.CharField(_("处理措施"), max_length=16, choices=Action.choices, blank=True)
    household = models.ForeignKey(Household, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    application = models.ForeignKey(Application, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    recipient = models.ForeignKey(Recipient, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    from_office = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_office = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    acted_on = models.DateField(_("办理日期"))
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("办理记录")
        ordering = ["created_at", "id"]


class Reminder(models.Model):
    """A reminder recorded by `manage.py complaints_remind`: at most one per complaint, kind and deadline."""

    complaint = models.ForeignKey(Complaint, on_delete=models.PROTECT, related_name="reminders")
    kind = models.CharField(max_length=24, choices=ReminderKind.choices)
    due_on = models.DateField()
    office = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    created_on = models.DateField()

    class Meta:
        verbose_name = _("催办提醒")
        constraints = [
            models.UniqueConstraint(fields=["complaint", "kind", "due_on"], name="reminder_once_per_deadline"),
        ]
