"""Writes of verification (核对): source batches, runs, notices, disputes, outcomes, and the case's verification step
(docs/verification-service.md). The job itself (snapshot → batch job → bulk write-back) is in `jobs.py`.

Every write checks the caller's role and region and records one audit entry in its transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from doudi.batch.engines import connect
from doudi.batch.errors import BatchInputError
from doudi.batch.sources import SOURCE_KINDS, ingest_source
from doudi.cases import selectors as case_selectors
from doudi.cases import services as case_services
from doudi.cases.choices import ApplicationStatus, StepStatus
from doudi.cases.models import Application, CaseStep
from doudi.core.choices import AuditAction, Role
from doudi.core.errors import ApplicationError, NotFound, PermissionDenied, StaleEdit
from doudi.core.models import Region
from doudi.core.scope import Scope
from doudi.core.services import audit_log_create, snapshot
from doudi.rules.errors import RulesInputError
from doudi.verification import selectors
from doudi.verification.choices import (
    CASELOAD_RUN_ROLES,
    DISPUTE_ROLES,
    NOTICE_ROLES,
    OUTCOME_ROLES,
    SOURCE_WRITE_ROLES,
    BatchStatus,
    NoticeMethod,
    Outcome,
    RunKind,
    RunStatus,
)
from doudi.verification.models import Dispute, Evidence, Hit, Notice, SourceBatch, VerificationRun

SOURCE_FORMATS = (".csv", ".xlsx", ".parquet")
SOURCE_REGION_LEVELS = ("province", "city", "county")
RUN_REGION_LEVELS = ("county", "township", "village")
EVIDENCE_TYPES = {  # extension -> (content type, magic bytes)
    ".pdf": ("application/pdf", (b"%PDF-",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
}
MAX_EVIDENCE_FILES = 5
MAX_TEXT = 2000
CHUNK = 1024 * 1024
_UNSAFE_NAME = re.compile(r"[^\w.\-（）()]+")

BATCH_ERROR_MESSAGES = {
    "unknown_source_kind": "数据类别未知",
    "empty_file": "文件为空（没有表头行）",
    "unreadable_file": "文件无法读取",
    "bad_header": "表头有误（空列名或重复列名）",
    "unsupported_format": "只接受 .csv、.xlsx 或 .parquet 文件",
    "file_not_found": "文件不存在",
}


# --- helpers -----------------------------------------------------------------------------------------------
def source_max_bytes() -> int:
    return int(getattr(settings, "DOUDI_SOURCE_MAX_BYTES", 512 * 1024 * 1024))


def evidence_max_bytes() -> int:
    return int(getattr(settings, "DOUDI_EVIDENCE_MAX_BYTES", 10 * 1024 * 1024))


def engine_options() -> dict[str, Any]:
    """DuckDB options for ingestion and runs from the settings: threads, and the memory limit if one is set
    (otherwise a run sizes it to its households: docs/verification.md §4)."""
    options: dict[str, Any] = {"threads": int(settings.DOUDI_BATCH_THREADS)}
    if settings.DOUDI_BATCH_MEMORY_LIMIT:
        options["memory_limit"] = settings.DOUDI_BATCH_MEMORY_LIMIT
    return options


def var_dir() -> Path:
    return Path(settings.VAR_DIR)


def _today(today: dt.date | None) -> dt.date:
    return today or timezone.localdate()


def _require(scope: Scope, roles: Iterable[str], what: str) -> None:
    allowed = set(roles)
    if scope.role not in allowed:
        names = "、".join(str(Role(r).label) for r in sorted(allowed) if r in Role.values)
        raise PermissionDenied(f"{what}须由{names}办理")


def require_notice_role(scope: Scope) -> None:
    """Who may record that the household was told (the notice page checks this before showing its form)."""
    _require(scope, NOTICE_ROLES, "告知核对结果")


def require_dispute_role(scope: Scope) -> None:
    """Who may record the applicant's dispute (checked by the dispute page before its form)."""
    _require(scope, DISPUTE_ROLES, "登记核对异议")


