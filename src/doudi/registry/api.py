"""Registry endpoints. Each one parses, calls one service or selector with the caller's scope, and shapes the answer;
scoping and permissions live in the services and selectors, never here."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import File, Query, Router, Status
from ninja.files import UploadedFile

from doudi.core.api import ERRORS, ErrorOut, request_scope
from doudi.core.errors import ApplicationError
from doudi.core.selectors import audit_for_household
from doudi.registry import selectors, services
from doudi.registry.schemas import (
    AuditEntryOut,
    HouseholdCreateIn,
    HouseholdDetailOut,
    HouseholdOut,
    HouseholdPageOut,
    HouseholdPatchIn,
    ImportResultOut,
    ItemAddIn,
    ItemEndIn,
    ItemOut,
    MemberAddIn,
    MembershipEndIn,
    MembershipOut,
    PersonMoveIn,
    PersonOut,
    PersonPatchIn,
    RegionCountOut,
)

router = Router(tags=["registry"])
WRITE_ERRORS: dict[int | frozenset[int], Any] = {frozenset({401, 403, 404, 409, 422}): ErrorOut}
ItemGroup = Literal["income", "asset", "expense"]

EXPORT_CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@router.get("/households", response={200: HouseholdPageOut, **ERRORS}, url_name="household_list", summary="查询家庭")
def household_list(
    request: HttpRequest,
    q: str = "",
    village: str = "",
    after: int | None = None,
    page_size: int = selectors.PAGE_SIZE,
) -> Any:
    return selectors.household_search(
        scope=request_scope(request), q=q, village_code=village, after=after, page_size=page_size
    )


@router.post(
    "/households", response={201: HouseholdOut, **WRITE_ERRORS}, url_name="household_create", summary="新增家庭"
)
def household_create(request: HttpRequest, payload: HouseholdCreateIn) -> Status[Any]:
    data = payload.dict(exclude={"region_code"})
    return Status(
        201, services.household_create(scope=request_scope(request), region_code=payload.region_code, data=data)
    )


@router.get(
    "/households/{household_id}",
    response={200: HouseholdDetailOut, **ERRORS},
    url_name="household_detail",
    summary="家庭详情：成员、原成员、收入、财产、支出",
)
def household_detail(request: HttpRequest, household_id: int) -> Any:
    return selectors.household_detail(scope=request_scope(request), household_id=household_id)


@router.patch(
    "/households/{household_id}",
    response={200: HouseholdOut, **WRITE_ERRORS},
    url_name="household_update",
    summary="修改家庭（须带版本号）",
)
def household_update(request: HttpRequest, household_id: int, payload: HouseholdPatchIn) -> Any:
    data = payload.dict(exclude_unset=True, exclude={"version"})
    return services.household_update(
        scope=request_scope(request), household_id=household_id, version=payload.version, data=data
    )


@router.get(
    "/households/{household_id}/history",
    response={200: list[AuditEntryOut], **ERRORS},
    url_name="household_history",
    summary="家庭变更记录",
)
def household_history(request: HttpRequest, household_id: int) -> Any:
    scope = request_scope(request)
    # Looking the household up first turns an out-of-region id into 404 instead of an empty history.
    household = selectors.household_get(scope=scope, household_id=household_id)
    return audit_for_household(scope=scope, household_id=household.pk)


@router.post(
    "/households/{household_id}/members",
    response={201: MembershipOut, **WRITE_ERRORS},
    url_name="member_add",
    summary="新增家庭成员",
)
def member_add(request: HttpRequest, household_id: int, payload: MemberAddIn) -> Status[Any]:
    data = payload.dict(exclude={"relation", "start_date"}, exclude_none=True)
    return Status(
        201,
        services.member_add(
            scope=request_scope(request),
            household_id=household_id,
            data=data,
            relation=payload.relation,
            start_date=payload.start_date,
        ),
    )


@router.patch(
    "/persons/{person_id}",
    response={200: PersonOut, **WRITE_ERRORS},
    url_name="person_update",
    summary="修改人员信息（须带版本号）",
)
def person_update(request: HttpRequest, person_id: int, payload: PersonPatchIn) -> Any:
    data = payload.dict(exclude_unset=True, exclude={"version"})
    return services.person_update(scope=request_scope(request), person_id=person_id, version=payload.version, data=data)


@router.post(
    "/persons/{person_id}/move",
    response={201: MembershipOut, **WRITE_ERRORS},
    url_name="person_move",
    summary="人员迁往另一家庭",
)
def person_move(request: HttpRequest, person_id: int, payload: PersonMoveIn) -> Status[Any]:
    return Status(
        201,
        services.person_move(
            scope=request_scope(request),
            person_id=person_id,
            to_household_id=payload.to_household_id,
            relation=payload.relation,
            date=payload.date,
        ),
    )


@router.post(
    "/memberships/{membership_id}/end",
    response={200: MembershipOut, **WRITE_ERRORS},
    url_name="membership_end",
    summary="终止成员关系",
)
def membership_end(request: HttpRequest, membership_id: int, payload: MembershipEndIn) -> Any:
    return services.membership_end(
        scope=request_scope(request), membership_id=membership_id, end_date=payload.end_date, reason=payload.reason
    )


@router.post(
    "/households/{household_id}/items/{group}",
    response={201: ItemOut, **WRITE_ERRORS},
    url_name="item_add",
    summary="新增收入、财产或支出",
)
def item_add(request: HttpRequest, household_id: int, group: ItemGroup, payload: ItemAddIn) -> Status[Any]:
    data = payload.dict(exclude={"person_id"}, exclude_none=True)
    return Status(
        201,
        services.item_add(
            scope=request_scope(request),
            household_id=household_id,
            kind_group=group,
            data=data,
            person_id=payload.person_id,
        ),
    )


@router.post(
    "/items/{group}/{item_id}/end",
    response={204: None, **WRITE_ERRORS},
    url_name="item_end",
    summary="终止收入、财产或支出",
)
def item_end(request: HttpRequest, group: ItemGroup, item_id: int, payload: ItemEndIn) -> Status[None]:
    services.item_end(scope=request_scope(request), kind_group=group, item_id=item_id, end_date=payload.end_date)
    return Status(204, None)


@router.get(
    "/stats/households",
    response={200: list[RegionCountOut], **ERRORS},
    url_name="stats_households",
    summary="按下级区划汇总的家庭数（监管角色可用）",
)
def stats_households(request: HttpRequest) -> Any:
    return selectors.household_counts_by_region(scope=request_scope(request))


def _import_error(error: Any) -> dict[str, Any]:
    """One row error of an import report (imports.RowError), in the API's shape."""
    return {
        "row": getattr(error, "row", None),
        "column": getattr(error, "column", None),
        "cell": str(getattr(error, "cell", "") or ""),
        "value": str(getattr(error, "value", "") or ""),
        "reason": str(getattr(error, "reason", "")),
    }


