"""Public portal pages under /public/ (no login) and the staff page for the counties' contact details.

Public pages are rendered without the request (no context processors: no session is read, no CSRF cookie is set, no
staff data can reach the template) from the disclosure contract only, and served from Django's cache: the key holds
the page's normalised arguments, the language, today's date and the caseload fingerprint (docs/portal.md, "Cache"),
so a change in the caseload shows on the next view while unchanged pages cost one indexed query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from doudi.cases import disclosure
from doudi.cases.choices import Program
from doudi.core.choices import RegionLevel
from doudi.core.errors import NotFound, PermissionDenied
from doudi.core.scope import Scope
from doudi.portal import guide, selectors, services
from doudi.portal.forms import ContactForm
from doudi.rules.parameters import load_parameters
from doudi.web.views import attempt, form_status, page, scoped

CACHE_ALIAS = "portal" if "portal" in settings.CACHES else "default"
# Bump when the templates or the contract change shape, so a shared cache never serves the old layout.
CACHE_VERSION = "portal-1"
# Entries also expire after this time: a change made outside the audited services (a manual SQL fix) shows
# within it.
CACHE_SECONDS = 600
MONTHS_BACK = 36  # the monthly lists accept this many past months (bounded: no cache-filling with odd months)
COMPLAINTS_PATH = "/public/complaints/"

PUBLIC_HEADERS = {
    # Browsers and proxies may keep a copy but must revalidate it (ETag → 304), so a change shows on the next view.
    "Cache-Control": "public, no-cache",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}


def _fingerprint(region_codes: list[str] | None) -> tuple[Any, ...]:
    return (
        CACHE_VERSION,
        translation.get_language(),
        timezone.localdate().isoformat(),
        load_parameters().digest[:16],
        disclosure.caseload_fingerprint(region_codes),
    )


def _with_headers(response: HttpResponse, etag: str | None) -> HttpResponse:
    for name, value in PUBLIC_HEADERS.items():
        response[name] = value
    response["Vary"] = "Cookie"  # the language choice is a cookie
    if etag:
        response["ETag"] = etag
    return response


def _not_found(message: str = "") -> HttpResponse:
    html = render_to_string("portal/404.html", {"message": message, "complaints_url": COMPLAINTS_PATH})
    response = _with_headers(HttpResponse(html, status=404), None)
    response["Cache-Control"] = "no-store"
    return response


Build = Callable[[], tuple[str, dict[str, Any]]]


def serve(
    request: HttpRequest, parts: tuple[Any, ...], build: Build, region_codes: list[str] | None = None
) -> HttpResponse:
    """The cached public response for the normalised page arguments `parts`. `region_codes` (a village and its
    ancestors) narrows the fingerprint to changes audited there; otherwise any audited change renews the page."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    digest = hashlib.sha256(repr((parts, _fingerprint(region_codes))).encode()).hexdigest()
    etag = f'"{digest[:32]}"'
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return _with_headers(HttpResponse(status=304), etag)
    cache = caches[CACHE_ALIAS]
    key = f"portal:{digest}"
    html = cache.get(key)
    if html is None:
        try:
            template, context = build()
        except NotFound as exc:
            return _not_found(exc.message)
        county = context.get("county")
        # The complaints form opens on the page's county (complaints_public:new takes ?county=).
        complaints_url = f"{COMPLAINTS_PATH}?county={county.code}" if county is not None else COMPLAINTS_PATH
        html = render_to_string(template, {**context, "complaints_url": complaints_url})
        cache.set(key, html, CACHE_SECONDS)
    return _with_headers(HttpResponse(html), etag)


# --- public pages ------------------------------------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    def build() -> tuple[str, dict[str, Any]]:
        province, groups = selectors.home_regions()
        return "portal/home.html", {"province": province, "groups": groups}

    return serve(request, ("home",), build)


def _region(code: str) -> selectors.RegionPage:
    return selectors.region_page(code=code)


def region(request: HttpRequest, code: str) -> HttpResponse:
    def build() -> tuple[str, dict[str, Any]]:
        page_ = _region(code)
        context: dict[str, Any] = {"page": page_, "region": page_.region, "county": page_.ancestor("county")}
        if page_.region.level == RegionLevel.VILLAGE:
            today = timezone.localdate()
            masking = disclosure.name_masking_for(code, today)
            rows = disclosure.village_recipients(village_code=code, on=today, masking=masking)
            context.update(
                today=today,
                dibao=[r for r in rows if r.program == str(Program.DIBAO.label)],
                tekun=[r for r in rows if r.program == str(Program.TEKUN.label)],
                masking=masking,
            )
            return "portal/village.html", context
        return "portal/region.html", context

    known = selectors.region_path_level(code=code)
    chain = [c for c in known[0].split("/") if c] if known and known[1] == RegionLevel.VILLAGE else None
    return serve(request, ("region", code), build, chain)


def _month(raw: str | None, today: dt.date) -> dt.date | None:
    this_month = today.replace(day=1)
    if not raw:
        return this_month
    try:
        year, month = (int(x) for x in raw.split("-"))
        chosen = dt.date(year, month, 1)
    except ValueError:
        return None
    earliest = this_month
    for _i in range(MONTHS_BACK):
        earliest = (earliest - dt.timedelta(days=1)).replace(day=1)
    return chosen if earliest <= chosen <= this_month else None


