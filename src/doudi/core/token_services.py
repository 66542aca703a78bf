"""Writes on API tokens: create (the plain token is returned once), revoke, and the last-used stamp."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from doudi.core.choices import AuditAction, Role
from doudi.core.errors import ApplicationError, NotFound
from doudi.core.models import ApiToken
from doudi.core.scope import Scope
from doudi.core.services import audit_log_create, snapshot
from doudi.core.tokens import token_generate, token_hash

DEFAULT_LIFETIME_DAYS = 90
MAX_LIFETIME_DAYS = 365
MAX_LIVE_TOKENS_PER_USER = 20
# Stamping last_used on every request would turn each API read into a write; once a minute is precise enough.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
_AUDITED_FIELDS = ["user", "name", "created_at", "expires_at", "revoked_at"]


def _clean_name(name: str) -> str:
    text = (name or "").strip()
    if not text:
        raise ApplicationError("required", "令牌名称不能为空", "name")
    if len(text) > 64:
        raise ApplicationError("invalid", "令牌名称不能超过64个字符", "name")
    if any(ch in text for ch in "<>{}\\") or any(ord(ch) < 32 for ch in text):
        raise ApplicationError("invalid", "令牌名称不能包含尖括号、花括号、反斜杠或控制字符", "name")
    return text


@transaction.atomic
def api_token_create(
    *, scope: Scope, name: str, expires_in_days: int = DEFAULT_LIFETIME_DAYS, now: dt.datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token for the caller. Returns the record and the plain token, which is not stored anywhere."""
    clean = _clean_name(name)
    if not 1 <= expires_in_days <= MAX_LIFETIME_DAYS:
        raise ApplicationError("invalid", f"有效期应在1到{MAX_LIFETIME_DAYS}天之间", "expires_in_days")
    now = now or timezone.now()
    live = ApiToken.objects.filter(user_id=scope.user_id, revoked_at__isnull=True, expires_at__gt=now).count()
    if live >= MAX_LIVE_TOKENS_PER_USER:
        raise ApplicationError(
            "too_many_tokens", f"每个用户最多保留{MAX_LIVE_TOKENS_PER_USER}个有效令牌，请先吊销不用的令牌", "name"
        )
    plain = token_generate()
    record = ApiToken.objects.create(
        user_id=scope.user_id,
        name=clean,
        token_hash=token_hash(plain),
        expires_at=now + dt.timedelta(days=expires_in_days),
    )
    audit_log_create(
        scope=scope,
        action=AuditAction.CREATE,
        subject_type="api_token",
        subject_id=record.pk,
        region_code=scope.region_code,
        after=snapshot(record, _AUDITED_FIELDS),
    )
    return record, plain


@transaction.atomic
def api_token_revoke(*, scope: Scope, token_id: int) -> ApiToken:
    """Revoke one of the caller's tokens; an administrator may also revoke tokens of users in their region.

    Revoking twice is harmless and writes no second audit record.
    """
    # Lock only the token row: the user's region is a nullable join, which PostgreSQL will not lock FOR UPDATE.
    record = ApiToken.objects.select_for_update(of=("self",)).select_related("user__region").filter(pk=token_id).first()
    allowed = record is not None and (
        record.user_id == scope.user_id
        or (
            scope.role == Role.ADMIN
            and record.user.region is not None
            and record.user.region.path.startswith(scope.region_path)
        )
    )
    if record is None or not allowed:
        raise NotFound("令牌不存在", "token_id")
    if record.revoked_at is not None:
        return record
    before = snapshot(record, _AUDITED_FIELDS)
    record.revoked_at = timezone.now()
    record.save(update_fields=["revoked_at"])
    audit_log_create(
        scope=scope,
        action=AuditAction.END,
        subject_type="api_token",
        subject_id=record.pk,
        region_code=record.user.region_id,
        before=before,
        after=snapshot(record, _AUDITED_FIELDS),
    )
    return record


def api_token_mark_used(*, token: ApiToken, now: dt.datetime | None = None) -> None:
    """Stamp the last use. Bookkeeping like Django's last_login, so it is not audited (it would double every read)."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
