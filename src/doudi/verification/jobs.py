"""Executing a verification run: registry snapshot (Parquet, scoped) → `doudi.batch.verification.run_verification`
(DuckDB) → one atomic bulk write-back of hits and verified households (COPY on PostgreSQL, batched INSERTs
elsewhere) → the run's summary.

Progress is written to the run row from the job's callback, each update in its own short autocommit statement
(the job runs outside any transaction), so a page polling the run sees it move. A failure anywhere marks the run
failed with the error; the write-back is one transaction, so a failed run has no hits.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from doudi.batch.errors import BatchInputError
from doudi.cases.choices import LIVE_RECIPIENT_STATUSES, ApplicationStatus, RecheckStatus
from doudi.cases.models import Application, Recheck, Recipient
from doudi.core.choices import AuditAction
from doudi.core.errors import ApplicationError
from doudi.core.models import Region
from doudi.core.services import audit_log_create
from doudi.registry.snapshot import snapshot_registry
from doudi.verification import services
from doudi.verification.choices import RunKind, RunStatus
from doudi.verification.models import Hit, RunHousehold, VerificationRun
from doudi.verification.selectors import sources_in_force

logger = logging.getLogger(__name__)
INSERT_BATCH = 2000
# Progress bands: snapshot 0–15 %, the batch job 15–90 %, the write-back 90–100 %.
SNAPSHOT_BAND = (2, 15)
JOB_BAND = (15, 90)


HEARTBEAT_SECONDS = 30  # a progress report with an unchanged percentage still refreshes the heartbeat this often


class _Progress:
    """Writes progress and the heartbeat to the run row (one UPDATE, autocommitted) when the percentage moves, or
    at least every HEARTBEAT_SECONDS while the job reports. Only a run still `running` is touched: one that was
    marked abandoned (services.run_recover_stale) stays failed."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.last = -1
        self.beat = 0.0

    def set(self, percent: int, phase: str) -> None:
        percent = max(0, min(100, int(percent)))
        now = time.monotonic()
        if percent == self.last and now - self.beat < HEARTBEAT_SECONDS:
            return
        self.last = percent
        self.beat = now
        VerificationRun.objects.filter(pk=self.run_id, status=RunStatus.RUNNING).update(
            progress=percent, phase=phase[:200], heartbeat_at=timezone.now()
        )

    def job(self, message: str, done: int, total: int) -> None:
        low, high = JOB_BAND
        share = done / total if total else 1
        # The batch job reports bilingual phases ("核对 车辆登记 checking vehicles.parquet"): keep the Chinese.
        chinese = re.split(r" (?=[A-Za-z])", message, maxsplit=1)[0]
        self.set(low + round((high - low) * share), chinese)


def _households(run: VerificationRun) -> tuple[set[int] | None, Region]:
    """Which households the run verifies (None: every active household of the region), and the region to snapshot."""
    if run.kind == RunKind.APPLICATION:
        assert run.application is not None
        return {run.application.household_id}, run.application.region
    if run.kind == RunKind.REGION:
        return None, run.region
    recipients = Recipient.objects.filter(region_path__startswith=run.region_path, status__in=LIVE_RECIPIENT_STATUSES)
    ids = set(recipients.values_list("household_id", flat=True))
    if run.kind == RunKind.CASELOAD:
        open_cases = Application.objects.filter(
            region_path__startswith=run.region_path, status=ApplicationStatus.IN_PROGRESS
        )
        ids |= set(open_cases.values_list("household_id", flat=True))
    return ids, run.region


