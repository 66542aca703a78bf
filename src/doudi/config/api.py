"""The REST API (django-ninja); OpenAPI at /api/docs. Errors share one shape: {"code", "message", "field"}."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

from doudi.core.errors import ApplicationError

api = NinjaAPI(title="doudi 兜底 API", version="1", urls_namespace="api")


@api.exception_handler(ApplicationError)
def _application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return api.create_response(request, exc.as_dict(), status=exc.status)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    loc = [str(p) for p in first.get("loc", []) if p not in ("body", "query", "path", "payload")]
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
    return api.create_response(
        request, {"code": "unauthenticated", "message": "请先登录或提供有效的令牌", "field": None}, status=401
    )
