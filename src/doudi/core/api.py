"""API authentication (bearer token or session cookie with CSRF) and the core endpoints: me, regions, tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.errors import AuthenticationError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from doudi.core import selectors, token_services, tokens
from doudi.core.choices import RegionLevel
from doudi.core.errors import ApplicationError
from doudi.core.models import User
from doudi.core.scope import Scope, scope_for

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class BearerTokenAuth(HttpBearer):
    """`Authorization: Bearer ddt_…`. A header that is present but not a valid token is refused outright (401),
    never passed on to session authentication, so a bad token cannot silently ride on a browser session."""

    def __call__(self, request: HttpRequest) -> Any:
        header = request.headers.get(self.header)
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.openapi_scheme or not token.strip():
            raise AuthenticationError()
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> User:
        found = tokens.api_token_authenticate(token=token)
        if found is None:
            raise AuthenticationError()
        user, record = found
        token_services.api_token_mark_used(token=record)
        return user


class SessionCsrfAuth(APIKeyCookie):
    """The Django session of the web pages. CSRF is checked for unsafe methods, after authentication, so that an
    anonymous request gets 401 rather than a CSRF refusal."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        # csrf=True also tells the docs page to embed the CSRF token for "try it out"; the check itself is below.
        super().__init__(csrf=True)

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise ApplicationError("csrf_failed", "安全校验（CSRF）失败，请刷新页面后重试", None, status=403)
        return user

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:  # pragma: no cover - __call__ decides
        return None


def request_scope(request: HttpRequest) -> Scope:
    """The caller's scope: every endpoint hands this to services and selectors, which do all filtering."""
    return scope_for(request.auth)  # type: ignore[attr-defined]


# --- schemas ----------------------------------------------------------------------------------------------------


class ErrorOut(Schema):
    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["记录不存在或不在您的管辖范围内"])
    field: str | None = Field(default=None, examples=["household_id"])


class RegionOut(Schema):
    code: str
    name: str
    level: str
    parent_code: str | None = Field(None, alias="parent_id")


class MeOut(Schema):
    username: str
    full_name: str
    role: str
    role_label: str
    region: RegionOut
    reads_personal_data: bool
    writes_registry: bool
    bulk_registry: bool


class TokenOut(Schema):
    id: int
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreateIn(Schema):
    name: str = Field(max_length=64, examples=["统计报表脚本"])
    expires_in_days: int = Field(token_services.DEFAULT_LIFETIME_DAYS, ge=1, le=token_services.MAX_LIFETIME_DAYS)


class TokenCreatedOut(TokenOut):
    token: str = Field(description="明文令牌，只在创建时返回一次，请立即妥善保存")


# --- endpoints --------------------------------------------------------------------------------------------------

router = Router(tags=["core"])
ERRORS: dict[int | frozenset[int], Any] = {frozenset({401, 403, 404, 422}): ErrorOut}


@router.get("/me", response={200: MeOut, **ERRORS}, url_name="me", summary="当前用户、角色和管辖区域")
def me(request: HttpRequest) -> dict[str, Any]:
    scope = request_scope(request)
    user: User = request.auth  # type: ignore[attr-defined]
    return {
        "username": user.username,
        "full_name": user.full_name,
        "role": user.role,
        "role_label": user.get_role_display(),
        "region": selectors.region_get(scope=scope, code=scope.region_code),
        "reads_personal_data": scope.reads_personal_data,
        "writes_registry": scope.writes_registry,
        "bulk_registry": scope.bulk_registry,
    }


@router.get("/regions", response={200: list[RegionOut], **ERRORS}, url_name="region_list", summary="管辖范围内的区划")
def region_list(request: HttpRequest, level: RegionLevel | None = None, parent: str | None = None) -> Any:
    return selectors.region_list(scope=request_scope(request), level=level, parent_code=parent)


@router.get("/tokens", response={200: list[TokenOut], **ERRORS}, url_name="token_list", summary="我的API令牌")
def token_list(request: HttpRequest) -> Any:
    return tokens.api_token_list(scope=request_scope(request))


@router.post("/tokens", response={201: TokenCreatedOut, **ERRORS}, url_name="token_create", summary="创建API令牌")
def token_create(request: HttpRequest, payload: TokenCreateIn) -> Status[dict[str, Any]]:
    record, plain = token_services.api_token_create(
        scope=request_scope(request), name=payload.name, expires_in_days=payload.expires_in_days
    )
    return Status(201, {**TokenOut.from_orm(record).dict(), "token": plain})


@router.delete("/tokens/{token_id}", response={204: None, **ERRORS}, url_name="token_revoke", summary="吊销API令牌")
def token_revoke(request: HttpRequest, token_id: int) -> Status[None]:
    token_services.api_token_revoke(scope=request_scope(request), token_id=token_id)
    return Status(204, None)
