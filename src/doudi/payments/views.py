"""Payroll pages under /payments/: review and approve payrolls, bank files out, return files in, re-issue,
bank accounts and a household's payment history. Thin: selectors and services with the caller's scope."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from doudi.cases.choices import Program
from doudi.core.choices import Role
from doudi.core.errors import ApplicationError, PermissionDenied
from doudi.core.scope import Scope
from doudi.payments import forms, selectors, services
from doudi.payments.choices import FailureReason, LineStatus
from doudi.registry import selectors as registry_selectors
from doudi.web.views import attempt, download, form_status, page, scoped

# ---- payroll list and generation --------------------------------------------------------------------------


def _may_run(scope: Scope) -> bool:
    return scope.role in services.PAYROLL_ROLES


def _list_page(
    request: HttpRequest, scope: Scope, form: forms.PayrollGenerateForm | None = None, *, status: int = 200
) -> HttpResponse:
    payrolls = selectors.payrolls_for_review(scope=scope)
    counties = selectors.counties_in_scope(scope=scope)
    if form is None and _may_run(scope) and counties:
        form = forms.PayrollGenerateForm(counties=counties)
    context = {"payrolls": payrolls[:200], "form": form}
    return page(request, scope, "payments/payroll_list.html", context, status=status)


@scoped
@require_GET
def payroll_list(request: HttpRequest, scope: Scope) -> HttpResponse:
    return _list_page(request, scope)


@scoped
@require_POST
def payroll_generate(request: HttpRequest, scope: Scope) -> HttpResponse:
    if not _may_run(scope):
        raise PermissionDenied(_("您的角色不能办理资金发放"))
    form = forms.PayrollGenerateForm(request.POST, counties=selectors.counties_in_scope(scope=scope))
    payroll = attempt(form, lambda data: services.payroll_generate(scope=scope, **data))
    if payroll is None:
        return _list_page(request, scope, form, status=form_status(form))
    messages.success(
        request,
        _("发放名册已生成：%(lines)s 笔，合计 %(total)s 元")
        % {"lines": payroll.line_count, "total": payroll.total_amount},
    )
    return redirect("payments:payroll_detail", payroll_id=payroll.pk)


# ---- payroll review ---------------------------------------------------------------------------------------


def _detail_page(
    request: HttpRequest,
    scope: Scope,
    payroll_id: int,
    *,
    error: str = "",
    return_form: forms.ReturnFileForm | None = None,
    status: int = 200,
) -> HttpResponse:
    review = selectors.payroll_review(scope=scope, payroll_id=payroll_id)
    filters = forms.LineFilterForm(request.GET)
    status_filter, after = "", None
    if filters.is_valid():
        status_filter, after = filters.cleaned_data["status"] or "", filters.cleaned_data["after"]
    lines = selectors.payroll_line_page(scope=scope, payroll_id=payroll_id, status=status_filter, after=after)
    payroll = review.payroll
    may_act = not review.partial
    context: dict[str, Any] = {
        "review": review,
        "payroll": payroll,
        "lines": lines,
        "filters": filters,
        "differences": selectors.payroll_difference_list(scope=scope, payroll_id=payroll_id),
        "may_approve": may_act and scope.role == Role.COUNTY_APPROVER,
        "may_run": may_act and _may_run(scope),
        "return_form": return_form or forms.ReturnFileForm(),
        "error": error,
        "program_label": Program(payroll.program).label,
        "batches": range(1, payroll.exports + 1),
        "totals": [
            {
                "status": t.status,
                "label": LineStatus(t.status).label,
                "reason": FailureReason(t.failure_reason).label if t.failure_reason else "",
                "count": t.count,
                "amount": t.amount,
            }
            for t in review.totals
        ],
    }
    return page(request, scope, "payments/payroll_detail.html", context, status=status)


@scoped
@require_GET
def payroll_detail(request: HttpRequest, scope: Scope, payroll_id: int) -> HttpResponse:
    return _detail_page(request, scope, payroll_id)


def _versioned_post(request: HttpRequest, scope: Scope, payroll_id: int, call: Any, success: Any) -> HttpResponse:
    form = forms.VersionForm(request.POST)
    done = attempt(form, lambda data: call(version=data["version"] or 0))
    if done is None:
        error = " ".join(str(e) for e in form.non_field_errors()) or _("操作未完成")
        return _detail_page(request, scope, payroll_id, error=error, status=form_status(form))
    messages.success(request, success(done))
    return redirect("payments:payroll_detail", payroll_id=payroll_id)


@scoped
@require_POST
def payroll_approve(request: HttpRequest, scope: Scope, payroll_id: int) -> HttpResponse:
    return _versioned_post(
        request,
        scope,
        payroll_id,
        lambda version: services.payroll_approve(scope=scope, payroll_id=payroll_id, version=version),
        lambda _payroll: _("发放名册已审批，可以生成银行文件"),
    )


@scoped
@require_POST
def differences_approve(request: HttpRequest, scope: Scope, payroll_id: int) -> HttpResponse:
    return _versioned_post(
        request,
        scope,
        payroll_id,
        lambda version: services.payroll_differences_approve(scope=scope, payroll_id=payroll_id, version=version),
        lambda result: (
            _("差异已审批：已调整 %(applied)s 项，原发放已完成未调整 %(not_applied)s 项，新增明细 %(added)s 笔")
            % {"applied": result["applied"], "not_applied": result["not_applied"], "added": result["lines_added"]}
        ),
    )


# ---- bank files, return files, re-issue -------------------------------------------------------------------


@scoped
@require_POST
def bank_files_export(request: HttpRequest, scope: Scope, payroll_id: int) -> HttpResponse:
    """Write the next batch of bank files (one per bank, CSV and Excel, each with a totals row) and keep them:
    a POST, because it marks the lines as sent; the files are then downloaded (again, if need be) by GET."""
    if not _may_run(scope):
        raise PermissionDenied(_("您的角色不能办理资金发放"))
    payroll = selectors.payroll_get(scope=scope, payroll_id=payroll_id)
    try:
        result = services.payroll_bank_files_export(
            scope=scope,
            payroll_id=payroll_id,
            out_dir=services.bank_archive_dir(payroll),
            formats=("csv", "xlsx"),
        )
    except ApplicationError as exc:
        if exc.status in (403, 404):
            raise
        return _detail_page(request, scope, payroll_id, error=exc.message, status=exc.status)
    messages.success(
        request,
        _("已生成第 %(batch)s 批银行文件：%(banks)s 家银行，%(count)s 笔，合计 %(total)s 元")
        % {
            "batch": result.batch,
            "banks": len(result.files),
            "count": sum(f.count for f in result.files),
            "total": f"{sum((f.total for f in result.files), Decimal('0.00')):.2f}",
        },
    )
    if result.missing_account:
        messages.warning(request, _("%(n)s 笔明细尚未登记发放账户，未写入本批银行文件") % {"n": result.missing_account})
    return redirect(reverse("payments:payroll_detail", args=[payroll_id]) + "#bank-files")


@scoped
@require_GET
def bank_files(request: HttpRequest, scope: Scope, payroll_id: int, fmt: str) -> HttpResponse:
    """A kept batch of bank files as one zip (`?batch=N`, default the latest). Read-only; may be fetched again."""
    raw = request.GET.get("batch", "")
    if raw and not raw.isdigit():
        raise ApplicationError("invalid", _("批次应为正整数"), "batch")
    kept = services.payroll_bank_files_archived(
        scope=scope, payroll_id=payroll_id, batch=int(raw) if raw else None, fmt=fmt
    )
    response = download(kept.zip_bytes(), kept.zip_name, "zip")
    response["Content-Type"] = "application/zip"
    return response


@scoped
@require_http_methods(["GET", "POST"])
def return_import(request: HttpRequest, scope: Scope, payroll_id: int) -> HttpResponse:
    if not _may_run(scope):
        raise PermissionDenied(_("您的角色不能办理资金发放"))
    payroll = selectors.payroll_get(scope=scope, payroll_id=payroll_id)
    posted = request.method == "POST"
    form = forms.ReturnFileForm(request.POST if posted else None, request.FILES if posted else None)
    if request.method == "POST":

        def run(data: dict[str, Any]) -> services.ReturnResultSummary:
            upload = data["file"]
            return services.payroll_return_import(
                scope=scope, payroll_id=payroll_id, fileobj=upload, filename=upload.name or "return"
            )

        summary = attempt(form, run)
        if summary is not None:
            text = _("回盘文件已导入：成功 %(paid)s 笔，合计 %(total)s 元；失败 %(failed)s 笔") % {
                "paid": summary.paid,
                "total": summary.total_paid,
                "failed": summary.failed,
            }
            if summary.reconciled:
                text += _("；全部明细已对账")
            messages.success(request, text)
            return redirect("payments:payroll_detail", payroll_id=payroll_id)
    context = {"payroll": payroll, "program_label": Program(payroll.program).label, "form": form}
    return page(request, scope, "payments/return_import.html", context, status=form_status(form))


@scoped
@require_POST
def reissue(request: HttpRequest, scope: Scope, payroll_id: int) -> HttpResponse:
    form = forms.ReissueForm(request.POST)
    result = attempt(
        form, lambda data: services.payroll_reissue(scope=scope, payroll_id=payroll_id, line_ids=data["line_ids"])
    )
    if result is None:
        error = " ".join(str(e) for e in form.non_field_errors()) or _("操作未完成")
        return _detail_page(request, scope, payroll_id, error=error, status=form_status(form))
    text = _("已重新发放 %(n)s 笔，将进入下一批银行文件") % {"n": result.reissued}
    if result.not_corrected:
        text += _("；%(n)s 笔账户尚未更正，未重新发放") % {"n": len(result.not_corrected)}
    messages.success(request, text)
    return redirect("payments:payroll_detail", payroll_id=payroll_id)


# ---- households: bank account and payment history ---------------------------------------------------------


@scoped
@require_http_methods(["GET", "POST"])
def bank_account(request: HttpRequest, scope: Scope, household_id: int) -> HttpResponse:
    accounts = selectors.household_accounts(scope=scope, household_id=household_id)
    household = registry_selectors.household_get(scope=scope, household_id=household_id)
    members = [(row.person_id, row.label) for row in accounts if row.person_id is not None]
    form = forms.BankAccountForm(request.POST if request.method == "POST" else None, members=members)

    def save(data: dict[str, Any]) -> Any:
        person_id = form.person_id()
        return services.bank_account_set(
            scope=scope,
            household_id=None if person_id else household_id,
            person_id=person_id,
            bank_code=data["bank_code"],
            bank_name=data["bank_name"],
            account_number=data["account_number"],
            holder_name=data["holder_name"],
        )

    account = attempt(form, save)
    if account is not None:
        messages.success(request, _("发放账户已登记：%(account)s") % {"account": account})
        return redirect("payments:bank_account", household_id=household_id)
    context = {"household": household, "accounts": accounts, "form": form}
    return page(request, scope, "payments/bank_account.html", context, status=form_status(form))


@scoped
@require_GET
def household_payments(request: HttpRequest, scope: Scope, household_id: int) -> HttpResponse:
    history = selectors.payment_history(scope=scope, household_id=household_id)
    detail = registry_selectors.household_detail(scope=scope, household_id=household_id)
    names = {m.person_id: m.person.name for m in [*detail.members, *detail.former_members]}
    context = {
        "household": detail.household,
        "history": [
            {
                "entry": e,
                "program": Program(e.program).label,
                "name": names.get(e.person_id, "") if e.person_id else "",
                "status": LineStatus(e.status).label,
                "reason": FailureReason(e.failure_reason).label if e.failure_reason else "",
            }
            for e in history
        ],
        "back": reverse("web:household_detail", args=[household_id]),
    }
    return page(request, scope, "payments/household_payments.html", context)
