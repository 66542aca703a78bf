"""Policy parameter pages: readable by every role (policy is public), changed by administrators only."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from doudi.core.choices import Role
from doudi.core.errors import PermissionDenied
from doudi.core.scope import Scope
from doudi.policy import selectors, services
from doudi.policy.forms import ParameterImportForm, ParameterValueForm, SimulationForm, WithdrawForm
from doudi.web.views import attempt, form_status, page, scoped


def _require_admin(scope: Scope) -> None:
    if scope.role != Role.ADMIN:
        raise PermissionDenied(_("只有系统管理员可以修改政策参数"))


@scoped
@require_http_methods(["GET"])
def parameter_list(request: HttpRequest, scope: Scope) -> HttpResponse:
    rows = selectors.parameter_rows(scope)
    context = {
        "rows": rows,
        "is_admin": scope.role == Role.ADMIN,
        "can_simulate": scope.role in selectors.SIMULATION_ROLES,
    }
    return page(request, scope, "policy/parameter_list.html", context)


@scoped
@require_http_methods(["GET"])
def parameter_detail(request: HttpRequest, scope: Scope, path: str) -> HttpResponse:
    detail = selectors.parameter_detail(scope, path)
    context = {"detail": detail, "row": detail.row, "is_admin": scope.role == Role.ADMIN}
    return page(request, scope, "policy/parameter_detail.html", context)


@scoped
@require_http_methods(["GET", "POST"])
def value_add(request: HttpRequest, scope: Scope, path: str) -> HttpResponse:
    _require_admin(scope)
    detail = selectors.parameter_detail(scope, path)
    form = ParameterValueForm(request.POST or None, initial={"region_code": scope.region_code})

    def add(data: dict[str, Any]) -> Any:
        return services.parameter_value_add(scope=scope, path=path, **data)

    if attempt(form, add) is not None:
        messages.success(request, _("已新增参数取值"))
        return redirect("policy:parameter_detail", path=path)
    context = {"form": form, "row": detail.row}
    return page(request, scope, "policy/value_form.html", context, status=form_status(form))


@scoped
@require_POST
def value_withdraw(request: HttpRequest, scope: Scope, change_id: int) -> HttpResponse:
    _require_admin(scope)
    form = WithdrawForm(request.POST)
    change = selectors.parameter_value_change_get(scope, change_id)

    def withdraw(data: dict[str, Any]) -> Any:
        return services.parameter_value_withdraw(scope=scope, change_id=change_id, reason=data.get("reason", ""))

    if attempt(form, withdraw) is not None:
        messages.success(request, _("已撤回该取值"))
    else:
        for error in form.errors.values():
            messages.error(request, " ".join(str(e) for e in error))
    return redirect("policy:parameter_detail", path=change.path)


@scoped
@require_http_methods(["GET", "POST"])
def parameter_import(request: HttpRequest, scope: Scope) -> HttpResponse:
    _require_admin(scope)
    form = ParameterImportForm(request.POST or None, request.FILES or None)

    def run(data: dict[str, Any]) -> Any:
        upload = data["file"]
        return services.parameter_values_import(scope=scope, fileobj=upload, filename=upload.name)

    result = attempt(form, run) if request.method == "POST" else None
    if result is not None and result.ok:
        messages.success(request, _("已导入 %(count)d 条参数取值") % {"count": len(result.created)})
        return redirect("policy:parameter_list")
    status = 422 if result is not None else form_status(form)
    context = {"form": form, "result": result, "columns": services.IMPORT_COLUMNS}
    return page(request, scope, "policy/import.html", context, status=status)


@scoped
@require_http_methods(["GET", "POST"])
def simulate(request: HttpRequest, scope: Scope) -> HttpResponse:
    """政策模拟: GET shows the form, POST runs the simulation on the caseload in scope (aggregates only)."""
    selectors.require_simulation_role(scope)
    form = SimulationForm(
        request.POST if request.method == "POST" else None,
        initial={"path": "dibao.standard", "mode": "pct_up", "effective_from": timezone.localdate().isoformat()},
        parameters=selectors.simulation_parameters(),
        regions=selectors.simulation_region_choices(scope),
        modes=selectors.SIMULATION_MODES,
    )
    result = attempt(form, lambda data: selectors.policy_simulate(scope=scope, **data))
    context = {"form": form, "result": result}
    return page(request, scope, "policy/simulate.html", context, status=form_status(form))
