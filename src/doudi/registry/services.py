"""Registry writes. Each runs in one transaction with its audit record; edits carry the version they saw."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Max

from doudi.core.choices import AuditAction, RegionLevel
from doudi.core.errors import ApplicationError, NotFound, StaleEdit
from doudi.core.models import Region
from doudi.core.scope import Scope
from doudi.core.selectors import address_code_checker
from doudi.core.services import audit_log_create, snapshot
from doudi.registry.choices import Relation
from doudi.registry.models import AssetItem, ExpenseItem, Household, IncomeItem, Membership, Person
from doudi.registry.validation import (
    ITEM_KINDS,
    clean_choice,
    clean_date,
    clean_household,
    clean_int,
    clean_money,
    clean_person,
    clean_relation,
    clean_text,
)

HEAD_RELATIONS = {Relation.HEAD}


def _village(scope: Scope, code: str, field: str = "region_code") -> Region:
    region = Region.objects.filter(code=str(code or "").strip()).first()
    if region is None:
        raise ApplicationError("unknown_region", f"区划代码“{code}”不存在", field)
    if not scope.covers(region):
        raise ApplicationError("forbidden_region", f"区划“{region.name}”不在您的管辖范围内", field, status=403)
    if region.level != RegionLevel.VILLAGE:
        raise ApplicationError("not_village", f"“{region.name}”不是村（社区）级区划，家庭须登记到村（社区）", field)
    return region


def _household_for_write(scope: Scope, household_id: int) -> Household:
    scope.require_registry_write()
    household = (
        Household.objects.select_for_update()
        .filter(pk=household_id, region__path__startswith=scope.region_path)
        .first()
    )
    if household is None:
        raise NotFound("家庭不存在或不在您的管辖范围内", "household_id")
    return household


def household_number_next(region: Region) -> str:
    """户编号 = village code + 6-digit sequence within the village."""
    last = Household.objects.filter(region=region, number__startswith=region.code).aggregate(m=Max("number"))["m"]
    seq = int(last[12:]) + 1 if last else 1
    return f"{region.code}{seq:06d}"


def live_membership_of(person_id: int) -> Membership | None:
    return Membership.objects.select_related("household").filter(person_id=person_id, end_date__isnull=True).first()


@transaction.atomic
def household_create(*, scope: Scope, region_code: str, data: dict[str, Any]) -> Household:
    scope.require_registry_write()
    region = _village(scope, region_code)
    fields = clean_household(data)
    household = Household.objects.create(number=household_number_next(region), region=region, **fields)
    audit_log_create(
        scope=scope,
        action=AuditAction.CREATE,
        subject_type="household",
        subject_id=household.pk,
        region_code=region.code,
        household_id=household.pk,
        after=snapshot(household),
    )
    return household


@transaction.atomic
def household_update(*, scope: Scope, household_id: int, version: int, data: dict[str, Any]) -> Household:
    household = _household_for_write(scope, household_id)
    if household.version != version:
        raise StaleEdit()
    before = snapshot(household)
    fields = clean_household({**snapshot(household), **data})
    new_region = household.region
    if "region_code" in data and data["region_code"] != household.region_id:
        new_region = _village(scope, data["region_code"])
    for key, value in fields.items():
        setattr(household, key, value)
    household.region = new_region
    updated = Household.objects.filter(pk=household.pk, version=version).update(
        **fields, region=new_region, version=F("version") + 1
    )
    if updated != 1:
        raise StaleEdit()
    household.refresh_from_db()
    audit_log_create(
        scope=scope,
        action=AuditAction.UPDATE,
        subject_type="household",
        subject_id=household.pk,
        region_code=household.region_id,
        household_id=household.pk,
        before=before,
        after=snapshot(household),
    )
    return household


@transaction.atomic
def member_add(
    *,
    scope: Scope,
    household_id: int,
    data: dict[str, Any],
    relation: str,
    start_date: dt.date | str | None = None,
    address_known: Callable[[str], bool] | None = None,
) -> Membership:
    """Add a person to a household: creates the person, or reuses a known one who is in no live household."""
    household = _household_for_write(scope, household_id)
    check = address_known or address_code_checker()
    fields = clean_person(data, address_known=check)
    relation = clean_relation(relation)
    start = clean_date(start_date or dt.date.today(), "start_date", label="加入日期") or dt.date.today()
    person = Person.objects.select_for_update().filter(id_number=fields["id_number"]).first()
    if person is not None:
        current = live_membership_of(person.pk)
        if current is not None:
            raise ApplicationError(
                "person_in_other_household",
                f"该人员已是家庭{current.household.number}的成员，请先办理迁出再加入本户",
                "id_number",
                extra={"other_household": current.household.number},
            )
        if person.name != fields["name"]:
            raise ApplicationError("name_mismatch", f"身份证号码已登记为“{person.name}”，与所填姓名不一致", "name")
    else:
        person = Person.objects.create(**fields)
        audit_log_create(
            scope=scope,
            action=AuditAction.CREATE,
            subject_type="person",
            subject_id=person.pk,
            region_code=household.region_id,
            household_id=household.pk,
            after=snapshot(person),
        )
    if relation in HEAD_RELATIONS and household.head_id is not None:
        raise ApplicationError("head_exists", "该户已有户主，请先变更原户主关系", "relation")
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                household=household, person=person, relation=relation, start_date=start
            )
    except IntegrityError:
        current = live_membership_of(person.pk)
        number = current.household.number if current else "?"
        raise ApplicationError("person_in_other_household", f"该人员已是家庭{number}的成员", "id_number") from None
    if relation in HEAD_RELATIONS:
        Household.objects.filter(pk=household.pk).update(head=person, version=F("version") + 1)
    else:
        Household.objects.filter(pk=household.pk).update(version=F("version") + 1)
    audit_log_create(
        scope=scope,
        action=AuditAction.CREATE,
        subject_type="membership",
        subject_id=membership.pk,
        region_code=household.region_id,
        household_id=household.pk,
        after=snapshot(membership),
    )
    return membership


@transaction.atomic
def person_update(*, scope: Scope, person_id: int, version: int, data: dict[str, Any]) -> Person:
    scope.require_registry_write()
    person = Person.objects.select_for_update().filter(pk=person_id).first()
    membership = live_membership_of(person_id) if person else None
    if person is None or membership is None or not scope.covers(membership.household.region):
        raise NotFound("人员不存在或不在您的管辖范围内", "person_id")
    if person.version != version:
        raise StaleEdit()
    before = snapshot(person)
    merged = {**before, **data}
    fields = clean_person(merged, address_known=address_code_checker())
    updated = Person.objects.filter(pk=person.pk, version=version).update(**fields, version=F("version") + 1)
    if updated != 1:
        raise StaleEdit()
    person.refresh_from_db()
    audit_log_create(
        scope=scope,
        action=AuditAction.UPDATE,
        subject_type="person",
        subject_id=person.pk,
        region_code=membership.household.region_id,
        household_id=membership.household_id,
        before=before,
        after=snapshot(person),
    )
    return person


@transaction.atomic
def membership_end(*, scope: Scope, membership_id: int, end_date: dt.date | str, reason: str) -> Membership:
    membership = Membership.objects.select_related("household").filter(pk=membership_id).first()
    if membership is None:
        raise NotFound("成员关系不存在", "membership_id")
    household = _household_for_write(scope, membership.household_id)
    if membership.end_date is not None:
        raise ApplicationError("already_ended", "该成员关系已终止", "membership_id", status=409)
    end = clean_date(end_date, "end_date", label="终止日期")
    assert end is not None
    if end < membership.start_date:
        raise ApplicationError("invalid", "终止日期不能早于起始日期", "end_date")
    before = snapshot(membership)
    membership.end_date = end
    membership.end_reason = clean_text(reason, "end_reason", label="终止原因", max_length=100)
    membership.save(update_fields=["end_date", "end_reason"])
    changes: dict[str, Any] = {"version": F("version") + 1}
    if household.head_id == membership.person_id:
        changes["head"] = None
    Household.objects.filter(pk=household.pk).update(**changes)
    audit_log_create(
        scope=scope,
        action=AuditAction.END,
        subject_type="membership",
        subject_id=membership.pk,
        region_code=household.region_id,
        household_id=household.pk,
        before=before,
        after=snapshot(membership),
    )
    return membership


@transaction.atomic
def person_move(
    *, scope: Scope, person_id: int, to_household_id: int, relation: str, date: dt.date | str
) -> Membership:
    """Move a person to another household: the old membership ends, a new one starts; history is kept."""
    current = live_membership_of(person_id)
    # Scope first, so that an outsider learns nothing about where a person lives.
    if current is None or not scope.covers(current.household.region):
        raise NotFound("人员不存在或不在您的管辖范围内", "person_id")
    if current.household_id == to_household_id:
        raise ApplicationError("same_household", "迁入家庭与当前家庭相同", "to_household_id")
    when = clean_date(date, "date", label="迁移日期")
    assert when is not None
    _household_for_write(scope, to_household_id)
    membership_end(scope=scope, membership_id=current.pk, end_date=when, reason="迁出至其他家庭")
    person = Person.objects.get(pk=person_id)
    return member_add(
        scope=scope, household_id=to_household_id, relation=relation, start_date=when, data={**snapshot(person)}
    )


ITEM_MODELS: dict[str, type[IncomeItem] | type[AssetItem] | type[ExpenseItem]] = {
    "income": IncomeItem,
    "asset": AssetItem,
    "expense": ExpenseItem,
}
ITEM_LABELS = {"income": "收入", "asset": "财产", "expense": "刚性支出"}


def clean_item(kind_group: str, data: dict[str, Any], *, prefix: str = "") -> dict[str, Any]:
    def f(name: str) -> str:
        return f"{prefix}{name}"

    out: dict[str, Any] = {
        "kind": clean_choice(
            data.get("kind"), f("kind"), ITEM_KINDS[kind_group], label=f"{ITEM_LABELS[kind_group]}类型"
        ),
        "start_date": clean_date(data.get("start_date") or dt.date.today(), f("start_date"), label="起始日期"),
        "end_date": clean_date(data.get("end_date"), f("end_date"), label="终止日期", required=False),
        "note": clean_text(data.get("note"), f("note"), label="备注", max_length=200, required=False),
    }
    if out["end_date"] and out["end_date"] < out["start_date"]:
        raise ApplicationError("invalid", "终止日期不能早于起始日期", f("end_date"))
    if kind_group == "asset":
        out["value"] = clean_money(data.get("value"), f("value"), label="价值")
        out["count"] = clean_int(data.get("count", 1), f("count"), label="数量", minimum=0)
    else:
        out["monthly_amount"] = clean_money(data.get("monthly_amount"), f("monthly_amount"), label="月金额")
    return out


@transaction.atomic
def item_add(
    *, scope: Scope, household_id: int, kind_group: str, data: dict[str, Any], person_id: int | None = None
) -> IncomeItem | AssetItem | ExpenseItem:
    if kind_group not in ITEM_MODELS:
        raise ApplicationError("invalid", f"未知的项目类型：{kind_group}", "kind_group")
    household = _household_for_write(scope, household_id)
    fields = clean_item(kind_group, data)
    if person_id is not None and not Membership.objects.filter(household=household, person_id=person_id).exists():
        raise ApplicationError("not_member", "该人员不是本户成员", "person_id")
    item = ITEM_MODELS[kind_group].objects.create(household=household, person_id=person_id, **fields)
    Household.objects.filter(pk=household.pk).update(version=F("version") + 1)
    audit_log_create(
        scope=scope,
        action=AuditAction.CREATE,
        subject_type=kind_group,
        subject_id=item.pk,
        region_code=household.region_id,
        household_id=household.pk,
        after=snapshot(item),
    )
    return item


@transaction.atomic
def item_end(*, scope: Scope, kind_group: str, item_id: int, end_date: dt.date | str) -> None:
    model = ITEM_MODELS.get(kind_group)
    if model is None:
        raise ApplicationError("invalid", f"未知的项目类型：{kind_group}", "kind_group")
    item = model.objects.filter(pk=item_id).first()
    if item is None:
        raise NotFound()
    household = _household_for_write(scope, item.household_id)
    end = clean_date(end_date, "end_date", label="终止日期")
    assert end is not None
    if end < item.start_date:
        raise ApplicationError("invalid", "终止日期不能早于起始日期", "end_date")
    before = snapshot(item)
    model.objects.filter(pk=item.pk).update(end_date=end)
    item.refresh_from_db()
    Household.objects.filter(pk=household.pk).update(version=F("version") + 1)
    audit_log_create(
        scope=scope,
        action=AuditAction.END,
        subject_type=kind_group,
        subject_id=item.pk,
        region_code=household.region_id,
        household_id=household.pk,
        before=before,
        after=snapshot(item),
    )