def require_outcome_role(scope: Scope) -> None:
    """Who may record the township's outcome on a hit (checked by the outcome page before its form)."""
    _require(scope, OUTCOME_ROLES, "录入核实结论")


def _text(value: object, field: str, label: str, *, required: bool = True, max_length: int = MAX_TEXT) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise ApplicationError("required", f"请填写{label}", field)
    if len(text) > max_length:
        raise ApplicationError("too_long", f"{label}不能超过{max_length}个字", field)
    return text


def _date(value: dt.date | str | None, field: str, label: str, *, not_after: dt.date | None = None) -> dt.date:
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        try:
            value = dt.date.fromisoformat(str(value or "").strip())
        except ValueError:
            raise ApplicationError("invalid_date", f"{label}格式应为YYYY-MM-DD", field) from None
    if not_after is not None and value > not_after:
        raise ApplicationError("invalid_date", f"{label}不能晚于今天", field)
    return value


def _region(scope: Scope, code: str, field: str, levels: Sequence[str], what: str) -> Region:
    region = Region.objects.filter(code=code, path__startswith=scope.region_path).first()
    if region is None:
        raise NotFound("区划不存在或不在您的管辖范围内", field)
    if region.level not in levels:
        raise ApplicationError("invalid_region", what, field)
    return region


def safe_file_name(filename: str) -> str:
    """The base name of an uploaded file with anything but letters, digits, CJK, '.', '-', '_' and brackets removed."""
    base = Path(str(filename or "").replace("\\", "/")).name.strip()
    base = _UNSAFE_NAME.sub("_", base).strip("._") or "file"
    if len(base) > 120:
        stem, dot, ext = base.rpartition(".")
        base = (stem[:110] + dot + ext) if dot else base[:120]
    return base


def _copy_upload(fileobj: IO[bytes] | Any, target: Path, limit: int, field: str) -> tuple[int, str]:
    """Copy an upload to `target` (refusing more than `limit` bytes); returns (size, sha256)."""
    digest = hashlib.sha256()
    size = 0
    if hasattr(fileobj, "seek"):
        fileobj.seek(0)
    with target.open("wb") as out:
        while chunk := fileobj.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise ApplicationError(
                    "file_too_large", f"文件超过大小上限（{limit // (1024 * 1024)} MB）", field, status=413
                )
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def _batch_error(exc: BatchInputError, name: str) -> ApplicationError:
    column = exc.field.split(":", 1)[1] if ":" in exc.field else ""
    if exc.code == "missing_column":
        message = f"文件“{name}”缺少必需的列“{column}”（{exc.message}）"
    else:
        where = f"文件“{name}”" + (f"的列“{column}”" if column else "")
        message = f"{where}：{BATCH_ERROR_MESSAGES.get(exc.code, '无法使用')}（{exc.message}）"
    return ApplicationError(exc.code, message, "file", extra={"file": name, "column": column or None})


