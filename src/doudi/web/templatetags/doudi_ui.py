"""Presentation helpers for the pages: money, masked ID numbers, ages and readable audit changes."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from django import template
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from doudi.core import idnumber
from doudi.core.dates import age_on
from doudi.registry.models import AssetItem, ExpenseItem, Household, IncomeItem, Membership, Person

register = template.Library()

AUDIT_SUBJECTS: dict[str, tuple[type[Model], Any]] = {
    "household": (Household, gettext_lazy("家庭")),
    "person": (Person, gettext_lazy("人员")),
    "membership": (Membership, gettext_lazy("成员关系")),
    "income": (IncomeItem, gettext_lazy("收入")),
    "asset": (AssetItem, gettext_lazy("财产")),
    "expense": (ExpenseItem, gettext_lazy("刚性支出")),
}
# Bookkeeping columns that say nothing to a caseworker.
AUDIT_HIDDEN = frozenset({"id", "version", "created_at", "updated_at"})
# Health and protection flags are shown as "changed", never with their value (rules-cn §7, 艾滋病防治条例 art. 39).
AUDIT_CONFIDENTIAL = frozenset({"hiv", "protection_order"})


@register.filter
def yuan(value: Any) -> str:
    """A money amount with two decimals and the unit, e.g. 1,234.50 元. Decimal in, never float."""
    if value is None or value == "":
        return "—"
    amount = value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))
    return _("%(amount)s 元") % {"amount": f"{amount.quantize(decimal.Decimal('0.01')):,}"}


@register.filter
def mask_id(value: Any) -> str:
    """An ID number masked for lists (the full number is shown on the detail page only)."""
    return idnumber.mask(str(value)) if value else ""


@register.filter
def age(birth: dt.date | None, death: dt.date | None = None) -> str:
    if birth is None:
        return ""
    return str(age_on(birth, death or timezone.localdate()))


@register.filter
def subject_label(subject_type: str) -> str:
    entry = AUDIT_SUBJECTS.get(subject_type)
    return str(entry[1]) if entry else subject_type


def _display(field: Any, value: Any) -> str:
    if value is None or value == "":
        return _("空")
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if field is not None and field.choices:
        labels = {str(k): str(v) for k, v in field.flatchoices}
        return labels.get(str(value), str(value))
    return str(value)


@register.filter
def audit_changes(entry: Any) -> list[dict[str, str]]:
    """The changed fields of an audit entry as (label, before, after), in the model's field order."""
    subject = AUDIT_SUBJECTS.get(entry.subject_type)
    before: dict[str, Any] = entry.before or {}
    after: dict[str, Any] = entry.after or {}
    fields = {f.attname: f for f in subject[0]._meta.concrete_fields} if subject else {}
    keys = [k for k in fields if k in before or k in after] or sorted(set(before) | set(after))
    rows = []
    for key in keys:
        if key in AUDIT_HIDDEN:
            continue
        old, new = before.get(key), after.get(key)
        if entry.before is None and new in (None, "", False):
            continue  # a creation lists what was filled in, not every empty field
        field = fields.get(key)
        label = str(field.verbose_name) if field is not None else key
        if key in AUDIT_CONFIDENTIAL:
            rows.append({"label": label, "before": _("（保密）"), "after": _("（保密，已变更）")})
            continue
        rows.append(
            {
                "label": label,
                "before": "—" if entry.before is None else _display(field, old),
                "after": "—" if entry.after is None else _display(field, new),
            }
        )
    return rows


@register.filter
def confidential(person: Person) -> bool:
    return bool(person.hiv or person.protection_order or person.confidential)


@register.filter
def total(rows: list[dict[str, Any]], key: str) -> int:
    """The sum of one column of aggregate rows a selector returned (for a table's total line)."""
    return sum(int(row[key]) for row in rows)


@register.filter
def first_line(text: Any) -> str:
    return str(text).strip().splitlines()[0] if str(text).strip() else ""
