"""The public complaint form and the lookup by tracking number, under /public/complaints/ (no login).

Abuse resistance (docs/complaints.md §7): POSTs are rate-limited per client address (core/ratelimit.py), the request
size is checked before the body is read, the form carries a honeypot field and a signed "shown at" token, and the
pages are never cached. The size check must run before Django's CSRF check, which parses the whole body: the views
are `csrf_exempt` on the outside and `csrf_protect` once the size is acceptable. The lookup is POST-only, so tracking
numbers stay out of URLs, server logs and browser history."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from doudi.complaints import attachments, forms, public_selectors, selectors, services, tracking
from doudi.complaints.choices import Channel
from doudi.complaints.models import Complaint
from doudi.core import ratelimit
from doudi.core.errors import ApplicationError
from doudi.core.models import Region
from doudi.web.views import attempt, form_status

FILE_LIMITS = (
    ratelimit.Limit("complaint-file", limit=5, window=600),
    ratelimit.Limit("complaint-file-day", limit=20, window=86400),
)
LOOKUP_LIMITS = (ratelimit.Limit("complaint-lookup", limit=20, window=600),)
# The whole request: the attachments' total plus room for the text fields and the multipart framing.
MAX_REQUEST_BYTES = attachments.MAX_TOTAL_BYTES + 256 * 1024
MAX_LOOKUP_BYTES = 16 * 1024


def _too_large(request: HttpRequest, limit: int) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > limit
    except ValueError:
        return True


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _base(county: Region | None) -> dict[str, Any]:
    return {
        "counties": public_selectors.counties(),
        "county": county,
        "limits": {
            "files": attachments.MAX_FILES,
            "file_mb": attachments.MAX_FILE_BYTES // (1024 * 1024),
            "total_mb": attachments.MAX_TOTAL_BYTES // (1024 * 1024),
        },
    }


def _county_from(params: Any) -> Region | None:
    return public_selectors.county_for(str(params.get("county") or params.get("region") or ""))


@csrf_exempt  # checked below, after the size check: the CSRF check reads (parses) the whole body
@never_cache
@require_http_methods(["GET", "POST"])
def complaint_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and _too_large(request, MAX_REQUEST_BYTES):
        # Refused on its Content-Length, before the body is read: the person fills in a fresh form.
        county = _county_from(request.GET)
        regions = public_selectors.region_choices(county) if county else []
        message = f"提交内容过大：附件合计不能超过{attachments.MAX_TOTAL_BYTES // (1024 * 1024)}MB，请重新填写"
        form = forms.PublicComplaintForm(regions=regions)
        context = {**_base(county), "form": form, "page_error": message}
        return _render(request, "complaints/public/new.html", context, status=413)
    return _complaint_new(request)


@csrf_protect
def _complaint_new(request: HttpRequest) -> HttpResponse:
    county = _county_from(request.POST if request.method == "POST" else request.GET)
    base = _base(county)
    regions = public_selectors.region_choices(county) if county else []
    if request.method == "GET":
        preselect = str(request.GET.get("region") or "")
        form = forms.PublicComplaintForm(regions=regions, initial={"region_code": preselect})
        return _render(request, "complaints/public/new.html", {**base, "form": form})

    form = forms.PublicComplaintForm(request.POST, regions=regions)
    try:
        ratelimit.check(request, *FILE_LIMITS)
        form.check_abuse()
    except ApplicationError as exc:
        form.is_valid()
        form.add_error(None, exc.message)
        return _render(request, "complaints/public/new.html", {**base, "form": form}, status=exc.status)

    def create(data: dict[str, Any]) -> Complaint:
        return services.complaint_create(
            scope=services.public_scope(),
            kind=data["kind"],
            channel=Channel.PORTAL,
            region_code=data["region_code"],
            subject=data["subject"],
            description=data["description"],
            program=data["program"],
            county_matter=bool(data["county_matter"]),
            anonymous=form.is_anonymous(),
            reporter=form.reporter(),
            files=request.FILES.getlist("attachments"),
        )

    complaint = attempt(form, create)
    if complaint is None:
        return _render(request, "complaints/public/new.html", {**base, "form": form}, status=form_status(form))
    status = selectors.complaint_lookup(number=complaint.tracking_number)
    return _render(
        request,
        "complaints/public/filed.html",
        {"number": tracking.display(complaint.tracking_number), "status": status, "anonymous": complaint.anonymous},
    )


@csrf_exempt  # checked below, after the size check
@never_cache
@require_http_methods(["GET", "POST"])
def complaint_lookup(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and _too_large(request, MAX_LOOKUP_BYTES):
        form = forms.LookupForm()
        return _render(request, "complaints/public/lookup.html", {"form": form, "page_error": "请求过大"}, status=413)
    return _complaint_lookup(request)


@csrf_protect
def _complaint_lookup(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _render(request, "complaints/public/lookup.html", {"form": forms.LookupForm()})
    form = forms.LookupForm(request.POST)
    try:
        ratelimit.check(request, *LOOKUP_LIMITS)
    except ApplicationError as exc:
        form.is_valid()
        form.add_error(None, exc.message)
        return _render(request, "complaints/public/lookup.html", {"form": form}, status=exc.status)
    result = attempt(form, lambda data: selectors.complaint_lookup(number=data["number"]))
    context = {"form": forms.LookupForm() if result else form, "result": result}
    return _render(request, "complaints/public/lookup.html", context, status=form_status(form))