# --- source batches ----------------------------------------------------------------------------------------
def source_ingest(
    *,
    scope: Scope,
    fileobj: IO[bytes] | Any,
    filename: str,
    kind: str,
    department: str,
    period_start: dt.date | str,
    period_end: dt.date | str,
    received_on: dt.date | str,
    region_code: str | None = None,
    note: str = "",
    today: dt.date | None = None,
) -> SourceBatch:
    """Validate a department's file with the batch package and register it as the kind's batch in force for
    `region` (the caller's county by default); the previous batch of that kind and region is superseded.

    A file that cannot be used at all (unknown kind, missing column, empty, unreadable) is refused with the file
    and column named; rows that cannot be used are kept aside as rejects (downloadable) and counted.
    """
    _require(scope, SOURCE_WRITE_ROLES, "上传核对数据")
    on = _today(today)
    if kind not in SOURCE_KINDS:
        raise ApplicationError(
            "unknown_source_kind", f"未知的数据类别“{kind}”；应为：{'、'.join(SOURCE_KINDS)}", "kind"
        )
    department = _text(department, "department", "提供部门", max_length=100)
    note = _text(note, "note", "备注", required=False, max_length=300)
    region = _region(
        scope, region_code or scope.region_code, "region_code", SOURCE_REGION_LEVELS, "覆盖区域应为省、市或县级区划"
    )
    start = _date(period_start, "period_start", "数据起始日期")
    end = _date(period_end, "period_end", "数据截止日期")
    if end < start:
        raise ApplicationError("invalid_period", "数据截止日期不能早于起始日期", "period_end")
    received = _date(received_on, "received_on", "接收日期", not_after=on)
    name = safe_file_name(filename)
    if Path(name).suffix.lower() not in SOURCE_FORMATS:
        raise ApplicationError("unsupported_format", f"文件“{name}”：只接受 .csv、.xlsx 或 .parquet 文件", "file")

    token = uuid.uuid4().hex
    incoming = var_dir() / "sources" / "incoming" / token
    store = var_dir() / "sources" / kind / token
    incoming.mkdir(parents=True, exist_ok=True)
    try:
        raw = incoming / name
        _size, sha256 = _copy_upload(fileobj, raw, source_max_bytes(), "file")
        if SourceBatch.objects.filter(kind=kind, region=region, sha256=sha256, status=BatchStatus.ACCEPTED).exists():
            label = SOURCE_KINDS[kind].label
            raise ApplicationError(
                "duplicate_batch", f"文件“{name}”与该区域在用的{label}数据完全相同，无需重复上传", "file", status=409
            )
        engine = connect("duckdb", **engine_options())
        try:
            report = ingest_source(engine, raw, store, kind=kind)
        except BatchInputError as exc:
            raise _batch_error(exc, name) from None
        finally:
            engine.close()
    except BaseException:
        shutil.rmtree(store, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
    try:
        return _batch_register(
            scope=scope, kind=kind, department=department, region=region, start=start, end=end, received=received,
            name=name, report=report, store=store, note=note,
        )  # fmt: skip
    except BaseException:
        shutil.rmtree(store, ignore_errors=True)
        raise


@transaction.atomic
def _batch_register(
    *,
    scope: Scope,
    kind: str,
    department: str,
    region: Region,
    start: dt.date,
    end: dt.date,
    received: dt.date,
    name: str,
    report: Any,
    store: Path,
    note: str,
) -> SourceBatch:
    previous = list(
        SourceBatch.objects.select_for_update().filter(kind=kind, region=region, status=BatchStatus.ACCEPTED)
    )
    for old in previous:  # the partial unique index allows one accepted batch per kind and region
        old.status = BatchStatus.SUPERSEDED
        old.save(update_fields=["status"])
    batch = SourceBatch.objects.create(
        kind=kind,
        department=department,
        region=region,
        region_path=region.path,
        period_start=start,
        period_end=end,
        received_on=received,
        file_name=report.file,
        file_format=report.format,
        encoding=report.encoding or "",
        sha256=report.sha256,
        rows=report.rows,
        stored_rows=report.stored,
        rejected_rows=report.rejected,
        rejects_by_reason=report.rejects_by_reason,
        parquet_path=str((store / f"{kind}.parquet").relative_to(var_dir())),
        note=note,
        uploaded_by_id=scope.user_id or None,
    )
    for old in previous:
        old.superseded_by = batch
        old.save(update_fields=["superseded_by"])
    audit_log_create(
        scope=scope,
        action=AuditAction.IMPORT,
        subject_type="source_batch",
        subject_id=batch.pk,
        region_code=region.code,
        after=snapshot(batch, ["kind", "department", "file_name", "sha256", "rows", "stored_rows", "rejected_rows"]),
        note=f"supersedes {','.join(str(o.pk) for o in previous)}" if previous else "",
    )
    return batch


REJECT_HEADER = ("数据类别", "文件", "行号", "原因", "列", "身份证号", "原始值")
REJECT_REASONS = {
    "invalid_id_number": "身份证号无效",
    "missing_value": "必填值为空",
    "bad_value": "值格式错误",
    "duplicate_row": "重复行",
    "encoding_error": "编码错误",
    "malformed_row": "列数不符",
}


@transaction.atomic
def source_rejects_csv(*, scope: Scope, batch_id: int) -> tuple[str, bytes]:
    """The batch's rejected rows as CSV (UTF-8 with BOM; every text cell neutralised against formula injection)."""
    import io

    import pyarrow.parquet as pq

    from doudi.registry.spreadsheet import write_csv

    batch = selectors.source_get(scope=scope, batch_id=batch_id)
    path = var_dir() / batch.parquet_path
    rejects = path.with_name(f"{batch.kind}.rejects.parquet")
    rows: list[list[Any]] = []
    if rejects.is_file():
        for r in pq.read_table(rejects).to_pylist():
            rows.append(
                [r["source"], r["file"], r["row"], REJECT_REASONS.get(r["reason"], r["reason"]), r["column"],
                 r["id_number"], r["raw_value"]]
            )  # fmt: skip
    out = io.BytesIO()
    write_csv(out, REJECT_HEADER, rows)
    audit_log_create(
        scope=scope,
        action=AuditAction.EXPORT,
        subject_type="source_batch",
        subject_id=batch.pk,
        region_code=batch.region_id,
        note=f"rejects {len(rows)} rows",
    )
    return f"{batch.kind}-{batch.pk}-rejects.csv", out.getvalue()


# --- runs --------------------------------------------------------------------------------------------------
def _check_overrides(overrides: Mapping[str, object] | None) -> dict[str, str]:
    if not overrides:
        return {}
    if not isinstance(overrides, Mapping):
        raise ApplicationError("invalid_parameter", "参数覆盖应为“参数路径=取值”", "overrides")
    from doudi.policy.selectors import current_parameter_set

    cleaned = {str(k).strip(): str(v).strip() for k, v in overrides.items()}
    try:
        current_parameter_set().with_overrides(cleaned, field_prefix="overrides")
    except RulesInputError as exc:
        raise ApplicationError("invalid_parameter", f"参数覆盖无效：{exc.message}", exc.field) from None
    return cleaned


def verification_step(app: Application) -> CaseStep | None:
    return CaseStep.objects.filter(application=app, code="verification").first()


def may_verify_application(scope: Scope, step: CaseStep | None) -> bool:
    """Whoever may do the case's verification step may run verification for it (and administrators)."""
    return step is not None and (scope.role == Role.ADMIN or scope.role in set(step.roles))


@transaction.atomic
def run_create(
    *,
    scope: Scope,
    kind: str,
    region_code: str | None = None,
    application_id: int | None = None,
    as_of: dt.date | str | None = None,
    overrides: Mapping[str, object] | None = None,
    today: dt.date | None = None,
) -> VerificationRun:
    """Queue a verification run: one application (the roles of its verification step, with the signed
    authorisation), or a region's caseload or yearly check (county verification centre, administrators)."""
    on = _today(today)
    day = _date(as_of, "as_of", "核对基准日", not_after=on) if as_of else on
    application = None
    if kind == RunKind.APPLICATION:
        if application_id is None:
            raise ApplicationError("required", "请指定案件", "application_id")
        application = case_selectors.application_get(scope=scope, application_id=application_id)
        step = verification_step(application)
        if step is None:
            raise ApplicationError("no_verification_step", "该案件的办理流程没有信息核对环节", "application_id")
        if not may_verify_application(scope, step):
            _require(scope, {*step.roles, Role.ADMIN}, "信息核对")
        if not application.verification_authorised:
            raise ApplicationError(
                "authorisation_missing", "申请人尚未签署家庭经济状况核对授权书，不能发起核对", "verification_authorised"
            )
        if application.status != ApplicationStatus.IN_PROGRESS:
            raise ApplicationError("case_closed", "案件已办结，不能再发起核对", "application_id", status=409)
        if overrides:
            raise ApplicationError("invalid_parameter", "申请核对按现行参数进行，不能覆盖参数", "overrides")
        busy = VerificationRun.objects.filter(
            application=application, status__in=(RunStatus.QUEUED, RunStatus.RUNNING)
        ).exists()
        if busy:
            raise ApplicationError(
                "run_in_progress", "该案件已有正在进行的核对，请等待完成", "application_id", status=409
            )
        region = application.region
    elif kind in (RunKind.REGION, RunKind.CASELOAD, RunKind.YEARLY):
        _require(scope, CASELOAD_RUN_ROLES, "批量核对")
        region = _region(
            scope, region_code or scope.region_code, "region_code", RUN_REGION_LEVELS, "核对范围应为县、乡镇或村级区划"
        )
        if not _has_households(kind, region):
            raise ApplicationError("no_households", "核对范围内没有需要核对的家庭", "region_code")
    else:
        raise ApplicationError("invalid", f"未知的核对类型：{kind}", "kind")
    cleaned = _check_overrides(overrides)
    if not selectors.sources_in_force(region=region):
        raise ApplicationError("no_sources", "该区域尚无在用的核对数据，请先上传部门数据", "sources")
    run = VerificationRun.objects.create(
        kind=kind,
        region=region,
        region_path=region.path,
        application=application,
        as_of=day,
        overrides=cleaned,
        created_by_id=scope.user_id or None,
        phase="排队等待核对",
    )
    audit_log_create(
        scope=scope,
        action=AuditAction.CREATE,
        subject_type="verification_run",
        subject_id=run.pk,
        region_code=region.code,
        household_id=application.household_id if application else None,
        after=snapshot(run, ["kind", "region", "application", "as_of", "overrides"]),
    )
    return run


def _has_households(kind: str, region: Region) -> bool:
    from doudi.cases.choices import LIVE_RECIPIENT_STATUSES
    from doudi.cases.models import Recipient
    from doudi.registry.models import Household

    inside = {"region_path__startswith": region.path}
    if kind == RunKind.REGION:
        return Household.objects.filter(region__path__startswith=region.path, status="active").exists()
    if Recipient.objects.filter(status__in=LIVE_RECIPIENT_STATUSES, **inside).exists():
        return True
    return (
        kind == RunKind.CASELOAD and Application.objects.filter(status=ApplicationStatus.IN_PROGRESS, **inside).exists()
    )


def run_claim(*, run_id: int, worker: str) -> bool:
    """Take a queued run (conditional update: of two workers one wins)."""
    now = timezone.now()
    claimed = VerificationRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=now, heartbeat_at=now, progress=1, phase="开始核对", worker=worker[:100]
    )
    return claimed == 1


