"""Payroll endpoints: generate, review, approve, differences, bank files (a zip of one file per bank), the bank's
return file, re-issue, bank accounts and a household's payment history.

Thin like the others: the payroll selectors refuse village workers and supervisors (403) and limit a township to
its own lines; the services check roles (county approver approves), region (404) and versions (409).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.utils.http import content_disposition_header
from ninja import File, Query, Router
from ninja.files import UploadedFile

from doudi.cases.choices import Program
from doudi.core.api import ERRORS, ErrorOut, request_scope
from doudi.core.errors import ApplicationError, PermissionDenied
from doudi.core.scope import Scope
from doudi.payments import selectors, services
from doudi.payments.choices import DifferenceKind, PayrollStatus
from doudi.payments.models import BankAccount, Payroll, PayrollDifference, PayrollLine
from doudi.payments.schemas import (
    BankAccountIn,
    BankAccountOut,
    DifferenceOut,
    DifferencesResultOut,
    HouseholdPaymentsOut,
    PayrollDetailOut,
    PayrollGenerateIn,
    PayrollLinePageOut,
    PayrollOut,
    ReissueIn,
    ReissueResultOut,
    ReturnResultOut,
    VersionIn,
)

router = Router(tags=["payments"])
WRITE_ERRORS: dict[int | frozenset[int], Any] = {frozenset({401, 403, 404, 409, 422}): ErrorOut}
LINE_PAGE_MAX = 200


# --- shaping ------------------------------------------------------------------------------------------------------


def _payroll(payroll: Payroll) -> dict[str, Any]:
    return {
        "id": payroll.pk,
        "region_code": payroll.region_id,
        "region_name": payroll.region.name,
        "program": payroll.program,
        "program_label": str(Program(payroll.program).label),
        "month": f"{payroll.month:%Y-%m}",
        "status": payroll.status,
        "status_label": str(PayrollStatus(payroll.status).label),
        "line_count": payroll.line_count,
        "total_amount": payroll.total_amount,
        "exports": payroll.exports,
        "version": payroll.version,
        "created_at": payroll.created_at,
        "approved_at": payroll.approved_at,
    }


def _current(scope: Scope, payroll_id: int) -> dict[str, Any]:
    return _payroll(selectors.payroll_get(scope=scope, payroll_id=payroll_id))


def _line(line: PayrollLine) -> dict[str, Any]:
    head = line.household.head
    return {
        "id": line.pk,
        "recipient_id": line.recipient_id,
        "household_id": line.household_id,
        "household_number": line.household.number,
        "person_id": line.person_id,
        "name": line.person.name if line.person else (head.name if head else None),
        "amount": line.amount,
        "bank_code": line.bank_code,
        "bank_name": line.bank_name,
        "account_masked": line.masked_account,
        "holder_name": line.holder_name,
        "status": line.status,
        "failure_reason": line.failure_reason,
        "attempt": line.attempt,
        "batch": line.batch,
        "paid_at": line.paid_at,
    }


def _difference(diff: PayrollDifference) -> dict[str, Any]:
    return {
        "id": diff.pk,
        "recipient_id": diff.recipient_id,
        "household_id": diff.recipient.household_id,
        "kind": diff.kind,
        "kind_label": str(DifferenceKind(diff.kind).label),
        "old_amount": diff.old_amount,
        "new_amount": diff.new_amount,
        "status": diff.status,
    }


def _account(account: BankAccount | None) -> dict[str, Any] | None:
    if account is None:
        return None
    return {
        "id": account.pk,
        "household_id": account.household_id,
        "person_id": account.person_id,
        "bank_code": account.bank_code,
        "bank_name": account.bank_name,
        "account_masked": account.masked,
        "holder_name": account.holder_name,
        "active": account.active,
        "created_at": account.created_at,
    }


def _parse_month(text: str) -> dt.date:
    year, _, month = text.partition("-")
    if not (year.isdigit() and month.isdigit() and 1 <= int(month) <= 12):
        raise ApplicationError("invalid_month", "月份格式应为YYYY-MM，例如2026-01", "month")
    return dt.date(int(year), int(month), 1)


# --- payrolls -----------------------------------------------------------------------------------------------------


@router.get("/payrolls", response={200: list[PayrollOut], **ERRORS}, url_name="payroll_list", summary="发放名册")
def payroll_list(
    request: HttpRequest,
    program: str = "",
    month: str = Query("", pattern=r"^(\d{4}-\d{2})?$"),
    status: str = "",
    limit: int = Query(100, ge=1, le=500),
) -> Any:
    qs = selectors.payrolls_for_review(scope=request_scope(request))
    if program:
        qs = qs.filter(program=program)
    if status:
        qs = qs.filter(status=status)
    if month:
        qs = qs.filter(month=_parse_month(month))
    return [_payroll(p) for p in qs[:limit]]


@router.post(
    "/payrolls",
    response={200: PayrollOut, **WRITE_ERRORS},
    url_name="payroll_generate",
    summary="生成或更新发放名册（同一月份重复生成不会重复发放）",
)
def payroll_generate(request: HttpRequest, payload: PayrollGenerateIn) -> Any:
    payroll = services.payroll_generate(
        scope=request_scope(request), county_code=payload.county_code, program=payload.program, month=payload.month
    )
    return _payroll(payroll)


@router.get(
    "/payrolls/{int:payroll_id}",
    response={200: PayrollDetailOut, **ERRORS},
    url_name="payroll_detail",
    summary="发放名册：合计、按状态汇总、待审批差异",
)
def payroll_detail(request: HttpRequest, payroll_id: int) -> Any:
    review = selectors.payroll_review(scope=request_scope(request), payroll_id=payroll_id)
    payroll = review.payroll
    approver = payroll.approved_by
    return {
        **_payroll(payroll),
        "partial": review.partial,
        "totals": [
            {"status": t.status, "failure_reason": t.failure_reason, "count": t.count, "amount": t.amount}
            for t in review.totals
        ],
        "count": review.count,
        "amount": review.amount,
        "pending_differences": review.pending_differences,
        "failed": review.failed,
        "unsent": review.unsent,
        "approved_by_name": (approver.full_name or approver.username) if approver else None,
    }


@router.get(
    "/payrolls/{int:payroll_id}/lines",
    response={200: PayrollLinePageOut, **ERRORS},
    url_name="payroll_lines",
    summary="发放明细（按编号分页，账号遮蔽）",
)
def payroll_lines(
    request: HttpRequest,
    payroll_id: int,
    status: str = "",
    after: int | None = None,
    page_size: int = Query(selectors.PAYROLL_PAGE_SIZE, ge=1, le=LINE_PAGE_MAX),
) -> Any:
    page = selectors.payroll_line_page(
        scope=request_scope(request), payroll_id=payroll_id, status=status, after=after, limit=page_size
    )
    return {"items": [_line(line) for line in page.items], "next_after": page.next_after, "page_size": page_size}


@router.get(
    "/payrolls/{int:payroll_id}/differences",
    response={200: list[DifferenceOut], **ERRORS},
    url_name="payroll_differences",
    summary="审批后重新生成发现的待审批差异",
)
def payroll_differences(request: HttpRequest, payroll_id: int) -> Any:
    diffs = selectors.payroll_difference_list(scope=request_scope(request), payroll_id=payroll_id)
    return [_difference(d) for d in diffs]


@router.post(
    "/payrolls/{int:payroll_id}/approve",
    response={200: PayrollOut, **WRITE_ERRORS},
    url_name="payroll_approve",
    summary="审批发放名册（县级审批人）",
)
def payroll_approve(request: HttpRequest, payroll_id: int, payload: VersionIn) -> Any:
    payroll = services.payroll_approve(scope=request_scope(request), payroll_id=payroll_id, version=payload.version)
    return _payroll(payroll)


@router.post(
    "/payrolls/{int:payroll_id}/differences/approve",
    response={200: DifferencesResultOut, **WRITE_ERRORS},
    url_name="payroll_differences_approve",
    summary="审批差异（新增对象补发、减少或变化的未发明细调整）",
)
def payroll_differences_approve(request: HttpRequest, payroll_id: int, payload: VersionIn) -> Any:
    scope = request_scope(request)
    result = services.payroll_differences_approve(scope=scope, payroll_id=payroll_id, version=payload.version)
    return {
        "applied": result["applied"],
        "not_applied": result["not_applied"],
        "lines_added": result["lines_added"],
        "payroll": _current(scope, payroll_id),
    }


ZIP_EXTRA: dict[str, Any] = {
    "responses": {
        "200": {
            "description": "ZIP压缩包：每家银行一个文件（含合计行）",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


def _zip_response(kept: services.BankBatch, missing: int | None = None) -> HttpResponse:
    response = HttpResponse(kept.zip_bytes(), content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(True, kept.zip_name) or "attachment"
    response["Cache-Control"] = "no-store"  # account numbers: never in a shared cache
    response["X-Doudi-Batch"] = str(kept.batch)
    if missing is not None:
        response["X-Doudi-Missing-Account"] = str(missing)
    return response


@router.post(
    "/payrolls/{int:payroll_id}/bank-files",
    response={200: None, **WRITE_ERRORS},
    url_name="payroll_bank_files_export",
    summary="生成下一批银行代发文件（每家银行一个文件，打包为ZIP）",
    openapi_extra=ZIP_EXTRA,
)
def payroll_bank_files_export(
    request: HttpRequest, payroll_id: int, fmt: Literal["csv", "xlsx"] = "csv"
) -> HttpResponse:
    """Writes the next batch (CSV and Excel, kept on the server like the web page does) and answers the files of
    the requested format. A POST, because it marks the lines as sent to the bank."""
    scope = request_scope(request)
    if scope.role not in services.PAYROLL_ROLES:  # before the payroll lookup: a township gets 403, not 404
        raise PermissionDenied("您的角色不能办理资金发放")
    payroll = selectors.payroll_get(scope=scope, payroll_id=payroll_id)
    result = services.payroll_bank_files_export(
        scope=scope, payroll_id=payroll_id, out_dir=services.bank_archive_dir(payroll), formats=("csv", "xlsx")
    )
    paths = [path for bank in result.files for path in bank.paths if path.suffix == f".{fmt}"]
    return _zip_response(services.BankBatch(payroll, result.batch, fmt, paths), result.missing_account)


@router.get(
    "/payrolls/{int:payroll_id}/bank-files",
    response={200: None, **ERRORS},
    url_name="payroll_bank_files",
    summary="下载已生成的一批银行代发文件（ZIP，默认最新一批；只读，可重复下载）",
    openapi_extra=ZIP_EXTRA,
)
def payroll_bank_files(
    request: HttpRequest,
    payroll_id: int,
    fmt: Literal["csv", "xlsx"] = "csv",
    batch: int | None = Query(None, ge=1),
) -> HttpResponse:
    scope = request_scope(request)
    return _zip_response(services.payroll_bank_files_archived(scope=scope, payroll_id=payroll_id, batch=batch, fmt=fmt))


@router.post(
    "/payrolls/{int:payroll_id}/returns",
    response={200: ReturnResultOut, **WRITE_ERRORS},
    url_name="payroll_return_import",
    summary="导入银行回盘文件（全部核对无误才入账）",
)
def payroll_return_import(request: HttpRequest, payroll_id: int, file: UploadedFile = File(...)) -> Any:  # noqa: B008
    scope = request_scope(request)
    summary = services.payroll_return_import(
        scope=scope, payroll_id=payroll_id, fileobj=file, filename=file.name or "return.csv"
    )
    return {
        "paid": summary.paid,
        "failed": summary.failed,
        "total_paid": summary.total_paid,
        "reconciled": summary.reconciled,
        "payroll": _current(scope, payroll_id),
    }


@router.post(
    "/payrolls/{int:payroll_id}/reissue",
    response={200: ReissueResultOut, **WRITE_ERRORS},
    url_name="payroll_reissue",
    summary="重新发放账户已更正的失败明细（下一批银行文件）",
)
def payroll_reissue(request: HttpRequest, payroll_id: int, payload: ReissueIn) -> Any:
    scope = request_scope(request)
    result = services.payroll_reissue(scope=scope, payroll_id=payroll_id, line_ids=payload.line_ids)
    return {
        "reissued": result.reissued,
        "not_corrected": list(result.not_corrected),
        "payroll": _current(scope, payroll_id),
    }


# --- households: account and payment history ----------------------------------------------------------------------


@router.put(
    "/households/{int:household_id}/bank-account",
    response={200: BankAccountOut, **WRITE_ERRORS},
    url_name="bank_account_set",
    summary="登记或更换发放账户（原账户停用）",
)
def bank_account_set(request: HttpRequest, household_id: int, payload: BankAccountIn) -> Any:
    scope = request_scope(request)
    if payload.person_id is not None:
        members = {row.person_id for row in selectors.household_accounts(scope=scope, household_id=household_id)}
        if payload.person_id not in members:
            raise ApplicationError("not_member", "该人员不是本户现有成员", "person_id")
    else:
        selectors.bank_account_active(scope=scope, household_id=household_id)  # 404 outside the region
    account = services.bank_account_set(
        scope=scope,
        household_id=None if payload.person_id is not None else household_id,
        person_id=payload.person_id,
        bank_code=payload.bank_code,
        bank_name=payload.bank_name,
        account_number=payload.account_number,
        holder_name=payload.holder_name,
    )
    return _account(account)


@router.get(
    "/households/{int:household_id}/payments",
    response={200: HouseholdPaymentsOut, **ERRORS},
    url_name="household_payments",
    summary="家庭的发放记录（账号遮蔽）",
)
def household_payments(request: HttpRequest, household_id: int) -> Any:
    scope = request_scope(request)
    entries = selectors.payment_history(scope=scope, household_id=household_id)
    return {
        "account": _account(selectors.bank_account_active(scope=scope, household_id=household_id)),
        "payments": [
            {
                "month": f"{e.month:%Y-%m}",
                "program": e.program,
                "person_id": e.person_id,
                "amount": e.amount,
                "status": e.status,
                "failure_reason": e.failure_reason,
                "attempt": e.attempt,
                "bank_name": e.bank_name,
                "account_masked": e.account_masked,
                "paid_at": e.paid_at,
                "payroll_id": e.payroll_id,
            }
            for e in entries
        ],
    }
