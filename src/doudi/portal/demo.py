"""A demo caseload for the portal on a seeded synthetic province, written set-based (INSERT … SELECT).

The synthetic seed (`registry.seed`) creates households only. This adds, for a share of them, what the case
services leave behind after a decision — an approved application, its determination and a recipient — plus pending
cases in their 7-day publicity, so that the portal, its privacy crawl and its benchmark have lists to show at any
scale (1M households in seconds on PostgreSQL). Deterministic: which households and amounts follow their ids.
It is demo data, not decisions: the determinations say so (`rules_program` = "demo") and are never explained as
rules output. One audit record covers the whole batch.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from doudi.cases.choices import ApplicationStatus, Program, PublicityStage, RecipientStatus
from doudi.cases.models import Application, Determination, Publicity, Recipient, WorkflowDefinition
from doudi.core.choices import AuditAction
from doudi.core.errors import ApplicationError
from doudi.core.models import User
from doudi.core.scope import system_scope
from doudi.core.services import audit_log_create

MONTHS = 24  # approvals spread over the last two years


@dataclass(frozen=True)
class DemoCaseload:
    dibao: int
    tekun: int
    terminated: int
    publicities: int


Expr = str | tuple[str, list[Any]]


def _insert_select(
    cursor: Any, model: type[models.Model], overrides: dict[str, Expr], tail: str, params: list[Any]
) -> int:
    """INSERT INTO <model> (every column but the key) SELECT <expr per column> <tail>: an override is an SQL
    expression over the tail's tables (with its own parameters); any other column gets its Python default."""
    columns, exprs, args = [], [], []
    now = timezone.now()
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        columns.append(connection.ops.quote_name(f.column))
        override = overrides.get(f.column)
        if isinstance(override, tuple):
            exprs.append(override[0])
            args.extend(override[1])
        elif override is not None:
            exprs.append(override)
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            exprs.append("%s")
            args.append(f.get_db_prep_save(now, connection))
        else:
            exprs.append("%s")
            default = f.get_default()
            args.append(f.get_db_prep_save(default, connection) if default is not None else None)
    sql = f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(exprs)} {tail}"
    cursor.execute(sql, [*args, *params])
    return int(cursor.rowcount)


def _months(today: dt.date) -> list[dt.date]:
    months = [today.replace(day=1)]
    while len(months) < MONTHS:
        months.append((months[-1] - dt.timedelta(days=1)).replace(day=1))
    return months


def _case(column: str, values: list[Any]) -> tuple[str, list[Any]]:
    """A value picked by `column` modulo len(values): CASE … WHEN i THEN %s (portable SQLite/PostgreSQL)."""
    branches = " ".join(f"WHEN {i} THEN %s" for i in range(len(values)))
    return f"CASE ({column} %% {len(values)}) {branches} END", list(values)