def run_claim_next(*, worker: str) -> VerificationRun | None:
    """The oldest queued run, claimed for this worker. On PostgreSQL concurrent workers skip each other's rows
    (SELECT … FOR UPDATE SKIP LOCKED); elsewhere the conditional update decides."""
    with transaction.atomic():
        run = (
            VerificationRun.objects.select_for_update(skip_locked=True)
            .filter(status=RunStatus.QUEUED)
            .order_by("created_at", "pk")
            .first()
        )
        if run is None or not run_claim(run_id=run.pk, worker=worker):
            return None
    run.refresh_from_db()
    return run


@transaction.atomic
def run_fail(*, run_id: int, code: str, message: str, stale_before: dt.datetime | None = None) -> bool:
    """Mark a queued or running run failed (its write-back never committed, so it has no hits). A run that has
    already ended is left as it is (the first reason stays). With `stale_before`, only a running run whose last
    heartbeat is older than that (the worker may have reported since it was found stale). Returns whether the run
    was marked."""
    run = VerificationRun.objects.select_for_update().get(pk=run_id)
    if run.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
        return False
    if stale_before is not None and (run.status != RunStatus.RUNNING or _last_sign_of_life(run) >= stale_before):
        return False
    run.status = RunStatus.FAILED
    run.error_code = code[:64]
    run.error = message[:4000]
    run.finished_at = timezone.now()
    run.phase = "核对失败"
    run.save(update_fields=["status", "error_code", "error", "finished_at", "phase"])
    audit_log_create(
        scope=_run_scope(run),
        action=AuditAction.UPDATE,
        subject_type="verification_run",
        subject_id=run.pk,
        region_code=run.region_id,
        after={"status": run.status, "error_code": run.error_code},
    )
    return True


