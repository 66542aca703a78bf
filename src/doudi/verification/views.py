"""Verification pages under /verification/: runs (list, start, progress, results), source batches (list, upload,
rejects), and the actions offered from the case page (run, notice, dispute, outcome, complete the step).

Thin: each view resolves the caller's scope, reads through `verification.selectors` and writes through
`verification.services`. Role refusals are 403, records outside the caller's region 404.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from doudi.batch.sources import SOURCE_KINDS
from doudi.cases import selectors as case_selectors
from doudi.core.errors import NotFound, PermissionDenied
from doudi.core.models import Region
from doudi.core.scope import Scope
from doudi.verification import forms, presentation, selectors, services
from doudi.verification.choices import (
    CASELOAD_RUN_ROLES,
    RULE_LABELS,
    SOURCE_READ_ROLES,
    SOURCE_WRITE_ROLES,
    RunStatus,
)
from doudi.web.views import attempt, download, form_status, is_htmx, page, scoped


def _regions(scope: Scope, levels: Sequence[str]) -> list[tuple[str, str]]:
    """The caller's region and the regions below it of these levels, indented by depth, in tree order.

    Not truncated: a choice missing from the list could not be submitted (the form validates against it).
    """
    rows = (
        Region.objects.filter(path__startswith=scope.region_path, level__in=list(levels))
        .only("code", "name", "path")
        .order_by("path")
    )
    return [(r.code, f"{'　' * (r.path.count('/') - 2)}{r.name}") for r in rows]


def _run_form(scope: Scope, data: Any = None) -> forms.RunCreateForm:
    """The batch-run form: its scope choices are the county, township and village regions the service accepts."""
    return forms.RunCreateForm(data, regions=_regions(scope, services.RUN_REGION_LEVELS), auto_id="run_%s")


# --- runs --------------------------------------------------------------------------------------------------
def _index(request: HttpRequest, scope: Scope, form: forms.RunCreateForm | None = None, status: int = 200) -> Any:
    can_run = scope.role in CASELOAD_RUN_ROLES
    if can_run and form is None:
        form = _run_form(scope)
    context = {
        "runs": selectors.run_list(scope=scope),
        "form": form if can_run else None,
        "can_sources": scope.role in SOURCE_READ_ROLES,
    }
    return page(request, scope, "verification/index.html", context, status=status)


@scoped
@require_GET
def index(request: HttpRequest, scope: Scope) -> HttpResponse:
    return _index(request, scope)


@scoped
@require_POST
def run_create(request: HttpRequest, scope: Scope) -> HttpResponseBase:
    if scope.role not in CASELOAD_RUN_ROLES:
        raise PermissionDenied(_("批量核对须由县级核对中心或系统管理员发起"))
    form = _run_form(scope, request.POST)

    def run(data: dict[str, Any]) -> Any:
        return services.run_create(
            scope=scope,
            kind=data["kind"],
            region_code=data.get("region_code") or None,
            as_of=data.get("as_of"),
            overrides=form.override_map(),
        )

    created = attempt(form, run)
    if created is None:
        return _index(request, scope, form, status=form_status(form))
    messages.success(request, _("已提交核对，编号 %(id)s；由核对作业程序依次执行") % {"id": created.pk})
    return redirect("verification:run_detail", run_id=created.pk)


@scoped
@require_GET
def run_detail(request: HttpRequest, scope: Scope, run_id: int) -> HttpResponse:
    run = selectors.run_get(scope=scope, run_id=run_id)
    township = request.GET.get("township", "")
    rule = request.GET.get("rule", "")
    after = request.GET.get("after", "")
    counts = selectors.run_counts(scope=scope, run_id=run_id) if run.status == RunStatus.DONE else None
    hits = None
    if scope.reads_personal_data and run.status == RunStatus.DONE:
        hits = selectors.run_hits(
            scope=scope,
            run_id=run_id,
            township=township or None,
            rule=rule or None,
            after=int(after) if after.isdigit() else None,
        )
    context = {
        "run": run,
        "counts": counts,
        "count_rows": presentation.count_rows(counts) if counts else [],
        "hits": [presentation.describe(h) for h in hits] if hits is not None else None,
        "next_after": hits[-1].pk if hits and len(hits) == selectors.HIT_PAGE else None,
        "township": township,
        "rule": rule,
        "rules": list(RULE_LABELS.items()),
        "townships": _regions(scope, ("township",)),
        "sources": [presentation.source_line(s) for s in run.sources],
        "skipped": [str(RULE_LABELS.get(r.split(" ", 1)[0], r)) for r in (run.summary or {}).get("rules_skipped", [])],
        "active": run.status in (RunStatus.QUEUED, RunStatus.RUNNING),
    }
    return page(request, scope, "verification/run_detail.html", context)


@scoped
@require_GET
def run_progress(request: HttpRequest, scope: Scope, run_id: int) -> HttpResponse:
    progress = selectors.run_progress(scope=scope, run_id=run_id)
    active = progress["status"] in (RunStatus.QUEUED, RunStatus.RUNNING)
    response = page(
        request, scope, "verification/partials/progress.html", {"p": progress, "active": active, "run_id": run_id}
    )
    if not active and is_htmx(request):
        response["HX-Refresh"] = "true"  # the results are on the full page
    return response


# --- sources -----------------------------------------------------------------------------------------------
def _sources(request: HttpRequest, scope: Scope, form: forms.SourceUploadForm | None = None, status: int = 200) -> Any:
    can_upload = scope.role in SOURCE_WRITE_ROLES
    if can_upload and form is None:
        today = timezone.localdate()
        form = forms.SourceUploadForm(
            regions=_regions(scope, ("province", "city", "county")),
            initial={"received_on": today, "region_code": scope.region_code},
            auto_id="source_%s",
        )
    context = {
        "batches": selectors.source_list(scope=scope),
        "form": form if can_upload else None,
        "kinds": list(SOURCE_KINDS.values()),
    }
    return page(request, scope, "verification/source_list.html", context, status=status)


@scoped
@require_http_methods(["GET", "POST"])
def source_list(request: HttpRequest, scope: Scope) -> HttpResponseBase:
    if scope.role not in SOURCE_READ_ROLES:
        raise PermissionDenied(_("只有县级核对中心、县级审批人员和系统管理员可以查看核对数据"))
    if request.method != "POST":
        return _sources(request, scope)
    if scope.role not in SOURCE_WRITE_ROLES:
        raise PermissionDenied(_("核对数据须由县级核对中心或系统管理员上传"))
    form = forms.SourceUploadForm(
        request.POST, request.FILES, regions=_regions(scope, ("province", "city", "county")), auto_id="source_%s"
    )

    def run(data: dict[str, Any]) -> Any:
        upload = data.get("file")
        if upload is None:
            from doudi.core.errors import ApplicationError

            raise ApplicationError("required", _("请选择数据文件"), "file")
        return services.source_ingest(
            scope=scope,
            fileobj=upload,
            filename=upload.name,
            kind=data.get("kind") or "",
            department=data.get("department") or "",
            period_start=data.get("period_start") or "",
            period_end=data.get("period_end") or "",
            received_on=data.get("received_on") or "",
            region_code=data.get("region_code") or None,
            note=data.get("note") or "",
        )

    batch = attempt(form, run)
    if batch is None:
        return _sources(request, scope, form, status=form_status(form))
    messages.success(
        request,
        _("已入库 %(stored)s 行，拒收 %(rejected)s 行（批次 %(id)s）")
        % {"stored": batch.stored_rows, "rejected": batch.rejected_rows, "id": batch.pk},
    )
    return redirect("verification:source_detail", batch_id=batch.pk)


@scoped
@require_GET
def source_detail(request: HttpRequest, scope: Scope, batch_id: int) -> HttpResponse:
    batch = selectors.source_get(scope=scope, batch_id=batch_id)
    reasons = [(services.REJECT_REASONS.get(k, k), v) for k, v in sorted(batch.rejects_by_reason.items())]
    kind = SOURCE_KINDS.get(batch.kind)
    context = {"batch": batch, "reasons": reasons, "columns": kind.column_names if kind else ()}
    return page(request, scope, "verification/source_detail.html", context)


@scoped
@require_GET
def source_rejects(request: HttpRequest, scope: Scope, batch_id: int) -> HttpResponse:
    filename, content = services.source_rejects_csv(scope=scope, batch_id=batch_id)
    return download(content, filename, "csv")


# --- actions from the case page ----------------------------------------------------------------------------
def _back_to_case(application_id: int | None, fallback: str) -> HttpResponseBase:
    if application_id:
        return redirect(reverse("cases:application_detail", args=[application_id]) + "#verification")
    return redirect(fallback)


def _action_page(
    request: HttpRequest, scope: Scope, form: Any, *, title: str, subject: str, back: str, submit: str, status: int
) -> HttpResponse:
    context = {"form": form, "title": title, "subject": subject, "back": back, "submit": submit, "multipart": True}
    return page(request, scope, "verification/action_form.html", context, status=status)


@scoped
@require_POST
def application_run(request: HttpRequest, scope: Scope, application_id: int) -> HttpResponseBase:
    run = services.run_start_inline(scope=scope, application_id=application_id)
    if run.status == RunStatus.DONE:
        messages.success(request, _("核对完成：命中 %(n)s 条") % {"n": run.hits})
    else:
        messages.error(request, _("核对未完成：%(error)s") % {"error": run.error or run.get_status_display()})
    return _back_to_case(application_id, "verification:index")


@scoped
@require_http_methods(["GET", "POST"])
def notice_add(request: HttpRequest, scope: Scope, run_id: int, household_id: int) -> HttpResponseBase:
    services.require_notice_role(scope)  # 403 before the form: the same role set as the service
    run = selectors.run_household_get(scope=scope, run_id=run_id, household_id=household_id).run
    form = forms.NoticeForm(request.POST or None, initial={"notified_on": timezone.localdate()})
    back = request.POST.get("back") or request.GET.get("back") or ""
    application_id = int(back) if back.isdigit() else None

    def save(data: dict[str, Any]) -> Any:
        return services.notice_record(
            scope=scope,
            run_id=run.pk,
            household_id=household_id,
            notified_on=data.get("notified_on") or "",
            method=data.get("method") or "",
            note=data.get("note") or "",
        )

    if attempt(form, save) is not None:
        messages.success(request, _("已登记告知申请人核对结果"))
        return _back_to_case(application_id, reverse("verification:run_detail", args=[run.pk]))
    return _action_page(
        request, scope, form, title=_("登记核对结果告知"), subject=_("核对批次 %(id)s") % {"id": run.pk},
        back=reverse("verification:run_detail", args=[run.pk]), submit=_("保存"), status=form_status(form),
    )  # fmt: skip


@scoped
@require_http_methods(["GET", "POST"])
def dispute_add(request: HttpRequest, scope: Scope, hit_id: int) -> HttpResponseBase:
    services.require_dispute_role(scope)
    hit = selectors.hit_get(scope=scope, hit_id=hit_id)
    form = forms.DisputeForm(request.POST or None, request.FILES or None, initial={"received_on": timezone.localdate()})

    def save(data: dict[str, Any]) -> Any:
        uploads = [services.Upload(f, f.name) for f in data.get("evidence") or []]
        return services.dispute_record(
            scope=scope,
            hit_id=hit.pk,
            received_on=data.get("received_on") or "",
            statement=data.get("statement") or "",
            files=uploads,
        )

    if attempt(form, save) is not None:
        messages.success(request, _("已登记申请人异议及证据"))
        return _back_to_case(hit.application_id, reverse("verification:run_detail", args=[hit.run_id]))
    return _action_page(
        request, scope, form, title=_("登记核对结果异议"), subject=presentation.describe(hit).sentence,
        back=reverse("verification:run_detail", args=[hit.run_id]), submit=_("保存"), status=form_status(form),
    )  # fmt: skip


@scoped
@require_http_methods(["GET", "POST"])
def outcome_set(request: HttpRequest, scope: Scope, hit_id: int) -> HttpResponseBase:
    services.require_outcome_role(scope)
    hit = selectors.hit_get(scope=scope, hit_id=hit_id)
    initial = {"version": hit.version, "outcome": hit.outcome, "reason": hit.outcome_reason}
    form = forms.OutcomeForm(request.POST or None, initial=initial)

    def save(data: dict[str, Any]) -> Any:
        return services.outcome_record(
            scope=scope,
            hit_id=hit.pk,
            version=int(data.get("version") or 0),
            outcome=data.get("outcome") or "",
            reason=data.get("reason") or "",
            outcome_on=data.get("outcome_on"),
        )

    if attempt(form, save) is not None:
        messages.success(request, _("已保存核实结论"))
        return _back_to_case(hit.application_id, reverse("verification:run_detail", args=[hit.run_id]))
    return _action_page(
        request, scope, form, title=_("录入核实结论"), subject=presentation.describe(hit).sentence,
        back=reverse("verification:run_detail", args=[hit.run_id]), submit=_("保存"), status=form_status(form),
    )  # fmt: skip


@scoped
@require_POST
def step_complete(request: HttpRequest, scope: Scope, application_id: int) -> HttpResponseBase:
    case_selectors.application_get(scope=scope, application_id=application_id)  # 404 outside the region
    form = forms.StepCompleteForm(request.POST)

    def save(data: dict[str, Any]) -> Any:
        return services.verification_step_complete(
            scope=scope,
            application_id=application_id,
            version=int(data.get("version") or 0),
            comment=data.get("comment") or "",
            today=data.get("acted_on"),
        )

    if attempt(form, save) is not None:
        messages.success(request, _("已按核对结果办结“信息核对”环节"))
        return _back_to_case(application_id, "verification:index")
    return _action_page(
        request, scope, form, title=_("按核对结果办结信息核对"), subject=_("案件 %(id)s") % {"id": application_id},
        back=reverse("cases:application_detail", args=[application_id]), submit=_("办结"), status=form_status(form),
    )  # fmt: skip


@scoped
@require_GET
def evidence_file(request: HttpRequest, scope: Scope, evidence_id: int) -> HttpResponseBase:
    item = selectors.evidence_get(scope=scope, evidence_id=evidence_id)
    path = Path(settings.VAR_DIR) / item.stored_path
    if not path.is_file():
        raise NotFound()
    response = FileResponse(path.open("rb"), content_type=item.content_type or mimetypes.guess_type(path.name)[0])
    response["Content-Disposition"] = content_disposition_header(True, item.file_name) or "attachment"
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