def demo_caseload_create(
    *,
    today: dt.date | None = None,
    dibao_per_mille: int = 50,
    tekun_per_mille: int = 10,
    publicity_per_mille: int = 2,
) -> DemoCaseload:
    """Recipients for about `dibao_per_mille`/1000 households (dibao) and `tekun_per_mille`/1000 (特困, the head of
    the household as the supported person), one in 17 of them terminated, and pending dibao cases in a running
    publicity for `publicity_per_mille`/1000. Households are picked by (id × 7919) mod 1000, so that every village
    gets its share although the seed numbers a village's households consecutively; those already in a case are left
    alone."""
    on = today or timezone.localdate()
    if min(dibao_per_mille, tekun_per_mille, publicity_per_mille) < 0 or (
        dibao_per_mille + tekun_per_mille + publicity_per_mille > 1000
    ):
        raise ApplicationError("invalid", "比例应为非负数且之和不超过1000", "dibao_per_mille")
    workflows: dict[str, int | None] = {
        p: WorkflowDefinition.objects.filter(program=p, kind="new", rule_set="2021", region__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
        for p in (Program.DIBAO, Program.TEKUN)
    }
    if None in workflows.values():
        raise ApplicationError("no_workflow", "未配置低保或特困的审批流程，请先执行数据库迁移", "program")
    months = _months(on)
    with transaction.atomic(), connection.cursor() as cursor:
        publisher = User.objects.order_by("pk").values_list("pk", flat=True).first()
        if publisher is None:
            publisher = User.objects.create_user(username="portal_demo", is_active=False, full_name="演示数据").pk
        before = Application.objects.aggregate(m=Max("pk"))["m"] or 0
        received = _case("h.id", [m - dt.timedelta(days=20) for m in months])
        slices = [
            (Program.DIBAO, 0, dibao_per_mille, ApplicationStatus.APPROVED),
            (Program.TEKUN, dibao_per_mille, tekun_per_mille, ApplicationStatus.APPROVED),
            (Program.DIBAO, dibao_per_mille + tekun_per_mille, publicity_per_mille, ApplicationStatus.IN_PROGRESS),
        ]
        for program, low, width, status in slices:
            if width <= 0:
                continue
            personal = program == Program.TEKUN
            running = status == ApplicationStatus.IN_PROGRESS
            _insert_select(
                cursor,
                Application,
                {
                    "program": f"'{program}'",
                    "household_id": "h.id",
                    "applicant_id": "h.head_id",
                    "subject_person_id": "h.head_id" if personal else "NULL",
                    "subject_key": "'p' || h.head_id" if personal else "'h' || h.id",
                    "region_id": "h.region_id",
                    "region_path": "r.path",
                    "workflow_id": ("%s", [workflows[program]]),
                    "rule_set": "'2021'",
                    "status": f"'{status}'",
                    "current_step": "'publicity'" if running else "''",
                    # a running publicity: received about three weeks ago
                    "received_on": ("%s", [on - dt.timedelta(days=21)]) if running else received,
                    "intake_level": "'township'",
                    "verification_authorised": ("%s", [True]),
                    "authorised_on": ("%s", [on - dt.timedelta(days=21)]) if running else received,
                },
                "FROM registry_household h JOIN core_region r ON r.code = h.region_id "
                "WHERE h.head_id IS NOT NULL AND h.status = 'active' "
                "AND NOT EXISTS (SELECT 1 FROM cases_application x WHERE x.household_id = h.id) "
                "AND ((h.id * 7919) %% 1000) >= %s AND ((h.id * 7919) %% 1000) < %s",
                [low, low + width],
            )
        amount = "(120 + (a.id %% 40) * 15)"
        _insert_select(
            cursor,
            Determination,
            {
                "application_id": "a.id",
                "program": "a.program",
                "rules_program": "'demo'",
                "rules_available": ("%s", [False]),
                "rules_version": "'demo'",
                "as_of": "a.received_on",
                "input": "'{}'",
                "output": "'{}'",
                "eligible": "NULL",
                "monthly_amount": amount,
                "actor_id": "NULL",
            },
            "FROM cases_application a WHERE a.id > %s AND a.status = 'approved'",
            [before],
        )
        ends = [m - dt.timedelta(days=1) for m in months]
        recipients = _insert_select(
            cursor,
            Recipient,
            {
                "program": "a.program",
                "household_id": "a.household_id",
                "person_id": "a.subject_person_id",
                "subject_key": "a.subject_key",
                "region_id": "a.region_id",
                "region_path": "a.region_path",
                # one in 17 terminated; the others active, one in 11 in its gradual exit
                "status": (
                    "CASE WHEN a.id %% 17 = 0 THEN %s WHEN a.id %% 11 = 0 THEN %s ELSE %s END",
                    [RecipientStatus.TERMINATED, RecipientStatus.GRADUAL_EXIT, RecipientStatus.ACTIVE],
                ),
                # terminated ones started two years ago (their end month is within the last year)
                "start_month": (
                    f"CASE WHEN a.id %% 17 = 0 THEN %s ELSE {_case('a.id', months)[0]} END",
                    [months[-1], *months],
                ),
                "end_month": (
                    f"CASE WHEN a.id %% 17 = 0 THEN {_case('(a.id / 17)', ends[:12])[0]} ELSE NULL END",
                    ends[:12],
                ),
                "monthly_amount": amount,
                "determination_id": "d.id",
                "application_id": "a.id",
                "recheck_category": "'yearly'",
            },
            "FROM cases_application a JOIN cases_determination d ON d.application_id = a.id "
            "WHERE a.id > %s AND a.status = 'approved' "
            "AND NOT EXISTS (SELECT 1 FROM cases_recipient x WHERE x.program = a.program "
            "AND x.subject_key = a.subject_key AND x.status <> 'terminated')",
            [before],
        )
        publicities = _insert_select(
            cursor,
            Publicity,
            {
                "application_id": "a.id",
                "stage": ("%s", [PublicityStage.INITIAL]),
                "place": ("%s", ["村务公开栏"]),
                "start_date": _case("a.id", [on - dt.timedelta(days=i) for i in range(7)]),
                "end_date": _case("a.id", [on + dt.timedelta(days=6 - i) for i in range(7)]),
                "created_by_id": ("%s", [publisher]),
            },
            "FROM cases_application a WHERE a.id > %s AND a.status = 'in_progress'",
            [before],
        )
        counts = DemoCaseload(
            dibao=Recipient.objects.filter(application_id__gt=before, program=Program.DIBAO).count(),
            tekun=Recipient.objects.filter(application_id__gt=before, program=Program.TEKUN).count(),
            terminated=Recipient.objects.filter(application_id__gt=before, status=RecipientStatus.TERMINATED).count(),
            publicities=publicities,
        )
        assert recipients == counts.dibao + counts.tekun
        audit_log_create(
            scope=system_scope(),
            action=AuditAction.CREATE,
            subject_type="demo_caseload",
            subject_id=f"after-{before}",
            after={**counts.__dict__, "today": on.isoformat()},
            note="信息公开演示数据",
        )
    return counts
