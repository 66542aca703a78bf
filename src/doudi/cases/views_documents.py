"""Printable documents: PDF notices, the township publicity list, certificates, and the fillable application form
page. Thin: the scoped selectors and `cases.documents` do the work; a record outside the caller's region is 404,
a supervisor 403 (aggregates only)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from doudi.cases import documents
from doudi.cases.choices import Program
from doudi.core.scope import Scope
from doudi.registry import selectors as registry_selectors
from doudi.web.views import download, page, scoped

PDF = "application/pdf"


def pdf_response(content: bytes, filename: str) -> HttpResponse:
    """A download (attachment, `Cache-Control: no-store`) served as a PDF; file names carry no personal data."""
    response = download(content, filename, "pdf")
    response["Content-Type"] = PDF
    return response


@require_GET
@scoped
def notice_pdf(request: HttpRequest, scope: Scope, application_id: int) -> HttpResponse:
    content = documents.notice_pdf(scope=scope, application_id=application_id)
    return pdf_response(content, f"notice-{application_id}.pdf")


@require_GET
@scoped
def certificate_pdf(request: HttpRequest, scope: Scope, recipient_id: int) -> HttpResponse:
    content = documents.certificate_pdf(scope=scope, recipient_id=recipient_id)
    return pdf_response(content, f"certificate-{recipient_id}.pdf")


@require_GET
@scoped
def publicity_pdf(request: HttpRequest, scope: Scope, publicity_id: int) -> HttpResponse:
    content = documents.publicity_pdf(scope=scope, publicity_id=publicity_id)
    return pdf_response(content, f"publicity-{publicity_id}.pdf")


@require_GET
@scoped
def application_form(request: HttpRequest, scope: Scope) -> HttpResponse:
    """申请审批表: prefilled from the household when `?household=<id>` is given, blank otherwise."""
    scope.require_personal()
    raw = request.GET.get("household", "").strip()
    detail = None
    if raw:
        household_id = int(raw) if raw.isdigit() else 0
        detail = registry_selectors.household_detail(scope=scope, household_id=household_id)
    today = dt.date.today()
    context = {
        "detail": detail,
        "programs": [
            (Program.DIBAO, Program.DIBAO.label),
            (Program.TEKUN, Program.TEKUN.label),
            (Program.TEMPORARY_ASSISTANCE, Program.TEMPORARY_ASSISTANCE.label),
        ],
        "members": documents.form_members(detail, today),
        "incomes": documents.form_incomes(detail, today),
        "blank_member_rows": range(max(0, 6 - len(detail.members)) if detail else 6),
        "blank_income_rows": range(2 if detail else 4),
        "today": today,
    }
    return page(request, scope, "cases/documents/application_form.html", context)