@router.post(
    "/imports/{kind}",
    response={200: ImportResultOut, **WRITE_ERRORS},
    url_name="import_upload",
    summary="导入文件（CSV或Excel）",
)
def import_upload(request: HttpRequest, kind: str, file: UploadedFile = File(...)) -> Any:  # noqa: B008
    from doudi.registry import imports  # the import engine is heavy; load it only when a file arrives

    report = imports.import_upload(scope=request_scope(request), fileobj=file, filename=file.name or "", kind=kind)
    errors = [_import_error(e) for e in report.errors]
    if not report.ok:
        raise ApplicationError(
            "import_invalid",
            "导入文件有错误，未导入任何记录",
            None,
            extra={
                "summary": report.summary(),
                "error_count": getattr(report, "error_count", len(errors)),
                "errors": errors,
            },
        )
    return {"ok": True, "summary": report.summary(), "errors": errors}


@router.get(
    "/exports/households",
    response={200: None, **ERRORS},
    url_name="export_households",
    summary="导出家庭（CSV或Excel）",
    openapi_extra={
        "responses": {
            "200": {
                "description": "导出文件",
                "content": {
                    ct: {"schema": {"type": "string", "format": "binary"}} for ct in EXPORT_CONTENT_TYPES.values()
                },
            }
        }
    },
)
def export_households(
    request: HttpRequest,
    region: str | None = None,
    fmt: Literal["csv", "xlsx"] = Query("csv", alias="format"),
) -> HttpResponse:
    from doudi.registry import exports  # loaded on demand like imports

    scope = request_scope(request)
    region_code = region or scope.region_code
    content = exports.export_households_bytes(scope=scope, region_code=region_code, fmt=fmt)
    response = HttpResponse(content, content_type=EXPORT_CONTENT_TYPES[fmt])
    safe_code = "".join(ch for ch in region_code if ch.isdigit())[:12]
    response["Content-Disposition"] = f'attachment; filename="households-{safe_code}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response
