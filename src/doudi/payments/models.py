"""Bank accounts, monthly payrolls and their lines, and the differences a regeneration finds after approval.

Money is Decimal. A recipient is paid at most once per month and program: PayrollLine carries the month and
program and a UNIQUE(recipient, month, program) constraint, which generation relies on (ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from doudi.cases.choices import Program
from doudi.cases.models import Recipient
from doudi.core.models import Region, User
from doudi.payments.choices import (
    DifferenceKind,
    DifferenceStatus,
    FailureReason,
    LineStatus,
    PayrollStatus,
)
from doudi.registry.models import Household, Person


def mask_account(number: str) -> str:
    """Show the first 4 and last 4 digits only (bank card display convention)."""
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


class BankAccount(models.Model):
    """社会保障卡/一卡通 account of a household (household benefits) or a person (personal benefits)."""

    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.PROTECT, related_name="bank_accounts"
    )
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="bank_accounts")
    bank_code = models.CharField(_("银行代码"), max_length=12)
    bank_name = models.CharField(_("开户银行"), max_length=60)
    account_number = models.CharField(_("账号"), max_length=32)
    holder_name = models.CharField(_("户名"), max_length=40)
    active = models.BooleanField(_("有效"), default=True)
    created_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("发放账户")
        constraints = [
            models.CheckConstraint(
                condition=Q(household__isnull=False, person__isnull=True)
                | Q(household__isnull=True, person__isnull=False),
                name="bank_account_one_owner",
            ),
            models.UniqueConstraint(
                fields=["household"], condition=Q(active=True, person__isnull=True), name="bank_account_one_per_hh"
            ),
            models.UniqueConstraint(
                fields=["person"], condition=Q(active=True, household__isnull=True), name="bank_account_one_per_person"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bank_name} {self.masked}"

    @property
    def masked(self) -> str:
        return mask_account(self.account_number)


class Payroll(models.Model):
    """One county's payroll for one program and month (month stored as its first day)."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, verbose_name=_("县级区划"))
    program = models.CharField(_("救助项目"), max_length=32, choices=Program.choices)
    month = models.DateField(_("发放月份"))
    status = models.CharField(_("状态"), max_length=16, choices=PayrollStatus.choices, default=PayrollStatus.DRAFT)
    line_count = models.PositiveIntegerField(_("人（户）数"), default=0)
    total_amount = models.DecimalField(_("合计金额（元）"), max_digits=16, decimal_places=2, default=0)
    fingerprint = models.CharField(_("输入指纹"), max_length=128, blank=True)
    exports = models.PositiveSmallIntegerField(_("银行文件批次"), default=0)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("发放名册")
        constraints = [
            models.UniqueConstraint(fields=["region", "program", "month"], name="payroll_one_per_county_month"),
        ]


class PayrollLine(models.Model):
    # Single-column FK indexes are left out: the composite indexes and the unique constraint below lead with these
    # columns, and every index slows the million-row INSERT … SELECT. Lines are only ever inserted by that
    # statement, from the recipient table joined in the same query and for the payroll row locked in the same
    # transaction (neither is ever deleted: PROTECT), so the per-row foreign-key triggers (half the cost of a
    # million-row payroll) are left out too. UNIQUE(recipient, month, program) stays: it is what forbids paying twice.
    payroll = models.ForeignKey(
        Payroll, on_delete=models.PROTECT, related_name="lines", db_index=False, db_constraint=False
    )
    recipient = models.ForeignKey(
        Recipient, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    program = models.CharField(max_length=32, choices=Program.choices)
    month = models.DateField()
    amount = models.DecimalField(_("金额（元）"), max_digits=14, decimal_places=2)
    bank_code = models.CharField(_("银行代码"), max_length=12, blank=True)
    bank_name = models.CharField(_("开户银行"), max_length=60, blank=True)
    account_number = models.CharField(_("账号"), max_length=32, blank=True)
    holder_name = models.CharField(_("户名"), max_length=40, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=LineStatus.choices, default=LineStatus.PENDING)
    failure_reason = models.CharField(_("失败原因"), max_length=16, choices=FailureReason.choices, blank=True)
    attempt = models.PositiveSmallIntegerField(_("发放次数"), default=1)
    # The bank-file batch the line goes (or went) out in: it has been sent once batch <= payroll.exports. Set at
    # insert and on re-issue, so exporting a million lines needs no per-line update.
    batch = models.PositiveSmallIntegerField(_("银行文件批次"), default=1)
    paid_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("发放明细")
        constraints = [
            models.UniqueConstraint(fields=["recipient", "month", "program"], name="payroll_line_once_per_month"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="payroll_line_amount_non_negative"),
        ]
        indexes = [
            models.Index(fields=["payroll", "status", "bank_code"]),
            models.Index(fields=["household", "month"]),
        ]

    @property
    def masked_account(self) -> str:
        return mask_account(self.account_number)


class PayrollDifference(models.Model):
    """What a regeneration found changed after approval; applied only when a county approver approves it."""

    payroll = models.ForeignKey(Payroll, on_delete=models.PROTECT, related_name="differences")
    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("差异类型"), max_length=16, choices=DifferenceKind.choices)
    old_amount = models.DecimalField(_("原金额"), max_digits=14, decimal_places=2, null=True, blank=True)
    new_amount = models.DecimalField(_("新金额"), max_digits=14, decimal_places=2, null=True, blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=DifferenceStatus.choices, default=DifferenceStatus.PENDING
    )
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("名册差异")
        constraints = [
            models.UniqueConstraint(
                fields=["payroll", "recipient"],
                condition=Q(status=DifferenceStatus.PENDING),
                name="payroll_difference_one_pending",
            ),
        ]