# --- runs abandoned by a killed worker ---------------------------------------------------------------------
DEFAULT_STALE_MINUTES = 60


def stale_timeout() -> dt.timedelta:
    """How long a running run may go without a heartbeat before it is taken as abandoned:
    settings.DOUDI_VERIFICATION_STALE_MINUTES (or the environment variable of that name), default 60 minutes."""
    import os

    configured = getattr(settings, "DOUDI_VERIFICATION_STALE_MINUTES", None)
    if configured is None:
        configured = os.environ.get("DOUDI_VERIFICATION_STALE_MINUTES") or DEFAULT_STALE_MINUTES
    minutes = float(configured)
    if minutes <= 0:
        raise ValueError("DOUDI_VERIFICATION_STALE_MINUTES must be positive")
    return dt.timedelta(minutes=minutes)


def _last_sign_of_life(run: VerificationRun) -> dt.datetime:
    return run.heartbeat_at or run.started_at or run.created_at


def run_recover_stale(*, timeout: dt.timedelta | None = None, now: dt.datetime | None = None) -> list[int]:
    """Mark failed (`worker_lost`) every running run whose heartbeat is older than `timeout` (default
    `stale_timeout()`): its worker was killed (or the web process, for an application run executed inline), so it
    would otherwise stay `running` for ever and block a new run for its case. Each run is re-checked under a row
    lock, so a worker that reported in the meantime keeps its run. Returns the ids marked."""
    limit = timeout if timeout is not None else stale_timeout()
    cutoff = (now or timezone.now()) - limit
    candidates = VerificationRun.objects.filter(status=RunStatus.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff)
        | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
        | Q(heartbeat_at__isnull=True, started_at__isnull=True, created_at__lt=cutoff)
    )
    marked: list[int] = []
    for run in candidates.order_by("pk").only("pk", "heartbeat_at", "started_at", "worker", "phase", "progress"):
        last = timezone.localtime(_last_sign_of_life(run)).strftime("%Y-%m-%d %H:%M")
        message = (
            f"核对作业程序（{run.worker or '未知'}）自 {last} 起超过{_minutes(limit)}没有报告进度"
            f"（停在“{run.phase or '—'}”，{run.progress}%），判定已中断（程序被终止或服务器重启）；"
            "本批次没有写入任何结果，请重新发起核对"
        )
        if run_fail(run_id=run.pk, code="worker_lost", message=message, stale_before=cutoff):
            marked.append(run.pk)
    return marked


