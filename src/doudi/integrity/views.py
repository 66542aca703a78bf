"""The county's integrity page: open findings (county roles) and verification coverage (also supervisors, who see
aggregates only). Thin: integrity selectors with the caller's scope."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from doudi.core.choices import Role
from doudi.core.errors import PermissionDenied
from doudi.core.scope import Scope
from doudi.integrity import selectors
from doudi.integrity.choices import CheckCode, FindingStatus
from doudi.integrity.services import RUN_ROLES
from doudi.web.views import page, scoped

LIST_LIMIT = 200


@scoped
@require_GET
def overview(request: HttpRequest, scope: Scope) -> HttpResponse:
    if scope.role not in RUN_ROLES and scope.role != Role.SUPERVISOR:
        raise PermissionDenied(_("只有县级审批、核对人员和监管人员可以查看核查情况"))
    counts = selectors.finding_counts(scope=scope)
    count_rows = [
        {
            "label": CheckCode(code).label,
            "cells": [by_status.get(status, 0) for status in FindingStatus.values],
        }
        for code, by_status in sorted(counts.items())
    ]
    context = {
        "count_rows": count_rows,
        "statuses": [label for _value, label in FindingStatus.choices],
        # per township within a county; per county for the province-wide roles
        "coverage": selectors.verification_coverage(
            scope=scope, level="county" if scope.role in (Role.SUPERVISOR, Role.ADMIN) else "township"
        ),
        # Supervisors see aggregates only (counts, shares), never a finding about a person.
        "findings": None if scope.role == Role.SUPERVISOR else selectors.findings_list(scope=scope)[:LIST_LIMIT],
        "limit": LIST_LIMIT,
    }
    return page(request, scope, "integrity/overview.html", context)
