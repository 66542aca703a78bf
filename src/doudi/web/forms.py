"""Forms render fields and parse the raw input; the registry services do the real validation.

Fields are deliberately not `required` here: the service names the missing field with its own Chinese message,
so forms, the API and imports refuse the same input with the same words.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from doudi.core.errors import ApplicationError, NotFound, PermissionDenied
from doudi.core.models import Region
from doudi.registry.choices import (
    ETHNIC_GROUPS,
    AssetKind,
    DisabilityCategory,
    ExpenseKind,
    HukouType,
    IncomeKind,
    LabourCapacity,
    LeftBehind,
    PovertyStatus,
    Relation,
    Sex,
)
from doudi.registry.models import Household, Membership, Person
from doudi.registry.selectors import HouseholdDetail

BLANK = ("", "——")
Choices = list[tuple[Any, Any]]


def with_blank(choices: Any) -> Choices:
    return [BLANK, *list(choices)]


def set_choices(form: forms.Form, name: str, choices: Choices) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


class DateInput(forms.DateInput):
    input_type = "date"


class ServiceForm(forms.Form):
    """A form whose errors come from ApplicationError; `marked` lists the fields shown as required."""

    marked: frozenset[str] = frozenset()
    # Refusals that are not about the input: they propagate and become the 404 / 403 page.
    propagate: tuple[type[ApplicationError], ...] = (NotFound, PermissionDenied)
    # Field names used by services that differ from the form's own names.
    aliases: dict[str, str] = {}

    def values(self) -> dict[str, Any]:
        """The parsed input, for the service (an empty dict when the basic parsing failed)."""
        return dict(self.cleaned_data) if self.is_valid() else {}

    def apply_error(self, exc: ApplicationError) -> None:
        """Show a service error at the field it names, or above the form."""
        if isinstance(exc, self.propagate):
            raise exc
        name = self.aliases.get(exc.field or "", exc.field or "")
        if name in self.fields and not self.fields[name].widget.is_hidden:
            self.add_error(name, exc.message)
        else:
            self.add_error(None, exc.message)


class LoginForm(ServiceForm):
    marked = frozenset({"username", "password"})
    propagate = ()  # an account without a region is told so on the login page
    username = forms.CharField(label=_("用户名"), max_length=150, required=False)
    password = forms.CharField(label=_("密码"), widget=forms.PasswordInput, required=False, strip=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update(autocomplete="username", autofocus=True)
        self.fields["password"].widget.attrs.update(autocomplete="current-password")


class SearchForm(forms.Form):
    q = forms.CharField(label=_("姓名、身份证号或户编号"), max_length=40, required=False)
    village = forms.ChoiceField(label=_("村（社区）"), required=False)
    after = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args: Any, villages: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "village", [("", _("全部村（社区）")), *villages])
        self.fields["q"].widget.attrs.update(placeholder=_("输入姓名、身份证号或户编号"), type="search")


class HouseholdForm(ServiceForm):
    marked = frozenset({"region_code", "address", "hukou_type"})
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    region_code = forms.ChoiceField(label=_("所在村（社区）"), required=False)
    address = forms.CharField(label=_("居住地址"), max_length=400, required=False)
    hukou_type = forms.ChoiceField(label=_("户籍类别"), choices=with_blank(HukouType.choices), required=False)
    registered_poor = forms.BooleanField(label=_("建档立卡户"), required=False)
    poverty_status = forms.ChoiceField(
        label=_("脱贫状态"),
        choices=with_blank(PovertyStatus.choices),
        required=False,
        help_text=_("建档立卡户填写“未脱贫”或“已脱贫”"),
    )
    poverty_exit_year = forms.CharField(label=_("脱贫年度"), max_length=8, required=False)

    def __init__(self, *args: Any, villages: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "region_code", with_blank(villages))


class PersonForm(ServiceForm):
    marked = frozenset({"id_number", "name"})
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(label=_("姓名"), max_length=80, required=False)
    id_number = forms.CharField(label=_("公民身份号码"), max_length=40, required=False)
    sex = forms.ChoiceField(
        label=_("性别"), choices=with_blank(Sex.choices), required=False, help_text=_("可不填，按身份证号码确定")
    )
    birth_date = forms.CharField(
        label=_("出生日期"), required=False, widget=DateInput, help_text=_("可不填，按身份证号码确定")
    )
    ethnicity = forms.ChoiceField(label=_("民族"), choices=list(ETHNIC_GROUPS.items()), required=False)
    phone = forms.CharField(label=_("联系电话"), max_length=40, required=False)
    labour_capacity = forms.ChoiceField(label=_("劳动能力"), choices=LabourCapacity.choices, required=False)
    disability_category = forms.ChoiceField(
        label=_("残疾类别"), choices=with_blank(DisabilityCategory.choices), required=False
    )
    disability_grade = forms.ChoiceField(
        label=_("残疾等级"), choices=with_blank([(str(g), str(g)) for g in range(1, 5)]), required=False
    )
    disability_cert_no = forms.CharField(label=_("残疾人证号"), max_length=40, required=False)
    serious_illness = forms.BooleanField(label=_("重病患者"), required=False)
    student = forms.BooleanField(label=_("在校学生"), required=False)
    left_behind = forms.ChoiceField(label=_("留守情况"), choices=LeftBehind.choices, required=False)
    hiv = forms.BooleanField(label=_("艾滋病病毒感染者/患者（保密）"), required=False)
    protection_order = forms.BooleanField(label=_("受保护令保护（保密）"), required=False)
    confidential = forms.BooleanField(label=_("工作人员标记保密"), required=False)
    death_date = forms.CharField(label=_("死亡日期"), required=False, widget=DateInput)


class MemberAddForm(PersonForm):
    marked = frozenset({"id_number", "name", "relation", "start_date"})
    relation = forms.ChoiceField(label=_("与户主关系"), choices=with_blank(Relation.choices), required=False)
    start_date = forms.CharField(label=_("加入日期"), required=False, widget=DateInput)

    field_order = ["relation", "name", "id_number", "start_date"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["version"]
        del self.fields["death_date"]


class PersonMoveForm(ServiceForm):
    marked = frozenset({"to_household", "relation", "date"})
    aliases = {"to_household_id": "to_household"}
    to_household = forms.CharField(
        label=_("迁入家庭户编号"), max_length=20, required=False, help_text=_("18位户编号，须在您的管辖范围内")
    )
    relation = forms.ChoiceField(label=_("在新家庭中与户主关系"), choices=with_blank(Relation.choices), required=False)
    date = forms.CharField(label=_("迁移日期"), required=False, widget=DateInput)


class MembershipEndForm(ServiceForm):
    marked = frozenset({"end_date", "end_reason"})
    aliases = {"reason": "end_reason"}
    end_date = forms.CharField(label=_("终止日期"), required=False, widget=DateInput)
    end_reason = forms.CharField(label=_("终止原因"), max_length=200, required=False)


ITEM_KIND_CHOICES = {"income": IncomeKind.choices, "asset": AssetKind.choices, "expense": ExpenseKind.choices}


class ItemForm(ServiceForm):
    """An income, asset or expense item; the amount fields depend on the group."""

    marked = frozenset({"kind", "start_date", "monthly_amount", "value", "count"})
    kind = forms.ChoiceField(label=_("类型"), required=False)
    person_id = forms.TypedChoiceField(label=_("所属成员"), coerce=int, empty_value=None, required=False)
    monthly_amount = forms.CharField(label=_("月金额（元）"), max_length=30, required=False)
    value = forms.CharField(label=_("价值（元）"), max_length=30, required=False)
    count = forms.CharField(label=_("数量"), max_length=10, required=False, initial="1")
    start_date = forms.CharField(label=_("起始日期"), required=False, widget=DateInput)
    end_date = forms.CharField(label=_("终止日期"), required=False, widget=DateInput, help_text=_("仍在持续的留空"))
    note = forms.CharField(label=_("备注"), max_length=400, required=False)

    def __init__(self, *args: Any, kind_group: str, members: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "kind", with_blank(ITEM_KIND_CHOICES[kind_group]))
        set_choices(self, "person_id", [("", _("全户")), *members])
        drop = ["monthly_amount"] if kind_group == "asset" else ["value", "count"]
        for name in drop:
            del self.fields[name]
        for name in ("monthly_amount", "value"):
            if name in self.fields:
                self.fields[name].widget.attrs.update(inputmode="decimal")

    def item_data(self) -> dict[str, Any]:
        data = self.values()
        data.pop("person_id", None)
        return data


class ItemEndForm(ServiceForm):
    marked = frozenset({"end_date"})
    end_date = forms.CharField(label=_("终止日期"), required=False, widget=DateInput)


IMPORT_KINDS = [("households", _("家庭及成员")), ("regions", _("乡镇、村（社区）区划"))]
EXPORT_FORMATS = [("csv", "CSV"), ("xlsx", "Excel (.xlsx)")]


class ImportForm(ServiceForm):
    marked = frozenset({"kind", "file"})
    kind = forms.ChoiceField(label=_("导入内容"), choices=IMPORT_KINDS)
    file = forms.FileField(
        label=_("文件"),
        error_messages={"required": _("请选择要导入的文件"), "empty": _("上传的文件是空的")},
        help_text=_("CSV（UTF-8）或 Excel（.xlsx）；全部行通过校验才会导入，否则一行也不导入"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs.update(accept=".csv,.xlsx")


class ExportForm(ServiceForm):
    region = forms.ChoiceField(label=_("区域"))
    fmt = forms.ChoiceField(label=_("格式"), choices=EXPORT_FORMATS, initial="xlsx")

    def __init__(self, *args: Any, regions: Choices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "region", regions)


# --- initial values and choices built from what the selectors returned ---------------------------------------

ITEM_GROUP_LABELS = {"income": _("收入"), "asset": _("财产"), "expense": _("刚性支出")}
TEMPLATE_LINKS = [
    {"kind": kind, "label": label, "fmt": fmt, "fmt_label": fmt_label}
    for kind, label in IMPORT_KINDS
    for fmt, fmt_label in EXPORT_FORMATS
]


def household_initial(household: Household) -> dict[str, Any]:
    return {
        "version": household.version,
        "region_code": household.region_id,
        "address": household.address,
        "hukou_type": household.hukou_type,
        "registered_poor": household.registered_poor,
        "poverty_status": household.poverty_status,
        "poverty_exit_year": household.poverty_exit_year or "",
    }


# Sex and birth date follow the ID number: left empty on the edit form so that correcting a mistyped ID number
# does not collide with the old values (the service checks them only when they are given).
PERSON_DERIVED = frozenset({"sex", "birth_date"})


def person_initial(person: Person) -> dict[str, Any]:
    initial = {name: getattr(person, name) for name in PersonForm.base_fields if name not in PERSON_DERIVED}
    initial["disability_grade"] = str(person.disability_grade or "")
    initial["death_date"] = person.death_date.isoformat() if person.death_date else ""
    return initial


def member_choices(members: Iterable[Membership]) -> Choices:
    return [(m.person_id, m.person.name) for m in members]


def items_of(detail: HouseholdDetail, kind_group: str) -> list[Any]:
    groups: dict[str, list[Any]] = {"income": detail.incomes, "asset": detail.assets, "expense": detail.expenses}
    return groups[kind_group]


def region_choices(own: Region, children: Iterable[Region]) -> Choices:
    return [(own.code, own.name), *((r.code, f"— {r.name}") for r in children)]


def back_url(membership: Membership | None) -> str:
    """Where to return after editing a person: the household they live in, else the search page."""
    if membership is None:
        return reverse("web:household_list")
    return reverse("web:household_detail", args=[membership.household_id])
