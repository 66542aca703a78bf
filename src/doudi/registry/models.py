"""Households (户), persons, dated memberships, and dated income, asset and expense items. Money is Decimal."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from doudi.core.models import Region
from doudi.registry.choices import (
    AssetKind,
    DisabilityCategory,
    ExpenseKind,
    HouseholdStatus,
    HukouType,
    IncomeKind,
    LabourCapacity,
    LeftBehind,
    PovertyStatus,
    Relation,
    Sex,
)


class Household(models.Model):
    number = models.CharField(_("户编号"), max_length=20, unique=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, verbose_name=_("所在村（社区）"))
    address = models.CharField(_("居住地址"), max_length=200)
    hukou_type = models.CharField(_("户籍类别"), max_length=8, choices=HukouType.choices)
    registered_poor = models.BooleanField(_("建档立卡户"), default=False)
    poverty_status = models.CharField(
        _("脱贫状态"), max_length=16, choices=PovertyStatus.choices, default=PovertyStatus.NOT_POOR
    )
    poverty_exit_year = models.PositiveSmallIntegerField(_("脱贫年度"), null=True, blank=True)
    head = models.ForeignKey(
        "Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("户主")
    )
    status = models.CharField(_("状态"), max_length=16, choices=HouseholdStatus.choices, default=HouseholdStatus.ACTIVE)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("家庭（户）")
        indexes = [models.Index(fields=["region", "id"], name="household_region_keyset")]
        constraints = [
            models.CheckConstraint(
                condition=Q(registered_poor=True) | Q(poverty_status=PovertyStatus.NOT_POOR),
                name="household_poverty_status_needs_registered_poor",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class Person(models.Model):
    id_number = models.CharField(_("公民身份号码"), max_length=18, unique=True)
    name = models.CharField(_("姓名"), max_length=40)
    sex = models.CharField(_("性别"), max_length=1, choices=Sex.choices)
    birth_date = models.DateField(_("出生日期"))
    ethnicity = models.CharField(_("民族"), max_length=2, default="01")
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    labour_capacity = models.CharField(
        _("劳动能力"), max_length=8, choices=LabourCapacity.choices, default=LabourCapacity.FULL
    )
    disability_category = models.CharField(_("残疾类别"), max_length=1, choices=DisabilityCategory.choices, blank=True)
    disability_grade = models.PositiveSmallIntegerField(_("残疾等级"), null=True, blank=True)
    disability_cert_no = models.CharField(_("残疾人证号"), max_length=20, blank=True)
    serious_illness = models.BooleanField(_("重病患者"), default=False)
    student = models.BooleanField(_("在校学生"), default=False)
    left_behind = models.CharField(_("留守情况"), max_length=8, choices=LeftBehind.choices, blank=True)
    # Confidential: never published, never exported to the public (issue 6; rules-cn §7).
    hiv = models.BooleanField(_("艾滋病病毒感染者/患者（保密）"), default=False)
    protection_order = models.BooleanField(_("受保护令保护（保密）"), default=False)
    confidential = models.BooleanField(_("工作人员标记保密"), default=False)
    death_date = models.DateField(_("死亡日期"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("人员")
        indexes = [
            # Prefix search by name (LIKE '王%'): pattern opclass on PostgreSQL, index-only with the id.
            models.Index(fields=["name"], opclasses=["varchar_pattern_ops"], include=["id"], name="person_name_prefix"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(disability_grade__isnull=True) | Q(disability_grade__gte=1, disability_grade__lte=4),
                name="person_disability_grade_1_4",
            ),
            models.CheckConstraint(
                condition=(Q(disability_category="") & Q(disability_grade__isnull=True))
                | (~Q(disability_category="") & Q(disability_grade__isnull=False)),
                name="person_disability_category_and_grade_together",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A person's membership of a household over time; at most one live (end_date empty) membership per person."""

    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="memberships")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="memberships")
    relation = models.CharField(_("与户主关系"), max_length=2, choices=Relation.choices)
    start_date = models.DateField(_("起始日期"))
    end_date = models.DateField(_("终止日期"), null=True, blank=True)
    end_reason = models.CharField(_("终止原因"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("家庭成员关系")
        constraints = [
            # INCLUDE household_id makes "live households of persons named X" an index-only lookup (PostgreSQL).
            models.UniqueConstraint(
                fields=["person"],
                condition=Q(end_date__isnull=True),
                include=["household"],
                name="membership_one_live_household_per_person",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="membership_end_after_start",
            ),
        ]
        indexes = [models.Index(fields=["household", "end_date"])]


class DatedItem(models.Model):
    household = models.ForeignKey(Household, on_delete=models.PROTECT)
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT)
    start_date = models.DateField(_("起始日期"))
    end_date = models.DateField(_("终止日期"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class IncomeItem(DatedItem):
    kind = models.CharField(_("收入类型"), max_length=32, choices=IncomeKind.choices)
    monthly_amount = models.DecimalField(_("月收入（元）"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("收入")
        constraints = [models.CheckConstraint(condition=Q(monthly_amount__gte=0), name="income_non_negative")]


class AssetItem(DatedItem):
    kind = models.CharField(_("财产类型"), max_length=32, choices=AssetKind.choices)
    value = models.DecimalField(_("价值（元）"), max_digits=14, decimal_places=2)
    count = models.PositiveIntegerField(_("数量"), default=1)

    class Meta:
        verbose_name = _("财产")
        constraints = [models.CheckConstraint(condition=Q(value__gte=0), name="asset_non_negative")]


class ExpenseItem(DatedItem):
    kind = models.CharField(_("支出类型"), max_length=32, choices=ExpenseKind.choices)
    monthly_amount = models.DecimalField(_("月支出（元）"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("刚性支出")
        constraints = [models.CheckConstraint(condition=Q(monthly_amount__gte=0), name="expense_non_negative")]