def _inputs(run: VerificationRun, work: Path, progress: _Progress) -> tuple[Path, Path, pa.Table]:
    """Snapshot the registry (scoped to the run's region) and write the job's households and persons files.

    Households get `declared_monthly_income`: the household's income items in force on the as-of date (what it
    declared), so the income rule can compare it with tax, pension and housing-fund records. Members who are
    recorded as dead on or before the as-of date are left out (they do not count in the household size; a death
    the registry does not know yet is what the deaths source finds).
    """
    wanted, region = _households(run)
    progress.set(SNAPSHOT_BAND[0], "导出户籍快照")
    scope = services._run_scope(run)
    scope = type(scope)(
        user_id=scope.user_id, username=scope.username, role=scope.role, region_code=region.code,
        region_path=region.path,
    )  # fmt: skip
    snap = snapshot_registry(scope=scope, directory=work / "snapshot", as_of=run.as_of)
    households = pq.read_table(snap.path("households"))
    if wanted is not None:
        ids = pa.array(sorted(wanted), pa.int64())
        households = households.filter(pc.is_in(households["household_id"], value_set=ids))
    incomes = pq.read_table(snap.path("incomes"))
    declared = incomes.group_by("household_id").aggregate([("monthly_amount", "sum")])
    lookup = dict(zip(declared["household_id"].to_pylist(), declared["monthly_amount_sum"].to_pylist(), strict=True))
    from decimal import Decimal

    zero = Decimal("0.00")
    amounts = [lookup.get(h) or zero for h in households["household_id"].to_pylist()]
    households = pa.table(
        {
            "household_id": households["household_id"],
            "region_code": households["region_code"],
            "area": households["area"],
            "declared_monthly_income": pa.array(amounts, pa.decimal128(14, 2)),
        }
    )
    persons = pq.read_table(snap.path("persons"))
    keep = pc.is_in(persons["household_id"], value_set=households["household_id"].combine_chunks())
    alive = pc.or_kleene(
        pc.is_null(persons["death_date"]),
        pc.greater(persons["death_date"], pa.scalar(run.as_of, pa.date32())),
    )
    persons = persons.filter(pc.and_(keep, alive))
    hh_path, p_path = work / "households.parquet", work / "persons.parquet"
    pq.write_table(households, hh_path)
    pq.write_table(persons.select(["household_id", "id_number"]), p_path)
    progress.set(SNAPSHOT_BAND[1], "户籍快照已导出")
    return hh_path, p_path, persons.select(["household_id", "person_id", "id_number"])


def _sources_dir(run: VerificationRun, work: Path) -> tuple[Path, dict[str, Any]]:
    """A directory of links to the batches in force (`<kind>.parquet` and their stored rejects)."""
    batches = sources_in_force(region=run.region)
    folder = work / "sources"
    folder.mkdir()
    base = Path(settings.VAR_DIR)
    for kind, batch in batches.items():
        stored = base / batch.parquet_path
        for src, name in ((stored, f"{kind}.parquet"), (stored.with_name(f"{kind}.rejects.parquet"), None)):
            if not src.is_file():
                if name is None:
                    continue
                raise ApplicationError(
                    "source_missing", f"数据批次{batch.pk}（{batch.file_name}）的存储文件缺失，请重新上传", "sources"
                )
            target = folder / (name or src.name)
            try:
                os.symlink(src, target)
            except OSError:
                shutil.copyfile(src, target)
    return folder, batches