def _minutes(delta: dt.timedelta) -> str:
    minutes = delta.total_seconds() / 60
    return f"{minutes:g}分钟"


def _run_scope(run: VerificationRun) -> Scope:
    """The scope a run acts in: its creator, limited to the run's region."""
    user = run.created_by
    return Scope(
        user_id=user.pk if user else 0,
        username=user.username if user else "system",
        role=user.role if user else Role.ADMIN,
        region_code=run.region_id,
        region_path=run.region_path,
    )


def run_start_inline(*, scope: Scope, application_id: int, today: dt.date | None = None) -> VerificationRun:
    """An application's run, executed in the request (one household: a second or two)."""
    from doudi.verification.jobs import run_execute

    run = run_create(scope=scope, kind=RunKind.APPLICATION, application_id=application_id, today=today)
    if run_claim(run_id=run.pk, worker="inline"):
        run_execute(run_id=run.pk)
    run.refresh_from_db()
    return run


# --- the applicant is told, disputes, the township's outcome ----------------------------------------------
@transaction.atomic
def notice_record(
    *,
    scope: Scope,
    run_id: int,
    household_id: int,
    notified_on: dt.date | str,
    method: str,
    note: str = "",
    today: dt.date | None = None,
) -> Notice:
    """Record that the household was told the run's result (2012 art. 20: in writing, with the reasons)."""
    require_notice_role(scope)
    row = selectors.run_household_get(scope=scope, run_id=run_id, household_id=household_id)
    day = _date(notified_on, "notified_on", "告知日期", not_after=_today(today))
    if day < row.run.as_of:
        raise ApplicationError("invalid_date", "告知日期不能早于核对基准日", "notified_on")
    if method not in NoticeMethod.values:
        raise ApplicationError("invalid", "请选择告知方式", "method")
    notice = Notice.objects.create(
        run_id=run_id,
        household_id=household_id,
        application_id=row.application_id,
        region_path=row.region_path,
        notified_on=day,
        method=method,
        note=_text(note, "note", "说明", required=False, max_length=500),
        recorded_by_id=scope.user_id or None,
    )
    audit_log_create(
        scope=scope,
        action=AuditAction.CREATE,
        subject_type="verification_notice",
        subject_id=notice.pk,
        region_code=row.region_id,
        household_id=household_id,
        after=snapshot(notice, ["run", "notified_on", "method"]),
    )
    return notice


