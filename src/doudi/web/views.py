"""Pages (Django templates + htmx). Thin: every view resolves the caller's scope, calls registry/core selectors
and services with it, and turns an ApplicationError into a field error, a page message or the 403/404 page.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Iterable
from typing import Any, Concatenate, ParamSpec, TypeVar

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from doudi.cases import services as case_services
from doudi.core.errors import ApplicationError, NotFound
from doudi.core.scope import Scope, scope_for
from doudi.core.selectors import audit_for_household, region_get, region_list, village_choices
from doudi.registry import selectors, services
from doudi.registry.models import Household
from doudi.web import forms
from doudi.web.auth import login_attempt

P = ParamSpec("P")
T = TypeVar("T")
View = Callable[Concatenate[HttpRequest, Scope, P], HttpResponseBase]

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
IMPORT_ERRORS_SESSION_KEY = "doudi_import_errors_csv"
IMPORT_ERRORS_SHOWN = 200


# --- plumbing ------------------------------------------------------------------------------------------------


def is_htmx(request: HttpRequest) -> bool:
    """An htmx request that wants a fragment (a history restore wants the whole page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def error_page(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    # A 404 never repeats the service's message: the page must not hint that a record exists elsewhere.
    template = {403: "403.html", 404: "404.html"}.get(exc.status, "web/error.html")
    return render(request, template, {"message": exc.message}, status=exc.status)


def scoped(view: View[P]) -> Callable[Concatenate[HttpRequest, P], HttpResponseBase]:
    """Log-in required; the view receives `scope_for(request.user)`; domain refusals become error pages."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
        if not request.user.is_authenticated:
            if is_htmx(request):
                response = HttpResponse(status=204)
                response["HX-Redirect"] = f"{reverse('web:login')}?next={request.path}"
                return response
            return redirect_to_login(request.get_full_path())
        try:
            return view(request, scope_for(request.user), *args, **kwargs)
        except ApplicationError as exc:
            return error_page(request, exc)

    return wrapper


def page(
    request: HttpRequest, scope: Scope, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    return render(request, template, {"scope": scope, **context}, status=status)


def attempt(form: forms.ServiceForm, call: Callable[[dict[str, Any]], T]) -> T | None:
    """Run a service with the form's input. On refusal the error is put on the form and None is returned."""
    if not form.is_bound or not form.is_valid():
        return None
    try:
        return call(form.values())
    except ApplicationError as exc:
        form.apply_error(exc)
        form.error_status = exc.status  # type: ignore[attr-defined]
        return None


def form_status(form: forms.ServiceForm) -> int:
    if not form.is_bound or not form.errors:
        return 200
    return int(getattr(form, "error_status", 422))


def pick(items: Iterable[T], pk: int) -> T:
    """The element with this primary key from a list the selector already scoped, or the 404 page."""
    for item in items:
        if getattr(item, "pk", None) == pk:
            return item
    raise NotFound()


def download(content: bytes, filename: str, fmt: str) -> HttpResponse:
    response = HttpResponse(content, content_type=CONTENT_TYPES.get(fmt, "application/octet-stream"))
    response["Content-Disposition"] = content_disposition_header(True, filename) or "attachment"
    response["Cache-Control"] = "no-store"  # personal data must not stay in shared caches
    return response


def household_by_number(scope: Scope, number: str, field: str) -> Household:
    return selectors.household_get_by_number(scope=scope, number=number, field=field)


# --- login ---------------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    form = forms.LoginForm(request.POST or None)
    user = attempt(
        form, lambda data: login_attempt(request=request, username=data["username"], password=data["password"])
    )
    if user is not None:
        auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        target = request.POST.get("next") or request.GET.get("next") or ""
        if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
            target = reverse("web:home")
        return redirect(target)
    return render(
        request, "web/login.html", {"form": form, "next": request.GET.get("next", "")}, status=form_status(form)
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    return redirect("web:login")


# --- home and search -----------------------------------------------------------------------------------------


@scoped
def home(request: HttpRequest, scope: Scope) -> HttpResponse:
    rows = selectors.household_counts_by_region(scope=scope)
    return page(request, scope, "web/home.html", {"rows": rows, "search_form": forms.SearchForm(villages=[])})


@scoped
def household_list(request: HttpRequest, scope: Scope) -> HttpResponse:
    scope.require_personal()
    form = forms.SearchForm(request.GET, villages=village_choices(scope=scope))
    result = None
    if form.is_valid():
        result = selectors.household_search(
            scope=scope,
            q=form.cleaned_data["q"],
            village_code=form.cleaned_data["village"],
            after=form.cleaned_data["after"],
        )
    template = "web/partials/household_results.html" if is_htmx(request) else "web/household_list.html"
    response = page(request, scope, template, {"form": form, "result": result})
    patch_vary_headers(response, ["HX-Request"])
    return response


@scoped
def household_detail(request: HttpRequest, scope: Scope, household_id: int) -> HttpResponse:
    detail = selectors.household_detail(scope=scope, household_id=household_id)
    history = audit_for_household(scope=scope, household_id=household_id)
    # The case actions offered here are those the case services would accept from this role.
    actions = {
        "intake": scope.role in case_services.INTAKE_ROLES,
        "act_first": scope.role in case_services.CASE_OPEN_ROLES,
        "changes": scope.role in case_services.CHANGE_REPORT_ROLES,
    }
    context = {"detail": detail, "history": history, "case_actions": actions}
    return page(request, scope, "web/household_detail.html", context)


# --- registry writes -----------------------------------------------------------------------------------------


@scoped
def household_new(request: HttpRequest, scope: Scope) -> HttpResponse:
    scope.require_registry_write()
    form = forms.HouseholdForm(request.POST or None, villages=village_choices(scope=scope))

    def create(data: dict[str, Any]) -> Household:
        data.pop("version", None)
        return services.household_create(scope=scope, region_code=data.pop("region_code"), data=data)

    household = attempt(form, create)
    if household is not None:
        messages.success(request, _("已新建家庭，户编号 %(number)s") % {"number": household.number})
        return redirect("web:household_detail", household_id=household.pk)
    return page(request, scope, "web/household_form.html", {"form": form, "household": None}, status=form_status(form))


@scoped
def household_edit(request: HttpRequest, scope: Scope, household_id: int) -> HttpResponse:
    household = selectors.household_get(scope=scope, household_id=household_id)
    scope.require_registry_write()
    form = forms.HouseholdForm(
        request.POST or None, initial=forms.household_initial(household), villages=village_choices(scope=scope)
    )

    def update(data: dict[str, Any]) -> Household:
        version = data.pop("version") or 0
        return services.household_update(scope=scope, household_id=household_id, version=version, data=data)

    if attempt(form, update) is not None:
        messages.success(request, _("家庭信息已保存"))
        return redirect("web:household_detail", household_id=household_id)
    return page(
        request, scope, "web/household_form.html", {"form": form, "household": household}, status=form_status(form)
    )


@scoped
def member_add(request: HttpRequest, scope: Scope, household_id: int) -> HttpResponse:
    household = selectors.household_get(scope=scope, household_id=household_id)
    scope.require_registry_write()
    form = forms.MemberAddForm(request.POST or None)

    def add(data: dict[str, Any]) -> Any:
        relation, start = data.pop("relation"), data.pop("start_date") or None
        return services.member_add(
            scope=scope, household_id=household_id, data=data, relation=relation, start_date=start
        )

    if attempt(form, add) is not None:
        messages.success(request, _("已添加家庭成员"))
        return redirect("web:household_detail", household_id=household_id)
    context = {"form": form, "household": household, "title": _("添加家庭成员")}
    return page(request, scope, "web/person_form.html", context, status=form_status(form))


@scoped
def person_edit(request: HttpRequest, scope: Scope, person_id: int) -> HttpResponse:
    person = selectors.person_get(scope=scope, person_id=person_id)
    scope.require_registry_write()
    membership = selectors.live_membership(scope=scope, person_id=person.pk)
    form = forms.PersonForm(request.POST or None, initial=forms.person_initial(person))

    def update(data: dict[str, Any]) -> Any:
        version = data.pop("version") or 0
        return services.person_update(scope=scope, person_id=person_id, version=version, data=data)

    if attempt(form, update) is not None:
        messages.success(request, _("人员信息已保存"))
        return redirect(forms.back_url(membership))
    context = {"form": form, "person": person, "membership": membership, "title": _("编辑人员信息")}
    return page(request, scope, "web/person_form.html", context, status=form_status(form))


@scoped
def person_move(request: HttpRequest, scope: Scope, person_id: int) -> HttpResponse:
    person = selectors.person_get(scope=scope, person_id=person_id)
    scope.require_registry_write()
    membership = selectors.live_membership(scope=scope, person_id=person.pk)
    form = forms.PersonMoveForm(request.POST or None)

    def move(data: dict[str, Any]) -> Any:
        target = household_by_number(scope, data["to_household"], "to_household")
        return services.person_move(
            scope=scope, person_id=person_id, to_household_id=target.pk, relation=data["relation"], date=data["date"]
        )

    moved = attempt(form, move)
    if moved is not None:
        messages.success(request, _("已迁入家庭 %(number)s") % {"number": moved.household.number})
        return redirect("web:household_detail", household_id=moved.household_id)
    context = {
        "form": form,
        "title": _("迁往其他家庭"),
        "subject": person.name,
        "back": forms.back_url(membership),
        "submit": _("确认迁移"),
    }
    return page(request, scope, "web/simple_form.html", context, status=form_status(form))


@scoped
def membership_end(request: HttpRequest, scope: Scope, household_id: int, membership_id: int) -> HttpResponse:
    detail = selectors.household_detail(scope=scope, household_id=household_id)
    membership = pick(detail.members, membership_id)
    scope.require_registry_write()
    form = forms.MembershipEndForm(request.POST or None)

    def end(data: dict[str, Any]) -> Any:
        return services.membership_end(
            scope=scope, membership_id=membership_id, end_date=data["end_date"], reason=data["end_reason"]
        )

    if attempt(form, end) is not None:
        messages.success(request, _("成员关系已终止，历史记录已保留"))
        return redirect("web:household_detail", household_id=household_id)
    context = {
        "form": form,
        "title": _("终止成员关系"),
        "subject": f"{membership.person.name}（{detail.household.number}）",
        "back": reverse("web:household_detail", args=[household_id]),
        "submit": _("确认终止"),
    }
    return page(request, scope, "web/simple_form.html", context, status=form_status(form))


@scoped
def item_add(request: HttpRequest, scope: Scope, household_id: int, kind_group: str) -> HttpResponse:
    detail = selectors.household_detail(scope=scope, household_id=household_id)
    scope.require_registry_write()
    form = forms.ItemForm(request.POST or None, kind_group=kind_group, members=forms.member_choices(detail.members))

    def add(data: dict[str, Any]) -> Any:
        person_id = data.pop("person_id", None)
        return services.item_add(
            scope=scope, household_id=household_id, kind_group=kind_group, data=data, person_id=person_id
        )

    if attempt(form, add) is not None:
        messages.success(request, _("已添加%(group)s") % {"group": forms.ITEM_GROUP_LABELS[kind_group]})
        return redirect("web:household_detail", household_id=household_id)
    context = {
        "form": form,
        "title": _("添加%(group)s") % {"group": forms.ITEM_GROUP_LABELS[kind_group]},
        "subject": detail.household.number,
        "back": reverse("web:household_detail", args=[household_id]),
        "submit": _("保存"),
    }
    return page(request, scope, "web/simple_form.html", context, status=form_status(form))


@scoped
def item_end(request: HttpRequest, scope: Scope, household_id: int, kind_group: str, item_id: int) -> HttpResponse:
    detail = selectors.household_detail(scope=scope, household_id=household_id)
    item = pick(forms.items_of(detail, kind_group), item_id)
    scope.require_registry_write()
    form = forms.ItemEndForm(request.POST or None)

    def end(data: dict[str, Any]) -> Any:
        services.item_end(scope=scope, kind_group=kind_group, item_id=item_id, end_date=data["end_date"])
        return True

    if attempt(form, end) is not None:
        messages.success(request, _("已终止该项目"))
        return redirect("web:household_detail", household_id=household_id)
    context = {
        "form": form,
        "title": _("终止%(group)s") % {"group": forms.ITEM_GROUP_LABELS[kind_group]},
        "subject": f"{item.get_kind_display()}（{detail.household.number}）",
        "back": reverse("web:household_detail", args=[household_id]),
        "submit": _("确认终止"),
    }
    return page(request, scope, "web/simple_form.html", context, status=form_status(form))


# --- import and export ---------------------------------------------------------------------------------------


def export_regions(scope: Scope) -> forms.Choices:
    own = region_get(scope=scope, code=scope.region_code)
    return forms.region_choices(own, region_list(scope=scope, parent_code=scope.region_code))


def _import_page(
    request: HttpRequest,
    scope: Scope,
    *,
    import_form: forms.ImportForm | None = None,
    export_form: forms.ExportForm | None = None,
    report: Any = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "import_form": import_form or forms.ImportForm(),
        "export_form": export_form
        or forms.ExportForm(regions=export_regions(scope), initial={"region": scope.region_code}),
        "report": report,
        "report_errors": list(report.errors[:IMPORT_ERRORS_SHOWN]) if report is not None else [],
        "template_links": forms.TEMPLATE_LINKS,
    }
    return page(request, scope, "web/import.html", context, status=status)


@scoped
def import_view(request: HttpRequest, scope: Scope) -> HttpResponse:
    scope.require_bulk()
    if request.method != "POST":
        return _import_page(request, scope)
    form = forms.ImportForm(request.POST, request.FILES)

    def run(data: dict[str, Any]) -> Any:
        from doudi.registry.imports import import_upload

        upload = data["file"]
        return import_upload(scope=scope, fileobj=upload, filename=upload.name, kind=data["kind"])

    report = attempt(form, run)
    if report is None:
        return _import_page(request, scope, import_form=form, status=form_status(form))
    if report.ok:
        messages.success(request, report.summary())
        return redirect("web:import")
    request.session[IMPORT_ERRORS_SESSION_KEY] = base64.b64encode(report.error_csv()).decode("ascii")
    return _import_page(request, scope, import_form=form, report=report, status=422)


@scoped
def import_errors(request: HttpRequest, scope: Scope) -> HttpResponse:
    scope.require_bulk()
    encoded = request.session.get(IMPORT_ERRORS_SESSION_KEY)
    if not encoded:
        raise NotFound()
    return download(base64.b64decode(encoded), "import-errors.csv", "csv")


@scoped
def import_template(request: HttpRequest, scope: Scope, kind: str, fmt: str) -> HttpResponse:
    scope.require_bulk()
    from doudi.registry.imports import import_template as template_bytes

    return download(template_bytes(kind, fmt), f"doudi-{kind}-template.{fmt}", fmt)


@scoped
@require_POST
def export_view(request: HttpRequest, scope: Scope) -> HttpResponse:
    scope.require_bulk()
    form = forms.ExportForm(request.POST, regions=export_regions(scope))

    def export(data: dict[str, Any]) -> bytes:
        from doudi.registry.exports import export_households_bytes

        return export_households_bytes(scope=scope, region_code=data["region"], fmt=data["fmt"])

    content = attempt(form, export)
    if content is None:
        return _import_page(request, scope, export_form=form, status=form_status(form))
    data = form.cleaned_data
    return download(content, f"doudi-households-{data['region']}.{data['fmt']}", data["fmt"])
