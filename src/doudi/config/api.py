"""The REST API (django-ninja); OpenAPI at /api/docs. Errors share one shape: {"code", "message", "field"}.

Authentication: `Authorization: Bearer <token>` (core/tokens.py) or the web session cookie (with CSRF on unsafe
methods). See docs/api.md.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import ninja
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template import Context, Engine
from ninja import NinjaAPI, Router
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.docs import DocsBase, _csrf_needed

from doudi.cases.api import router as cases_router
from doudi.complaints.api import router as complaints_router
from doudi.core.api import BearerTokenAuth, SessionCsrfAuth
from doudi.core.api import router as core_router
from doudi.core.errors import ApplicationError, NotFound
from doudi.payments.api import router as payments_router
from doudi.registry.api import router as registry_router
from doudi.verification.api import router as verification_router

logger = logging.getLogger(__name__)


class LocalSwagger(DocsBase):
    """Swagger UI from the assets ninja ships (served under /static/ninja/), never from a CDN: county intranets
    have no internet. Ninja falls back to its CDN template when "ninja" is not an installed app, so the page is
    rendered here with an engine that always finds ninja's local template."""

    _engine = Engine(
        dirs=[str(Path(ninja.__file__).parent / "templates")], libraries={"static": "django.templatetags.static"}
    )

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        add_csrf = _csrf_needed(api)
        context = {
            "swagger_settings": json.dumps(
                {"layout": "BaseLayout", "deepLinking": True, "url": self.get_openapi_url(api, kwargs)}, indent=1
            ),
            "api": api,
            "add_csrf": add_csrf,
            "csrf_token": get_token(request) if add_csrf else "",
        }
        html = self._engine.get_template("ninja/swagger.html").render(Context(context))
        return HttpResponse(html)


api = NinjaAPI(
    title="doudi 兜底 API",
    version="1",
    description="兜底社会救助管理系统接口。认证：Bearer令牌或网页会话（含CSRF）。错误格式：{code, message, field}。",
    urls_namespace="api",
    auth=[BearerTokenAuth(), SessionCsrfAuth()],
    docs=LocalSwagger(),
)


def _error(request: HttpRequest, status: int, code: str, message: str, field: str | None = None) -> HttpResponse:
    return api.create_response(request, {"code": code, "message": message, "field": field}, status=status)


@api.exception_handler(ApplicationError)
def _application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return api.create_response(request, exc.as_dict(), status=exc.status)


_PARAM_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie", "form", "file"})


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    # ninja locates errors as (where, [body parameter name,] field…); clients want the field only.
    loc = [str(p) for p in first.get("loc", [])]
    if loc and loc[0] in _PARAM_LOCATIONS:
        loc = loc[1:]
    if loc and loc[0] == "payload":
        loc = loc[1:]
    return api.create_response(
        request,
        {
            "code": "invalid",
            "message": f"输入无效：{first.get('msg', '')}",
            "field": ".".join(loc) or None,
            "errors": [
                {"field": ".".join(str(p) for p in e.get("loc", [])), "message": e.get("msg")} for e in exc.errors
            ],
        },
        status=422,
    )


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "unauthenticated", "请先登录或提供有效的令牌")


_HTTP_ERROR_CODES = {
    400: ("bad_request", "请求格式无效（请求正文应为JSON）"),
    401: ("unauthenticated", "请先登录或提供有效的令牌"),
    403: ("forbidden", "您没有执行此操作的权限"),
    404: ("not_found", "记录不存在或不在您的管辖范围内"),
    405: ("method_not_allowed", "不支持该请求方法"),
    429: ("throttled", "请求过于频繁，请稍后再试"),
}


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # Ninja raises HttpError itself, e.g. 400 for a body that is not JSON; its English detail is not shown.
    code, message = _HTTP_ERROR_CODES.get(exc.status_code, ("http_error", "请求无法处理"))
    return _error(request, exc.status_code, code, message)


@api.exception_handler(Http404)
def _http_404(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", "记录不存在或不在您的管辖范围内")


@api.exception_handler(DjangoPermissionDenied)
def _django_forbidden(request: HttpRequest, exc: DjangoPermissionDenied) -> HttpResponse:
    return _error(request, 403, "forbidden", "您没有执行此操作的权限")


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    # The log filter masks ID and phone numbers; the client gets no internals.
    logger.exception("unhandled API error on %s %s", request.method, request.path)
    return _error(request, 500, "server_error", "服务器内部错误，请联系系统管理员")


api.add_router("", core_router)
api.add_router("", registry_router)
api.add_router("", cases_router)
api.add_router("", payments_router)
api.add_router("", verification_router)
api.add_router("", complaints_router)

# Registered last, so it only catches paths no endpoint claimed: unknown API URLs answer in the error shape too.
_fallback = Router()


@_fallback.api_operation(
    ["GET", "POST", "PUT", "PATCH", "DELETE"], "/{path:rest}", auth=None, include_in_schema=False, url_name="not_found"
)
def _unknown_path(request: HttpRequest, rest: str) -> None:
    raise NotFound("接口不存在", None)


api.add_router("", _fallback)
