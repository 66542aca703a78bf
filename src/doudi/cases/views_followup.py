"""Follow-up pages: publicity management, spot-check draws, recipients (list, detail, status changes), rechecks,
change reports, deaths and the holiday calendar. Thin: every view calls the case selectors and services with the
caller's scope; refusals become field errors (422/409) or the 403/404 page."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from doudi.cases import forms_followup as forms
from doudi.cases import selectors, services
from doudi.core.choices import RegionLevel, Role
from doudi.core.errors import NotFound, PermissionDenied
from doudi.core.scope import Scope
from doudi.core.selectors import region_list, village_choices
from doudi.registry import selectors as registry_selectors
from doudi.web.views import attempt, form_status, page, scoped

TEMPLATES = "cases/followup/"
DRAW_ROLES = frozenset({Role.COUNTY_APPROVER, Role.ADMIN})
STATUS_ROLES = frozenset({Role.COUNTY_APPROVER, Role.ADMIN})
RECHECK_OPEN_ROLES = services.CASE_OPEN_ROLES
DEFAULT_RECHECK_DAYS = 30


def case_url(application_id: int) -> str:
    """The case page (cases:application_detail); its fixed path while that page is not wired."""
    try:
        return reverse("cases:application_detail", args=[application_id])
    except NoReverseMatch:
        return f"/cases/{application_id}/"


def _require_role(scope: Scope, roles: Iterable[str]) -> None:
    """Pages that only lead to a write the caller may not make are refused as the service would refuse them."""
    scope.require_personal()
    if scope.role not in set(roles):
        raise PermissionDenied(_("您的角色不能办理此事项"))


def _is_post(request: HttpRequest) -> bool:
    return request.method == "POST"


# --- publicity ---------------------------------------------------------------------------------------------------


@scoped
def publicity_list(request: HttpRequest, scope: Scope) -> HttpResponse:
    rows = selectors.publicity_rows(scope=scope, today=timezone.localdate())
    context = {"rows": rows, "recent_days": selectors.RECENT_PUBLICITY_DAYS}
    return page(request, scope, TEMPLATES + "publicity_list.html", context)


# --- spot checks -------------------------------------------------------------------------------------------------


@scoped
@require_http_methods(["GET", "POST"])
def spot_check_list(request: HttpRequest, scope: Scope) -> HttpResponse:
    scope.require_personal()
    if _is_post(request) and scope.role not in DRAW_ROLES:  # the role first: a refused draw reads no input
        raise PermissionDenied(_("只有县级审批人可以抽取入户抽查样本"))
    counties = list(region_list(scope=scope, level=RegionLevel.COUNTY).values_list("code", "name"))
    form = forms.SpotCheckDrawForm(request.POST if _is_post(request) else None, counties=counties)

    def draw(data: dict[str, Any]) -> Any:
        return services.spot_check_batch_create(
            scope=scope, program=data["program"], county_code=data["county_code"] or None
        )

    batch = attempt(form, draw)
    if batch is not None:
        messages.success(
            request,
            _("已抽取入户抽查样本：待审批 %(population)s 件，抽中 %(sample)s 件（含必须入户核查 %(mandatory)s 件）")
            % {"population": len(batch.population), "sample": len(batch.sample), "mandatory": len(batch.mandatory)},
        )
        return redirect("cases:spot_check_list")
    context = {"form": form, "can_draw": scope.role in DRAW_ROLES, "rows": selectors.spot_check_rows(scope=scope)}
    return page(request, scope, TEMPLATES + "spot_check_list.html", context, status=form_status(form))


# --- recipients --------------------------------------------------------------------------------------------------


@scoped
def recipient_list(request: HttpRequest, scope: Scope) -> HttpResponse:
    scope.require_personal()
    form = forms.RecipientFilterForm(request.GET, villages=village_choices(scope=scope))
    result = None
    if form.is_valid():
        data = form.cleaned_data
        result = selectors.recipient_page(
            scope=scope,
            program=data["program"],
            status=data["status"] or "live",
            village_code=data["village"],
            after=data["after"],
        )
    return page(request, scope, TEMPLATES + "recipient_list.html", {"form": form, "result": result})


def _recipient_page(
    request: HttpRequest,
    scope: Scope,
    detail: selectors.RecipientDetail,
    form: forms.RecipientStatusForm | None = None,
    *,
    status: int = 200,
) -> HttpResponse:
    recipient = detail.recipient
    if form is None:
        form = forms.RecipientStatusForm(initial={"version": recipient.version}, current=recipient.status)
    context = {
        "detail": detail,
        "recipient": recipient,
        "form": form,
        "can_change": scope.role in STATUS_ROLES,
        "can_report": scope.role in services.CHANGE_REPORT_ROLES,
        "can_open": scope.role in RECHECK_OPEN_ROLES,
        "case_href": case_url(recipient.application_id),
    }
    return page(request, scope, TEMPLATES + "recipient_detail.html", context, status=status)


@scoped
def recipient_detail(request: HttpRequest, scope: Scope, recipient_id: int) -> HttpResponse:
    return _recipient_page(request, scope, selectors.recipient_detail(scope=scope, recipient_id=recipient_id))


@scoped
@require_POST
def recipient_status(request: HttpRequest, scope: Scope, recipient_id: int) -> HttpResponse:
    detail = selectors.recipient_detail(scope=scope, recipient_id=recipient_id)
    form = forms.RecipientStatusForm(request.POST, current=detail.recipient.status)

    def change(data: dict[str, Any]) -> Any:
        return services.recipient_status_change(
            scope=scope,
            recipient_id=recipient_id,
            version=data["version"] or 0,
            to_status=data["to_status"],
            reason=data["reason"],
            effective_month=data["effective_month"],
        )

    recipient = attempt(form, change)
    if recipient is not None:
        messages.success(request, _("救助对象状态已变更为“%(status)s”") % {"status": recipient.get_status_display()})
        return redirect("cases:recipient_detail", recipient_id=recipient_id)
    return _recipient_page(request, scope, detail, form, status=form_status(form))


# --- rechecks ----------------------------------------------------------------------------------------------------


def _recheck_page(
    request: HttpRequest, scope: Scope, open_form: forms.RecheckOpenForm | None = None, *, status: int = 200
) -> HttpResponse:
    scope.require_personal()
    form = forms.RecheckFilterForm(request.GET)
    within, overdue = DEFAULT_RECHECK_DAYS, False
    if form.is_valid():
        within = form.cleaned_data["within"] if form.cleaned_data["within"] is not None else within
        overdue = form.cleaned_data["overdue"]
    rows = selectors.recheck_rows(scope=scope, today=timezone.localdate(), within_days=within, overdue_only=overdue)
    context = {
        "form": form,
        "open_form": open_form or forms.RecheckOpenForm(),
        "rows": rows,
        "within": within,
        "overdue_only": overdue,
        "can_open": scope.role in RECHECK_OPEN_ROLES,
    }
    return page(request, scope, TEMPLATES + "recheck_list.html", context, status=status)


@scoped
def recheck_list(request: HttpRequest, scope: Scope) -> HttpResponse:
    return _recheck_page(request, scope)


@scoped
@require_POST
def recheck_open(request: HttpRequest, scope: Scope, recheck_id: int) -> HttpResponse:
    form = forms.RecheckOpenForm(request.POST)
    recheck = attempt(form, lambda _data: services.recheck_open(scope=scope, recheck_id=recheck_id))
    if recheck is not None:
        assert recheck.application_id is not None
        messages.success(request, _("已启动复查，请在复查案件中办理入户调查等环节"))
        return redirect(case_url(recheck.application_id))
    return _recheck_page(request, scope, form, status=form_status(form))


# --- change reports and deaths -----------------------------------------------------------------------------------


def _household_id(request: HttpRequest) -> int | None:
    raw = request.GET.get("household", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise NotFound()
    return int(raw)


def _household_lookup(request: HttpRequest, scope: Scope) -> HttpResponse:
    """Without ?household=: ask for the household number, then come back with the household's id."""
    lookup = forms.HouseholdLookupForm(request.GET if "number" in request.GET else None)
    household = attempt(
        lookup,
        lambda data: registry_selectors.household_get_by_number(scope=scope, number=data["number"], field="number"),
    )
    if household is not None:
        return redirect(f"{reverse('cases:change_report_new')}?household={household.pk}")
    return page(request, scope, TEMPLATES + "household_lookup.html", {"form": lookup}, status=form_status(lookup))


