"""Portal writes: a county's public contact details (audited; the portal shows the change on the next view)."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction

from doudi.core.choices import AuditAction, RegionLevel, Role
from doudi.core.errors import ApplicationError, NotFound, PermissionDenied, StaleEdit
from doudi.core.models import Region
from doudi.core.scope import Scope
from doudi.core.services import audit_log_create, snapshot
from doudi.portal.models import CountyContact

CONTACT_ROLES = frozenset({Role.COUNTY_APPROVER, Role.ADMIN})
# An office telephone: digits with an optional area code, extension or hyphens (0898-12345678, 12345, 12345-1).
PHONE = re.compile(r"^[0-9][0-9\- ]{2,30}[0-9]$")
LIMITS = {"office": 100, "address": 200, "phone": 40, "hotline": 40, "hours": 100}
LABELS = {
    "office": "办理机构",
    "address": "办公地址",
    "phone": "咨询电话",
    "hotline": "投诉举报电话",
    "hours": "办公时间",
}
REQUIRED = ("office", "address", "phone", "hotline")


def _clean(data: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, limit in LIMITS.items():
        raw = data.get(name)
        value = "" if raw is None else str(raw).strip()
        label = LABELS[name]
        if not value and name in REQUIRED:
            raise ApplicationError("required", f"请填写{label}", name)
        if len(value) > limit:
            raise ApplicationError("too_long", f"{label}不能超过{limit}个字", name)
        if "<" in value or ">" in value:
            raise ApplicationError("invalid", f"{label}不能包含尖括号", name)
        if name in ("phone", "hotline") and value and not PHONE.match(value):
            raise ApplicationError("invalid", f"{label}只能包含数字、连字符和空格，例如 0898-12345678", name)
        out[name] = value
    return out


@transaction.atomic
def county_contact_set(*, scope: Scope, county_code: str, version: int | None, data: dict[str, Any]) -> CountyContact:
    """Create or replace a county's public contact details. County approvers edit their own county, administrators
    any county in their region; `version` is the one the editor saw (None when there was no row yet)."""
    if scope.role not in CONTACT_ROLES:
        raise PermissionDenied("只有县级审批人或系统管理员可以修改公开联系方式")
    county = Region.objects.filter(
        code=county_code, level=RegionLevel.COUNTY, path__startswith=scope.region_path
    ).first()
    if county is None:
        raise NotFound("县级区划不存在或不在您的管辖范围内", "county_code")
    values = _clean(data)
    existing = CountyContact.objects.select_for_update().filter(region=county).first()
    if existing is None:
        if version not in (None, 0):
            raise StaleEdit()
        contact = CountyContact.objects.create(region=county, updated_by_id=scope.user_id or None, **values)
        before: dict[str, Any] | None = None
        action = AuditAction.CREATE
    else:
        if version is None or existing.version != version:
            raise StaleEdit()
        before = snapshot(existing, LIMITS)
        for name, value in values.items():
            setattr(existing, name, value)
        existing.version += 1
        existing.updated_by_id = scope.user_id or None
        existing.save()
        contact = existing
        action = AuditAction.UPDATE
    audit_log_create(
        scope=scope,
        action=action,
        subject_type="county_contact",
        subject_id=county.code,
        region_code=county.code,
        before=before,
        after=snapshot(contact, LIMITS),
        note="修改公开联系方式",
    )
    return contact