@dataclass(frozen=True)
class Upload:
    fileobj: Any
    filename: str


def _check_evidence(upload: Upload, staging: Path, index: int) -> tuple[str, str, str, int, str, Path]:
    """Validate one evidence file (PDF or image, by extension and content) into `staging`."""
    name = safe_file_name(upload.filename)
    ext = Path(name).suffix.lower()
    if ext not in EVIDENCE_TYPES:
        raise ApplicationError("unsupported_format", f"证据文件“{name}”：只接受PDF或图片（JPG、PNG）", "files")
    target = staging / f"{index}{ext}"
    size, sha256 = _copy_upload(upload.fileobj, target, evidence_max_bytes(), "files")
    content_type, magics = EVIDENCE_TYPES[ext]
    with target.open("rb") as fh:
        head = fh.read(16)
    if size == 0 or not any(head.startswith(m) for m in magics):
        raise ApplicationError("unsupported_format", f"证据文件“{name}”的内容不是有效的PDF或图片", "files")
    return name, ext, content_type, size, sha256, target


def dispute_record(
    *,
    scope: Scope,
    hit_id: int,
    received_on: dt.date | str,
    statement: str,
    files: Sequence[Upload] = (),
    today: dt.date | None = None,
) -> Dispute:
    """The applicant disputes a hit, with evidence (images or PDF; 2012 art. 20, 2021 art. 18)."""
    require_dispute_role(scope)
    if len(files) > MAX_EVIDENCE_FILES:
        raise ApplicationError("too_many_files", f"每次最多上传{MAX_EVIDENCE_FILES}个证据文件", "files")
    staging = Path(tempfile.mkdtemp(prefix="evidence-", dir=_ensure(var_dir() / "verification" / "incoming")))
    moved: list[Path] = []
    try:
        checked = [_check_evidence(u, staging, i) for i, u in enumerate(files)]
        with transaction.atomic():
            hit = selectors.hit_get(scope=scope, hit_id=hit_id)
            day = _date(received_on, "received_on", "提出日期", not_after=_today(today))
            dispute = Dispute.objects.create(
                hit=hit,
                region_path=hit.region_path,
                received_on=day,
                statement=_text(statement, "statement", "异议理由"),
                recorded_by_id=scope.user_id or None,
            )
            folder = _ensure(var_dir() / "verification" / "evidence" / str(dispute.pk))
            for name, ext, content_type, size, sha256, path in checked:
                target = folder / f"{sha256}{ext}"
                shutil.move(str(path), target)
                moved.append(target)
                Evidence.objects.create(
                    dispute=dispute,
                    file_name=name,
                    stored_path=str(target.relative_to(var_dir())),
                    content_type=content_type,
                    size=size,
                    sha256=sha256,
                    uploaded_by_id=scope.user_id or None,
                )
            audit_log_create(
                scope=scope,
                action=AuditAction.CREATE,
                subject_type="verification_dispute",
                subject_id=dispute.pk,
                region_code=hit.region_id,
                household_id=hit.household_id,
                after={"hit": hit.pk, "received_on": day.isoformat(), "files": [c[4] for c in checked]},
            )
    except BaseException:
        for path in moved:
            path.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dispute


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