@scoped
@require_http_methods(["GET", "POST"])
def change_report_new(request: HttpRequest, scope: Scope) -> HttpResponse:
    _require_role(scope, services.CHANGE_REPORT_ROLES)
    household_id = _household_id(request)
    if household_id is None:
        return _household_lookup(request, scope)
    detail = registry_selectors.household_detail(scope=scope, household_id=household_id)
    versions = {m.person_id: m.person.version for m in detail.members}
    form = forms.ChangeReportForm(
        request.POST if _is_post(request) else None,
        members=[(m.person_id, m.person.name) for m in detail.members],
        initial={"reported_on": timezone.localdate().isoformat()},
    )

    def report(data: dict[str, Any]) -> Any:
        person_id = data["person_id"]
        return services.change_report_create(
            scope=scope,
            household_id=household_id,
            kind=data["kind"],
            reported_on=data["reported_on"],
            details={"note": data["note"]} if data["note"] else {},
            person_id=person_id,
            person_version=versions.get(person_id) if person_id is not None else None,
            death_date=data["death_date"] or None,
        )

    if attempt(form, report) is not None:
        messages.success(request, _("已登记家庭情况变更，该户在保对象已启动复查"))
        return redirect("web:household_detail", household_id=household_id)
    context = {
        "form": form,
        "household": detail.household,
        "recipients": selectors.household_recipients(scope=scope, household_id=household_id),
    }
    return page(request, scope, TEMPLATES + "change_report_form.html", context, status=form_status(form))


