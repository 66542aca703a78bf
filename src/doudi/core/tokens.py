"""API tokens: how a secret is made and recognised, and the reads over tokens (writes: core/token_services.py).

A token is `ddt_` followed by 43 URL-safe characters (256 random bits). The prefix lets secret scanners and
people recognise a leaked doudi token; only its SHA-256 is stored, so a database dump does not leak usable tokens.
"""

from __future__ import annotations

import hashlib
import secrets

from django.db.models import QuerySet
from django.utils import timezone

from doudi.core.models import ApiToken, User
from doudi.core.scope import Scope

TOKEN_PREFIX = "ddt_"  # noqa: S105 - a public marker, not a secret
# Longest plausible token; anything longer is refused before hashing (cheap defence against oversized headers).
MAX_TOKEN_LENGTH = 128


def token_generate() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def api_token_authenticate(*, token: str) -> tuple[User, ApiToken] | None:
    """The active user a presented token stands for, or None if it is unknown, revoked, expired or its user inactive."""
    token = token.strip()
    if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        return None
    record = ApiToken.objects.select_related("user", "user__region").filter(token_hash=token_hash(token)).first()
    if record is None or record.revoked_at is not None:
        return None
    if record.expires_at is not None and record.expires_at <= timezone.now():
        return None
    if not record.user.is_active:
        return None
    return record.user, record


def api_token_list(*, scope: Scope) -> QuerySet[ApiToken]:
    """The caller's own tokens, newest first (never the secrets: they are not stored)."""
    return ApiToken.objects.filter(user_id=scope.user_id).order_by("-created_at", "-pk")
