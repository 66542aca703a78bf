"""Writes owned by the core app: the audit log, regions and login throttling."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from doudi.core.choices import LEVEL_DEPTH, AuditAction, RegionLevel
from doudi.core.errors import ApplicationError
from doudi.core.models import AuditLog, LoginAttempt, Region
from doudi.core.scope import Scope


def _jsonable(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def snapshot(instance: Model, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """Field values of a model instance as JSON-ready data (foreign keys by id)."""
    data: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        data[field.attname] = _jsonable(getattr(instance, field.attname))
    return data


def audit_log_create(
    *,
    scope: Scope,
    action: str,
    subject_type: str,
    subject_id: object,
    region_code: str | None = None,
    household_id: int | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    note: str = "",
) -> AuditLog:
    """Record a write. Must run inside the writing transaction, so that the change and its record commit together."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit_log_create must be called inside the write's transaction")
    changed_before, changed_after = before, after
    if before is not None and after is not None:
        keys = [k for k in after if before.get(k) != after.get(k)]
        changed_before = {k: before.get(k) for k in keys}
        changed_after = {k: after.get(k) for k in keys}
    return AuditLog.objects.create(
        actor_id=scope.user_id or None,
        actor_name=scope.username,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        region_id=region_code,
        household_id=household_id,
        before=_jsonable(changed_before) if changed_before is not None else None,
        after=_jsonable(changed_after) if changed_after is not None else None,
        note=note[:500],
    )


def region_path(parent: Region | None, code: str) -> str:
    return f"{parent.path if parent else '/'}{code}/"


@transaction.atomic
def region_create(
    *, scope: Scope, code: str, name: str, level: str, parent_code: str | None, synthetic: bool = False
) -> Region:
    if len(code) != 12 or not code.isdigit():
        raise ApplicationError("invalid_region_code", "区划代码必须是12位数字", "code")
    if level not in RegionLevel.values:
        raise ApplicationError("invalid_level", f"未知的区划层级：{level}", "level")
    parent = None
    if parent_code:
        parent = Region.objects.filter(code=parent_code).first()
        if parent is None:
            raise ApplicationError("unknown_region", f"上级区划{parent_code}不存在", "parent_code")
        if LEVEL_DEPTH[level] <= LEVEL_DEPTH[parent.level]:
            raise ApplicationError("invalid_level", "下级区划的层级必须低于上级", "level")
        if not scope.covers(parent):
            raise ApplicationError("forbidden", "上级区划不在您的管辖范围内", "parent_code", status=403)
    region = Region.objects.filter(code=code).first()
    if region is not None:
        if region.name == name and region.parent_id == (parent.code if parent else None):
            return region
        raise ApplicationError("duplicate_region", f"区划代码{code}已存在（{region.name}）", "code")
    region = Region.objects.create(
        code=code, name=name, level=level, parent=parent, path=region_path(parent, code), synthetic=synthetic
    )
    audit_log_create(
        scope=scope,
        action=AuditAction.CREATE,
        subject_type="region",
        subject_id=code,
        region_code=code,
        after=snapshot(region),
    )
    return region


def client_hash(client: str) -> str:
    """A client address as stored or used in keys: keyed with the secret key, never in the clear."""
    return hashlib.sha256(f"{settings.SECRET_KEY}:{client}".encode()).hexdigest()


def login_is_locked(*, username: str) -> bool:
    since = timezone.now() - dt.timedelta(seconds=settings.DOUDI_LOGIN_LOCK_SECONDS)
    failures = LoginAttempt.objects.filter(username=username.lower(), at__gte=since).count()
    return failures >= settings.DOUDI_LOGIN_MAX_FAILURES


@transaction.atomic
def login_failure_record(*, username: str, client: str) -> None:
    LoginAttempt.objects.create(username=username.lower()[:150], client_hash=client_hash(client))


@transaction.atomic
def login_success_record(*, scope: Scope) -> None:
    LoginAttempt.objects.filter(username=scope.username.lower()).delete()
    audit_log_create(
        scope=scope,
        action=AuditAction.LOGIN,
        subject_type="user",
        subject_id=scope.user_id,
        region_code=scope.region_code,
    )


@transaction.atomic
def user_create(*, scope: Scope, username: str, password: str, role: str, region_code: str,
                full_name: str = "") -> Any:
    """Create a user bound to a role and a region inside the creator's scope (administrators only)."""
    from doudi.core.choices import Role
    from doudi.core.models import User

    if scope.role != Role.ADMIN:
        raise ApplicationError("forbidden", "只有系统管理员可以创建用户", "role", status=403)
    if role not in Role.values:
        raise ApplicationError("invalid", f"未知角色：{role}", "role")
    region = Region.objects.filter(code=region_code).first()
    if region is None or not scope.covers(region):
        raise ApplicationError("unknown_region", f"区划{region_code}不存在或不在管辖范围内", "region_code")
    if User.objects.filter(username=username).exists():
        raise ApplicationError("duplicate", f"用户名{username}已存在", "username")
    user = User.objects.create_user(username=username, password=password, role=role, region=region,
                                    full_name=full_name, is_staff=role == Role.ADMIN)
    audit_log_create(scope=scope, action=AuditAction.CREATE, subject_type="user", subject_id=user.pk,
                     region_code=region.code, after=snapshot(user, ["username", "role", "region", "full_name"]))
    return user