@scoped
@require_http_methods(["GET", "POST"])
def death_record(request: HttpRequest, scope: Scope, person_id: int) -> HttpResponse:
    person = registry_selectors.person_get(scope=scope, person_id=person_id)
    scope.require_registry_write()  # the death is written into the registry
    membership = registry_selectors.live_membership(scope=scope, person_id=person_id)
    assert membership is not None  # person_get reached the person through it
    form = forms.DeathRecordForm(
        request.POST if _is_post(request) else None,
        initial={"version": person.version, "death_date": person.death_date.isoformat() if person.death_date else ""},
    )

    def record(data: dict[str, Any]) -> Any:
        return services.person_death_record(
            scope=scope, person_id=person_id, version=data["version"] or 0, death_date=data["death_date"]
        )

    rechecks = attempt(form, record)
    if rechecks is not None:
        messages.success(
            request,
            _("已登记死亡信息：本人享受的待遇自次月起停发；已启动家庭复查 %(n)s 件") % {"n": len(rechecks)},
        )
        return redirect("web:household_detail", household_id=membership.household_id)
    context = {
        "form": form,
        "person": person,
        "household": membership.household,
        "recipients": selectors.household_recipients(scope=scope, household_id=membership.household_id),
    }
    return page(request, scope, TEMPLATES + "death_form.html", context, status=form_status(form))


# --- holidays ----------------------------------------------------------------------------------------------------


@scoped
@require_http_methods(["GET", "POST"])
def holiday_list(request: HttpRequest, scope: Scope) -> HttpResponse:
    scope.require_personal()
    deleting = _is_post(request) and request.POST.get("action") == "delete"
    set_form = forms.HolidayForm(request.POST if _is_post(request) and not deleting else None)
    delete_form = forms.HolidayDeleteForm(request.POST if deleting else None)

    def save(data: dict[str, Any]) -> Any:
        working = data["day_kind"] == "working"
        return services.holiday_set(scope=scope, date=data["date"], is_working_day=working, note=data["note"])

    def delete(data: dict[str, Any]) -> bool:
        services.holiday_delete(scope=scope, date=data["date"])
        return True

    if deleting and attempt(delete_form, delete):
        messages.success(request, _("已删除该日期的调整，恢复为国家公布的安排"))
        return redirect("cases:holiday_list")
    saved = attempt(set_form, save)
    if saved is not None:
        messages.success(request, _("已保存 %(date)s 的调整") % {"date": saved.date.isoformat()})
        return redirect("cases:holiday_list")
    context = {
        "form": set_form,
        "delete_form": delete_form,
        "holidays": selectors.holiday_list(scope=scope),
        "can_edit": scope.role == Role.ADMIN,
    }
    status = max(form_status(set_form), form_status(delete_form))
    return page(request, scope, TEMPLATES + "holiday_list.html", context, status=status)
