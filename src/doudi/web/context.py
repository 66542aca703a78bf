"""Navigation by role, available to every template."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from doudi.core.choices import PERSONAL_DATA_ROLES, REGISTRY_BULK_ROLES, REGISTRY_WRITE_ROLES


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = [(_("首页"), reverse("web:home"))]
    if user.role in PERSONAL_DATA_ROLES:
        items.append((_("家庭户查询"), reverse("web:household_list")))
        items.append((pgettext("navigation", "待办"), reverse("cases:task_list")))
    if user.role in REGISTRY_WRITE_ROLES:
        items.append((_("新建家庭"), reverse("web:household_new")))
    if user.role in REGISTRY_BULK_ROLES:
        items.append((_("导入导出"), reverse("web:import")))
    if user.role in PERSONAL_DATA_ROLES:
        items.append((_("公示管理"), reverse("cases:publicity_list")))
        items.append((_("保障对象"), reverse("cases:recipient_list")))
    if user.role in {"township_reviewer", "county_approver", "county_verifier", "admin"}:
        items.append((_("发放管理"), reverse("payments:payroll_list")))
    if user.role in {"county_approver", "county_verifier", "admin", "supervisor"}:
        items.append((_("核查与整改"), reverse("integrity:overview")))
    elif user.role == "township_reviewer":  # findings assigned to them
        items.append((_("我承办的问题线索"), reverse("integrity:finding_list")))
    if user.role in {"county_verifier", "county_approver", "admin"}:
        items.append((_("核对"), reverse("verification:index")))
    if user.role in {"township_reviewer", "county_approver", "admin", "supervisor"}:
        target = "complaints:statistics" if user.role == "supervisor" else "complaints:list"
        items.append((_("投诉举报"), reverse(target)))
    items.append((_("政策参数"), reverse("policy:parameter_list")))  # policy is public information: every role
    # The deepest matching entry is the current one (/households/new/ is not also /households/).
    path = request.path
    matching = [url for _label, url in items if path == url or (url != "/" and path.startswith(url))]
    current = max(matching, key=len, default=None)
    return {"nav_items": [{"label": label, "url": url, "active": url == current} for label, url in items]}
