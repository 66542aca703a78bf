"""Complaint and report vocabularies (投诉举报)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    COMPLAINT = "complaint", _("投诉")
    REPORT = "report", _("举报")


class Channel(models.TextChoices):
    PORTAL = "portal", _("网上提交")
    HOTLINE = "hotline", _("热线电话")
    LETTER = "letter", _("来信")
    VISIT = "visit", _("来访")


class Status(models.TextChoices):
    NEW = "new", _("待受理")
    ACCEPTED = "accepted", _("已受理")
    INVESTIGATING = "investigating", _("调查核实中")
    ANSWERED = "answered", _("已答复")
    CLOSED = "closed", _("已办结")
    NOT_ACCEPTED = "not_accepted", _("不予受理")


OPEN_STATUSES = (Status.NEW, Status.ACCEPTED, Status.INVESTIGATING)
FINAL_STATUSES = (Status.CLOSED, Status.NOT_ACCEPTED)


class Finding(models.TextChoices):
    SUBSTANTIATED = "substantiated", _("属实")
    PARTLY = "partly", _("部分属实")
    UNSUBSTANTIATED = "unsubstantiated", _("不属实")


class EntryKind(models.TextChoices):
    INTAKE = "intake", _("登记")
    ACCEPT = "accept", _("受理")
    NOT_ACCEPT = "not_accept", _("不予受理")
    NOTE = "note", _("调查核实记录")
    FINDING = "finding", _("核查结论")
    ACTION = "action", _("处理措施")
    LINK = "link", _("关联案件")
    REROUTE = "reroute", _("转办")
    ANSWER = "answer", _("答复")
    CLOSE = "close", _("办结")


class Action(models.TextChoices):
    """What a finding led to, each done through the case services (docs/complaints.md §4)."""

    NONE = "none", _("无需处理")
    RECHECK = "recheck", _("启动复查（重新核查该户救助）")
    SUSPEND = "suspend", _("暂停救助")
    TERMINATE = "terminate", _("终止救助")
    OTHER = "other", _("其他处理（文字说明）")


CASE_ACTIONS = frozenset({Action.RECHECK, Action.SUSPEND, Action.TERMINATE})


class ReminderKind(models.TextChoices):
    ACCEPTANCE_OVERDUE = "acceptance_overdue", _("受理超期")
    HANDLING_OVERDUE = "handling_overdue", _("办理超期")
    HANDLING_DUE_SOON = "handling_due_soon", _("办理即将到期")
