"""Code tables of the case workflow (see docs/cases.md)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Program(models.TextChoices):
    DIBAO = "dibao", _("最低生活保障")
    TEKUN = "tekun", _("特困人员救助供养")
    TEMPORARY_ASSISTANCE = "temporary_assistance", _("临时救助")
    DISABILITY_LIVING = "disability_living", _("困难残疾人生活补贴")
    DISABILITY_NURSING = "disability_nursing", _("重度残疾人护理补贴")
    FUNERAL = "funeral", _("惠民殡葬补贴")


# Benefits paid to one person rather than to the household (the subject person is required).
PERSONAL_PROGRAMS = frozenset({Program.TEKUN, Program.DISABILITY_LIVING, Program.DISABILITY_NURSING, Program.FUNERAL})
# One-off benefits: a decision pays once and creates no recipient.
ONE_OFF_PROGRAMS = frozenset({Program.TEMPORARY_ASSISTANCE, Program.FUNERAL})


class RuleSet(models.TextChoices):
    """Which procedure rules apply: by the date the application was received."""

    R2012 = "2012", _("2012年审核审批办法（2021年6月30日前受理）")
    R2021 = "2021", _("2021年审核确认办法（2021年7月1日起受理）")


class CaseKind(models.TextChoices):
    NEW = "new", _("新申请")
    RECHECK = "recheck", _("复查")
    ACT_FIRST = "act_first", _("先行救助")


class Level(models.TextChoices):
    VILLAGE = "village", _("村（社区）")
    TOWNSHIP = "township", _("乡镇（街道）")
    COUNTY = "county", _("县级")


class DeadlineUnit(models.TextChoices):
    WORKING = "working", _("工作日")
    CALENDAR = "calendar", _("自然日")


class ApplicationStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", _("办理中")
    APPROVED = "approved", _("已批准")
    REFUSED = "refused", _("不予批准")
    WITHDRAWN = "withdrawn", _("已撤回")


OPEN_STATUSES = (ApplicationStatus.IN_PROGRESS,)


class Discovery(models.TextChoices):
    INTAKE = "intake", _("依申请受理")
    ACTIVE_DISCOVERY = "active_discovery", _("主动发现")
    CHANGE_REPORT = "change_report", _("变更报告")
    SCHEDULED = "scheduled", _("定期复查")
    DEATH = "death", _("死亡信息")


class StepStatus(models.TextChoices):
    WAITING = "waiting", _("未开始")
    PENDING = "pending", _("待办")
    DONE = "done", _("已办结")
    REJECTED = "rejected", _("不予通过")
    SKIPPED = "skipped", _("已跳过")


CLOSED_STEP_STATUSES = (StepStatus.DONE, StepStatus.REJECTED, StepStatus.SKIPPED)


class Outcome(models.TextChoices):
    APPROVED = "approved", _("批准")
    REFUSED = "refused", _("不予批准")


class RecipientStatus(models.TextChoices):
    ACTIVE = "active", _("正常享受")
    GRADUAL_EXIT = "gradual_exit", _("渐退期")
    SUSPENDED = "suspended", _("暂停")
    TERMINATED = "terminated", _("终止")


LIVE_RECIPIENT_STATUSES = (RecipientStatus.ACTIVE, RecipientStatus.GRADUAL_EXIT, RecipientStatus.SUSPENDED)

# Allowed status moves; a terminated recipient comes back only through a new application.
RECIPIENT_TRANSITIONS: dict[str, frozenset[str]] = {
    RecipientStatus.ACTIVE: frozenset(
        {RecipientStatus.GRADUAL_EXIT, RecipientStatus.SUSPENDED, RecipientStatus.TERMINATED}
    ),
    RecipientStatus.GRADUAL_EXIT: frozenset({RecipientStatus.ACTIVE, RecipientStatus.TERMINATED}),
    RecipientStatus.SUSPENDED: frozenset({RecipientStatus.ACTIVE, RecipientStatus.TERMINATED}),
    RecipientStatus.TERMINATED: frozenset(),
}


class RecheckCategory(models.TextChoices):
    MONTHLY = "monthly", _("按月复查")
    QUARTERLY = "quarterly", _("按季复查")
    HALF_YEARLY = "half_yearly", _("每半年复查")
    YEARLY = "yearly", _("每年复查")


RECHECK_MONTHS = {
    RecheckCategory.MONTHLY: 1,
    RecheckCategory.QUARTERLY: 3,
    RecheckCategory.HALF_YEARLY: 6,
    RecheckCategory.YEARLY: 12,
}


class RecheckReason(models.TextChoices):
    SCHEDULED = "scheduled", _("定期复查")
    DEATH = "death", _("家庭成员死亡")
    CHANGE_REPORT = "change_report", _("家庭情况变化")


class RecheckStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("待复查")
    OPEN = "open", _("复查中")
    DONE = "done", _("已完成")
    CANCELLED = "cancelled", _("已取消")


class ChangeKind(models.TextChoices):
    INCOME = "income", _("收入变化")
    MEMBERSHIP = "membership", _("家庭成员变化")
    DEATH = "death", _("死亡")
    ASSETS = "assets", _("财产变化")
    OTHER = "other", _("其他")


class ObjectionStatus(models.TextChoices):
    OPEN = "open", _("待核实")
    UPHELD = "upheld", _("异议成立")
    DISMISSED = "dismissed", _("异议不成立")


class PublicityStage(models.TextChoices):
    INITIAL = "initial", _("审核公示")
    APPROVAL = "approval", _("拟批准公示")


class ApprovalTier(models.TextChoices):
    """Temporary assistance: who must approve, by amount (民发〔2018〕23号)."""

    TOWNSHIP = "township", _("乡镇（街道）审批")
    COUNTY = "county", _("县级审批")
    ONE_CASE_ONE_DISCUSSION = "one_case_one_discussion", _("一事一议")


# 近亲属 (2012 审核审批办法 art. 14): the relations a kinship declaration may name.
KIN_RELATIONS = {
    "spouse": "配偶",
    "parent": "父母",
    "child": "子女",
    "sibling": "兄弟姐妹",
    "grandparent": "祖父母、外祖父母",
    "grandchild": "孙子女、外孙子女",
}
# Whom the applicant is related to: assistance staff (经办人员) or village/residents' committee members.
KIN_POSITIONS = {"staff": "低保经办人员", "committee": "村（居）委会成员"}