@transaction.atomic
def outcome_record(
    *,
    scope: Scope,
    hit_id: int,
    version: int,
    outcome: str,
    reason: str,
    outcome_on: dt.date | str | None = None,
    today: dt.date | None = None,
) -> Hit:
    """The township's finding on one hit: confirmed, explained (not an issue) or the data corrected; with reasons."""
    require_outcome_role(scope)
    on = _today(today)
    hit = selectors.hit_get(scope=scope, hit_id=hit_id)
    if outcome not in Outcome.values:
        raise ApplicationError("invalid", "请选择核实结论", "outcome")
    reason = _text(reason, "reason", "核实情况")
    day = _date(outcome_on, "outcome_on", "核实日期", not_after=on) if outcome_on else on
    if day < hit_run_as_of(hit):
        raise ApplicationError("invalid_date", "核实日期不能早于核对基准日", "outcome_on")
    if hit.application_id is not None:
        step = CaseStep.objects.filter(application_id=hit.application_id, code="verification").first()
        if step is not None and step.status != StepStatus.PENDING and step.payload.get("run_id") == hit.run_id:
            raise ApplicationError(
                "result_recorded", "信息核对环节已据此结果办结，不能再修改核实结论", "outcome", status=409
            )
    before = snapshot(hit, ["outcome", "outcome_reason", "outcome_on"])
    claimed = Hit.objects.filter(pk=hit.pk, version=version).update(
        outcome=outcome,
        outcome_reason=reason,
        outcome_on=day,
        outcome_by_id=scope.user_id or None,
        outcome_at=timezone.now(),
        version=F("version") + 1,
    )
    if claimed != 1:
        raise StaleEdit("该核对结果已被他人修改，请刷新后重新录入；您的修改未保存。")
    hit.refresh_from_db()
    audit_log_create(
        scope=scope,
        action=AuditAction.UPDATE,
        subject_type="verification_hit",
        subject_id=hit.pk,
        region_code=hit.region_id,
        household_id=hit.household_id,
        before=before,
        after=snapshot(hit, ["outcome", "outcome_reason", "outcome_on"]),
    )
    return hit


def hit_run_as_of(hit: Hit) -> dt.date:
    return VerificationRun.objects.values_list("as_of", flat=True).get(pk=hit.run_id)


@transaction.atomic
def verification_step_complete(
    *,
    scope: Scope,
    application_id: int,
    version: int,
    comment: str = "",
    today: dt.date | None = None,
) -> Application:
    """Complete the case's 信息核对 step from its latest completed run: `fail` when the township confirmed any hit,
    `pass` otherwise; every hit needs an outcome and, when there are hits, the applicant must have been told.
    The workflow itself (role, order, authorisation, version) is the cases service's."""
    app = case_selectors.application_get(scope=scope, application_id=application_id)
    section = selectors.latest_application_result(scope=scope, application=app)
    if section is None:
        raise ApplicationError("no_run", "尚未完成信息核对，请先发起核对", "run")
    run, hits, notices = section
    missing = [h for h in hits if not h.outcome]
    if missing:
        raise ApplicationError("outcomes_missing", f"还有{len(missing)}条核对命中未录入核实结论", "outcome")
    if hits and not notices:
        raise ApplicationError("notice_missing", "请先登记已将核对结果告知申请人", "notice")
    confirmed = sum(1 for h in hits if h.outcome == Outcome.CONFIRMED)
    result = "fail" if confirmed else "pass"
    payload = {
        "result": result,
        "run_id": run.pk,
        "as_of": run.as_of.isoformat(),
        "hits": len(hits),
        "confirmed": confirmed,
    }
    updated = case_services.step_complete(
        scope=scope,
        application_id=app.pk,
        version=version,
        step_code="verification",
        comment=comment,
        payload=payload,
        today=today,
    )
    audit_log_create(
        scope=scope,
        action=AuditAction.UPDATE,
        subject_type="verification_run",
        subject_id=run.pk,
        region_code=app.region_id,
        household_id=app.household_id,
        after={"application": app.pk, "step_result": result},
        note="信息核对环节按核对结果办结",
    )
    return updated