def _copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """PostgreSQL COPY … FROM STDIN on Django's connection (inside the current transaction)."""
    with connection.cursor() as cursor:
        raw = cursor.connection
        cols = ", ".join(columns)
        with raw.cursor() as pg, pg.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def bulk_insert(model: Any, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert many rows: COPY on PostgreSQL, multi-row INSERTs of INSERT_BATCH rows elsewhere. Never one per row."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        _copy_rows(model._meta.db_table, [model._meta.get_field(c).column for c in columns], rows)
        return
    attnames = [model._meta.get_field(c).attname for c in columns]
    objects = [model(**dict(zip(attnames, row, strict=True))) for row in rows]
    model.objects.bulk_create(objects, batch_size=INSERT_BATCH)


def _open_cases(run: VerificationRun) -> tuple[dict[int, int], dict[int, tuple[int, int]]]:
    """Per household: the latest open application, and the open recheck (recheck id, its case) if any."""
    if run.kind == RunKind.APPLICATION:
        assert run.application is not None
        return {run.application.household_id: run.application_id}, {}  # type: ignore[dict-item]
    apps: dict[int, int] = {}
    rows = Application.objects.filter(
        region_path__startswith=run.region_path, status=ApplicationStatus.IN_PROGRESS
    ).values_list("household_id", "id")
    for household_id, app_id in rows:
        apps[household_id] = max(app_id, apps.get(household_id, 0))
    rechecks: dict[int, tuple[int, int]] = {}
    open_rechecks = Recheck.objects.filter(
        recipient__region_path__startswith=run.region_path, status=RecheckStatus.OPEN, application__isnull=False
    ).values_list("recipient__household_id", "id", "application_id")
    for household_id, recheck_id, app_id in open_rechecks:
        rechecks[household_id] = (recheck_id, app_id)
    return apps, rechecks


def _write_back(
    run: VerificationRun,
    result: Any,
    persons: pa.Table,
    households: pa.Table,
    batches: dict[str, Any],
    timings: dict[str, float],
    progress: _Progress,
) -> None:
    """Hits and verified households in one transaction, with the run's summary and one audit entry."""
    progress.set(JOB_BAND[1], "写回核对结果")
    person_of = {
        (str(h), i): p
        for h, p, i in zip(
            persons["household_id"].to_pylist(), persons["person_id"].to_pylist(), persons["id_number"].to_pylist(),
            strict=True,
        )
    }  # fmt: skip
    region_of = dict(zip(households["household_id"].to_pylist(), households["region_code"].to_pylist(), strict=True))
    paths = dict(Region.objects.filter(code__in=set(region_of.values())).values_list("code", "path"))
    apps, rechecks = _open_cases(run)

    def case_of(household_id: int) -> tuple[int | None, int | None]:
        if household_id in rechecks:
            recheck_id, app_id = rechecks[household_id]
            return app_id, recheck_id
        return apps.get(household_id), None

    hits = result.hits.to_pylist()
    counts: dict[int, int] = {}
    hit_rows: list[tuple[Any, ...]] = []
    for h in hits:
        household_id = int(h["household_id"])
        person_id = person_of.get((h["household_id"], h["id_number"]))
        if person_id is None:  # cannot happen: hits come from the persons file
            raise ApplicationError("unknown_person", "核对结果中的成员不在户籍快照中", "hits")
        region = region_of[household_id]
        app_id, recheck_id = case_of(household_id)
        batch = batches.get(h["source"])
        counts[household_id] = counts.get(household_id, 0) + 1
        hit_rows.append(
            (run.pk, household_id, person_id, app_id, recheck_id, region, paths[region], h["source"],
             batch.pk if batch else None, h["rule"], h["value"][:40], h["threshold"][:40], "", "", 1)
        )  # fmt: skip
    household_rows = []
    for household_id, region in region_of.items():
        app_id, recheck_id = case_of(household_id)
        household_rows.append(
            (run.pk, household_id, app_id, recheck_id, region, paths[region], counts.get(household_id, 0))
        )
    started = time.perf_counter()
    summary = dict(result.summary)
    with transaction.atomic():
        # Lock the run first: a run marked abandoned meanwhile (worker_lost) gets no results, and the stale-run
        # recovery waits for this transaction instead of failing a run that is being written.
        if not VerificationRun.objects.select_for_update().filter(pk=run.pk, status=RunStatus.RUNNING).exists():
            raise ApplicationError(
                "run_not_running", "核对批次已不在执行状态（可能已被判定中断），结果未写入", "run_id", status=409
            )
        bulk_insert(
            Hit,
            ("run", "household", "person", "application", "recheck", "region", "region_path", "source", "source_batch",
             "rule", "value", "threshold", "outcome", "outcome_reason", "version"),
            hit_rows,
        )  # fmt: skip
        bulk_insert(
            RunHousehold,
            ("run", "household", "application", "recheck", "region", "region_path", "hits"),
            household_rows,
        )
        timings["write"] = round(time.perf_counter() - started, 3)
        run.refresh_from_db()
        run.status = RunStatus.DONE
        run.progress = 100
        run.phase = "完成"
        run.households = len(household_rows)
        run.persons = int(summary.get("persons") or 0)
        run.flagged_households = len(counts)
        run.hits = len(hit_rows)
        run.rejects = int(summary.get("rejects") or 0)
        run.summary = summary
        run.parameters_digest = str(summary.get("parameters", {}).get("digest", ""))[:64]
        run.timings = timings
        run.finished_at = timezone.now()
        run.save()
        audit_log_create(
            scope=services._run_scope(run),
            action=AuditAction.UPDATE,
            subject_type="verification_run",
            subject_id=run.pk,
            region_code=run.region_id,
            after={"status": run.status, "households": run.households, "hits": run.hits,
                   "flagged_households": run.flagged_households},
        )  # fmt: skip


def run_work_dir(run_id: int) -> Path:
    """Where a run's snapshot and source links live while it executes (removed afterwards)."""
    return Path(settings.VAR_DIR) / "verification" / "runs" / str(run_id)


def run_execute(*, run_id: int, on_progress: Callable[[int, str], None] | None = None) -> VerificationRun:
    """Execute a claimed (running) run to the end; returns it done or failed. Never raises for a job error."""
    from doudi.batch.verification import run_verification
    from doudi.policy.selectors import current_parameter_set

    run = VerificationRun.objects.select_related("application", "application__region", "region", "created_by").get(
        pk=run_id
    )
    if run.status != RunStatus.RUNNING:
        raise ApplicationError("run_not_claimed", "核对批次不在执行状态", "run_id", status=409)
    progress = _Progress(run.pk)
    work = run_work_dir(run.pk)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    timings: dict[str, float] = {}
    try:
        started = time.perf_counter()
        hh_path, p_path, persons = _inputs(run, work, progress)
        timings["snapshot"] = round(time.perf_counter() - started, 3)
        sources, batches = _sources_dir(run, work)
        run.sources = [
            {"batch": b.pk, "kind": k, "department": b.department, "file": b.file_name, "sha256": b.sha256,
             "region": b.region_id, "period": [b.period_start.isoformat(), b.period_end.isoformat()]}
            for k, b in sorted(batches.items())
        ]  # fmt: skip
        VerificationRun.objects.filter(pk=run.pk).update(sources=run.sources)
        households = pq.read_table(hh_path, columns=["household_id", "region_code"])
        started = time.perf_counter()
        if households.num_rows == 0:
            raise ApplicationError("no_households", "核对范围内没有需要核对的家庭", "region_code")
        result = run_verification(
            hh_path,
            p_path,
            sources,
            as_of=run.as_of,
            overrides=run.overrides or None,
            progress=progress.job,
            parameters=current_parameter_set(),
            engine_options=services.engine_options(),
        )
        timings["job"] = round(time.perf_counter() - started, 3)
        _write_back(run, result, persons, households, batches, timings, progress)
    except BatchInputError as exc:
        services.run_fail(run_id=run.pk, code=exc.code, message=f"{exc.field}：{exc.message}")
    except ApplicationError as exc:
        services.run_fail(run_id=run.pk, code=exc.code, message=exc.message)
    except Exception as exc:  # a job must end failed, never stay "running"
        logger.error("verification run %s failed: %s", run.pk, type(exc).__name__)
        logger.debug("%s", traceback.format_exc())
        services.run_fail(run_id=run.pk, code="job_error", message=f"核对作业出错：{type(exc).__name__}")
    finally:
        if not getattr(settings, "DOUDI_KEEP_RUN_FILES", False):
            shutil.rmtree(work, ignore_errors=True)
    run.refresh_from_db()
    if on_progress is not None:
        on_progress(run.progress, run.phase)
    return run


def worker_loop(
    *, worker: str, once: bool = False, poll_seconds: float = 5.0, max_runs: int | None = None,
    stale_after: dt.timedelta | None = None, log: Callable[[str], None] = lambda _m: None,
) -> int:  # fmt: skip
    """Claim and execute queued runs; with `once`, stop when the queue is empty. Returns the runs executed.

    Before each claim, runs left `running` by a worker that died (no heartbeat for `stale_after`, default
    `services.stale_timeout()`) are marked failed (`worker_lost`), so they never block their case or mislead."""
    done = 0
    while max_runs is None or done < max_runs:
        for stale_id in services.run_recover_stale(timeout=stale_after):
            if not getattr(settings, "DOUDI_KEEP_RUN_FILES", False):  # the lost run's registry snapshot
                shutil.rmtree(run_work_dir(stale_id), ignore_errors=True)
            log(f"核对批次 {stale_id} 超时未报告进度，已标记为失败（worker_lost），请重新发起")
        run = services.run_claim_next(worker=worker)
        if run is None:
            if once:
                break
            time.sleep(poll_seconds)
            continue
        log(f"核对批次 {run.pk} 开始（{run.get_kind_display()}，{run.region_id}）")
        finished = run_execute(run_id=run.pk)
        done += 1
        log(f"核对批次 {run.pk} {finished.get_status_display()}：{finished.hits} 条命中，{finished.households} 户")
    return done


def _today() -> dt.date:
    return timezone.localdate()
