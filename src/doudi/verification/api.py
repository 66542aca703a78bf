"""Verification (核对) endpoints: start a run, its status and progress, its hits (scoped), a hit's outcome.

Each endpoint parses, calls one service or selector with the caller's scope, and shapes the answer with an explicit
field list; roles and regions are checked in the services and selectors (docs/verification-service.md §6).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from doudi.core.api import ERRORS, ErrorOut, request_scope
from doudi.core.errors import ApplicationError
from doudi.verification import presentation, selectors, services
from doudi.verification.choices import RULE_LABELS, RunKind
from doudi.verification.models import Hit, VerificationRun

router = Router(tags=["verification"])
WRITE_ERRORS: dict[int | frozenset[int], Any] = {frozenset({401, 403, 404, 409, 413, 422}): ErrorOut}


class RunCreateIn(Schema):
    kind: str = Field(examples=["application"], description="application | region | caseload | yearly")
    application_id: int | None = Field(None, description="kind=application：案件编号")
    region_code: str | None = Field(
        None, description="kind=region/caseload/yearly：县、乡镇或村级区划代码（默认本人区域）"
    )
    as_of: dt.date | None = Field(None, description="核对基准日（默认今天；申请核对总是今天）")
    overrides: dict[str, str] | None = Field(None, examples=[{"dibao.assets.max_vehicles": "1"}])


class RunSourceOut(Schema):
    batch: int
    kind: str
    department: str
    file: str
    sha256: str
    region: str
    period: list[str]


class RunOut(Schema):
    id: int
    kind: str
    region_code: str
    application_id: int | None
    as_of: dt.date
    status: str
    progress: int
    phase: str
    households: int
    persons: int
    flagged_households: int
    hits: int
    rejects: int
    parameters_digest: str
    overrides: dict[str, str]
    sources: list[RunSourceOut]
    hits_by_rule: dict[str, int]
    timings: dict[str, float]
    error_code: str
    error: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class HitOut(Schema):
    id: int
    run_id: int
    household_id: int
    person_id: int
    person_name: str
    application_id: int | None
    recheck_id: int | None
    region_code: str
    source: str
    source_batch_id: int | None
    rule: str
    rule_label: str
    value: str
    threshold: str
    description: str
    outcome: str
    outcome_reason: str
    outcome_on: dt.date | None
    version: int


class HitPageOut(Schema):
    items: list[HitOut]
    next_after: int | None = Field(None, description="下一页：把它作为 after 传入")


class HitFilter(Schema):
    township: str | None = None
    rule: str | None = None
    open_only: bool = False
    after: int | None = None
    limit: int = Field(100, ge=1, le=500)


class OutcomeIn(Schema):
    version: int
    outcome: str = Field(examples=["explained"], description="confirmed | explained | corrected")
    reason: str = Field(max_length=2000)
    outcome_on: dt.date | None = None


def _run_out(run: VerificationRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "kind": run.kind,
        "region_code": run.region_id,
        "application_id": run.application_id,
        "as_of": run.as_of,
        "status": run.status,
        "progress": run.progress,
        "phase": run.phase,
        "households": run.households,
        "persons": run.persons,
        "flagged_households": run.flagged_households,
        "hits": run.hits,
        "rejects": run.rejects,
        "parameters_digest": run.parameters_digest,
        "overrides": run.overrides or {},
        "sources": run.sources or [],
        "hits_by_rule": (run.summary or {}).get("hits_by_rule", {}),
        "timings": run.timings or {},
        "error_code": run.error_code,
        "error": run.error,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def _hit_out(hit: Hit) -> dict[str, Any]:
    return {
        "id": hit.pk,
        "run_id": hit.run_id,
        "household_id": hit.household_id,
        "person_id": hit.person_id,
        "person_name": hit.person.name,
        "application_id": hit.application_id,
        "recheck_id": hit.recheck_id,
        "region_code": hit.region_id,
        "source": hit.source,
        "source_batch_id": hit.source_batch_id,
        "rule": hit.rule,
        "rule_label": str(RULE_LABELS.get(hit.rule, hit.rule)),
        "value": hit.value,
        "threshold": hit.threshold,
        "description": presentation.sentence(hit.rule, hit.value, hit.threshold),
        "outcome": hit.outcome,
        "outcome_reason": hit.outcome_reason,
        "outcome_on": hit.outcome_on,
        "version": hit.version,
    }


@router.post(
    "/verification/runs",
    response={201: RunOut, **WRITE_ERRORS},
    url_name="verification_run_create",
    summary="发起核对（申请核对即时执行；批量核对排队，由核对作业程序执行）",
)
def run_create(request: HttpRequest, payload: RunCreateIn) -> Status[dict[str, Any]]:
    scope = request_scope(request)
    if payload.kind == RunKind.APPLICATION:
        if payload.application_id is None:
            raise ApplicationError("required", "请指定案件", "application_id")
        if payload.overrides:
            raise ApplicationError("invalid_parameter", "申请核对按现行参数进行，不能覆盖参数", "overrides")
        run = services.run_start_inline(scope=scope, application_id=payload.application_id)
    else:
        run = services.run_create(
            scope=scope,
            kind=payload.kind,
            region_code=payload.region_code,
            as_of=payload.as_of,
            overrides=payload.overrides,
        )
    return Status(201, _run_out(run))


@router.get(
    "/verification/runs/{run_id}",
    response={200: RunOut, **ERRORS},
    url_name="verification_run_get",
    summary="核对批次的状态与进度",
)
def run_get(request: HttpRequest, run_id: int) -> dict[str, Any]:
    return _run_out(selectors.run_get(scope=request_scope(request), run_id=run_id))


@router.get(
    "/verification/runs/{run_id}/hits",
    response={200: HitPageOut, **ERRORS},
    url_name="verification_run_hits",
    summary="核对批次的命中明细（管辖范围内）",
)
def run_hits(request: HttpRequest, run_id: int, filters: Query[HitFilter]) -> dict[str, Any]:
    hits = selectors.run_hits(
        scope=request_scope(request),
        run_id=run_id,
        township=filters.township,
        rule=filters.rule,
        open_only=filters.open_only,
        after=filters.after,
        limit=filters.limit,
    )
    return {
        "items": [_hit_out(h) for h in hits],
        "next_after": hits[-1].pk if len(hits) == filters.limit else None,
    }


@router.post(
    "/verification/hits/{hit_id}/outcome",
    response={200: HitOut, **WRITE_ERRORS},
    url_name="verification_hit_outcome",
    summary="录入命中的核实结论（乡镇）",
)
def hit_outcome(request: HttpRequest, hit_id: int, payload: OutcomeIn) -> dict[str, Any]:
    scope = request_scope(request)
    services.outcome_record(
        scope=scope,
        hit_id=hit_id,
        version=payload.version,
        outcome=payload.outcome,
        reason=payload.reason,
        outcome_on=payload.outcome_on,
    )
    return _hit_out(selectors.hit_get(scope=scope, hit_id=hit_id))