def _recent_months(today: dt.date, count: int = 12) -> list[dt.date]:
    months = [today.replace(day=1)]
    while len(months) < count:
        months.append((months[-1] - dt.timedelta(days=1)).replace(day=1))
    return months


def _county_or_township(code: str) -> selectors.RegionPage:
    page_ = _region(code)
    if page_.region.level not in (RegionLevel.COUNTY, RegionLevel.TOWNSHIP):
        raise NotFound("只有县（区）和乡镇（街道）有此公开栏目", "code")
    return page_


def changes(request: HttpRequest, code: str) -> HttpResponse:
    today = timezone.localdate()
    month = _month(request.GET.get("month"), today)
    if month is None:
        return _not_found(_("月份格式应为 年-月（例如 2026-01），且在最近三年之内"))

    def build() -> tuple[str, dict[str, Any]]:
        page_ = _county_or_township(code)
        lists = disclosure.monthly_changes(region_path=page_.region.path, region_code=code, month=month, on=today)
        return "portal/changes.html", {
            "page": page_,
            "region": page_.region,
            "county": page_.ancestor("county"),
            "month": month,
            "months": _recent_months(today),
            "new": lists["new"],
            "terminated": lists["terminated"],
            "today": today,
        }

    return serve(request, ("changes", code, month.isoformat()), build)


def publicity(request: HttpRequest, code: str) -> HttpResponse:
    def build() -> tuple[str, dict[str, Any]]:
        today = timezone.localdate()
        page_ = _county_or_township(code)
        rows = disclosure.running_publicities(region_path=page_.region.path, region_code=code, on=today)
        return "portal/publicity.html", {
            "page": page_,
            "region": page_.region,
            "county": page_.ancestor("county"),
            "rows": rows,
            "today": today,
        }

    return serve(request, ("publicity", code), build)


def _county(code: str) -> selectors.RegionPage:
    page_ = _region(code)
    if page_.region.level != RegionLevel.COUNTY:
        raise NotFound("办事指南按县（区）公开", "code")
    return page_


def guide_index(request: HttpRequest, code: str) -> HttpResponse:
    def build() -> tuple[str, dict[str, Any]]:
        page_ = _county(code)
        return "portal/guide_index.html", {
            "page": page_,
            "region": page_.region,
            "county": page_.region,
            "programs": [(p.value, guide.TEXTS[p].title) for p in guide.GUIDE_PROGRAMS],
            "contact": selectors.county_contact(county_code=code),
        }

    return serve(request, ("guide", code), build)


def guide_program(request: HttpRequest, code: str, program: str) -> HttpResponse:
    if program not in {p.value for p in guide.GUIDE_PROGRAMS}:
        return _not_found()

    def build() -> tuple[str, dict[str, Any]]:
        today = timezone.localdate()
        page_ = _county(code)
        return "portal/guide_program.html", {
            "page": page_,
            "region": page_.region,
            "county": page_.region,
            "program": program,
            "text": guide.TEXTS[program],
            "standards": guide.standards(program=program, county_code=code, on=today),
            "procedure": disclosure.procedure_for(program=program, county_code=code, on=today),
            "contact": selectors.county_contact(county_code=code),
            "today": today,
        }

    return serve(request, ("guide", code, program), build)


# --- staff: the counties' public contact details ------------------------------------------------------------------


@scoped
@require_http_methods(["GET", "POST"])
def contact_manage(request: HttpRequest, scope: Scope) -> HttpResponse:
    if scope.role not in services.CONTACT_ROLES:
        raise PermissionDenied(_("只有县级审批人或系统管理员可以维护公开联系方式"))
    rows = selectors.contact_rows(scope=scope)
    form: ContactForm | None = None
    if request.method == "POST":
        form = ContactForm(request.POST)
        saved = attempt(
            form,
            lambda v: services.county_contact_set(
                scope=scope, county_code=v["county_code"], version=v.get("version"), data=v
            ),
        )
        if saved is not None:
            return redirect(f"{request.path}#c{saved.region_id}")
    posted = form.data.get("county_code") if form is not None else None
    blocks = []
    for row in rows:
        mine = form is not None and posted == row.county.code
        fields = []
        for name in ("office", "address", "phone", "hotline", "hours"):
            errors: list[str] = []
            if mine:
                assert form is not None
                value = form.data.get(name, "")
                errors = [str(e) for e in form.errors.get(name, [])]
            else:
                value = getattr(row.contact, name, "") if row.contact else ""
            fields.append(
                {"name": name, "label": ContactForm.base_fields[name].label, "value": value, "errors": errors}
            )
        blocks.append(
            {
                "county": row.county,
                "contact": row.contact,
                "fields": fields,
                "form_errors": form.non_field_errors() if mine and form is not None else [],
            }
        )
    status = form_status(form) if form is not None else 200
    return page(request, scope, "portal/contact_manage.html", {"rows": blocks}, status=status)
