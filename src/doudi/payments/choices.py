from django.db import models
from django.utils.translation import gettext_lazy as _


class PayrollStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    APPROVED = "approved", _("已审批")
    EXPORTED = "exported", _("已生成银行文件")
    RECONCILED = "reconciled", _("已对账")


class LineStatus(models.TextChoices):
    PENDING = "pending", _("待发放")
    PAID = "paid", _("已发放")
    FAILED = "failed", _("发放失败")
    REISSUED = "reissued", _("待重新发放")
    CANCELLED = "cancelled", _("已取消")


class FailureReason(models.TextChoices):
    WRONG_ACCOUNT = "wrong_account", _("账号错误")
    CLOSED_ACCOUNT = "closed_account", _("账户已销户")


class ReturnResult(models.TextChoices):
    PAID = "paid", _("成功")
    WRONG_ACCOUNT = "wrong_account", _("账号错误")
    CLOSED_ACCOUNT = "closed_account", _("账户已销户")


class DifferenceKind(models.TextChoices):
    ADDED = "added", _("新增对象")
    REMOVED = "removed", _("减少对象")
    AMOUNT_CHANGED = "amount_changed", _("金额变化")


class DifferenceStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPLIED = "applied", _("已审批并调整")
    NOT_APPLIED = "not_applied", _("已审批，原发放已完成未调整")
    SUPERSEDED = "superseded", _("已被新的比对结果取代")
