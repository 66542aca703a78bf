"""Navigation by role, available to every template."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from doudi.core.choices import PERSONAL_DATA_ROLES, REGISTRY_BULK_ROLES


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = [(_("首页"), reverse("web:home"))]
    if user.role in PERSONAL_DATA_ROLES:
        items.append((_("家庭户查询"), reverse("web:household_list")))
    if user.role in REGISTRY_BULK_ROLES:
        items.append((_("导入导出"), reverse("web:import")))
    return {"nav_items": items}
