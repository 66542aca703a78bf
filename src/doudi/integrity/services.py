"""Writes of the integrity app: staff-list imports, check runs, and the follow-up of findings (docs/integrity.md).

Every write is atomic, checks the caller's role and region, and records one audit entry in its transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from doudi.core.choices import PERSONAL_DATA_ROLES, AuditAction, Role
from doudi.core.errors import ApplicationError, NotFound, PermissionDenied, StaleEdit
from doudi.core.models import Region, User
from doudi.core.scope import Scope
from doudi.core.selectors import address_code_checker
from doudi.core.services import audit_log_create, snapshot
from doudi.integrity import imports
from doudi.integrity.checks import CHECKS, Context
from doudi.integrity.choices import OPEN_STATUSES, FindingStatus
from doudi.integrity.models import Finding, IntegrityRun, StaffMember
from doudi.registry import spreadsheet

RUN_ROLES = frozenset({Role.COUNTY_APPROVER, Role.COUNTY_VERIFIER, Role.ADMIN})
MANAGE_ROLES = frozenset({Role.COUNTY_APPROVER, Role.ADMIN})
MAX_RESOLUTION = 2000


def _require(scope: Scope, roles: Iterable[str], action: str) -> None:
    if scope.role not in roles:
        raise PermissionDenied(f"您的角色不能{action}")


def _today(today: dt.date | None) -> dt.date:
    return today or timezone.localdate()


# ---- staff and cadre lists --------------------------------------------------------------------------------


class StaffImportInvalid(ApplicationError):
    """The file has errors: nothing was written. `row` and `field` name the first; `extra["errors"]` lists all."""

    def __init__(self, parsed: imports.Parsed) -> None:
        first = parsed.errors[0]
        where = f"第{first.row}行" if first.row else "文件"
        super().__init__(
            "invalid_rows",
            f"导入失败：发现{parsed.error_count}处错误，未写入任何数据。{where}【{first.column}】：{first.message}",
            first.column,
            row=first.row,
            extra={"error_count": parsed.error_count, "errors": [e.as_dict() for e in parsed.errors]},
        )
        self.errors = parsed.errors


@dataclass(frozen=True)
class StaffImportResult:
    filename: str
    sha256: str
    rows: int
    created: int
    updated: int
    unchanged: int
    errors: list[imports.RowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.filename,
            "sha256": self.sha256,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }


def staff_import_file(*, scope: Scope, path: Path, today: dt.date | None = None) -> StaffImportResult:
    """Import a staff or cadre list from a local CSV or .xlsx file (the command line)."""
    _require(scope, MANAGE_ROLES, "导入经办人员和村干部名单")
    source = spreadsheet.source_from_path(Path(path))
    try:
        return _staff_import(scope, source, _today(today))
    finally:
        source.stream.close()


def staff_import_upload(
    *, scope: Scope, fileobj: BinaryIO | Any, filename: str, today: dt.date | None = None
) -> StaffImportResult:
    """Import an uploaded staff or cadre list."""
    _require(scope, MANAGE_ROLES, "导入经办人员和村干部名单")
    return _staff_import(scope, spreadsheet.source_from_upload(fileobj, filename), _today(today))


@transaction.atomic
def _staff_import(scope: Scope, source: spreadsheet.Source, today: dt.date) -> StaffImportResult:
    """All rows or none: the whole file is validated first; a row whose term is already stored updates its name,
    position and end date (rows identical to what is stored count as unchanged)."""
    parsed = imports.parse(source, scope=scope, address_known=address_code_checker(), today=today)
    if parsed.errors:
        raise StaffImportInvalid(parsed)
    now = timezone.now()
    ids = sorted({row.id_number for row in parsed.rows})
    existing: dict[tuple[str, str, str, dt.date], StaffMember] = {}
    for start in range(0, len(ids), 500):
        for stored in StaffMember.objects.select_for_update().filter(id_number__in=ids[start : start + 500]):
            existing[(stored.id_number, stored.kind, stored.region_id, stored.from_date)] = stored
    created: list[StaffMember] = []
    changed: list[StaffMember] = []
    unchanged = 0
    for row in parsed.rows:
        member = existing.get(row.key)
        if member is None:
            created.append(
                StaffMember(
                    name=row.name,
                    id_number=row.id_number,
                    kind=row.kind,
                    position=row.position,
                    region=row.region,
                    region_path=row.region.path,
                    from_date=row.from_date,
                    to_date=row.to_date,
                    source_file=parsed.filename[:200],
                    source_sha256=parsed.sha256,
                    imported_by_id=scope.user_id or None,
                    imported_at=now,
                )
            )
        elif (member.name, member.position, member.to_date) != (row.name, row.position, row.to_date):
            member.name, member.position, member.to_date = row.name, row.position, row.to_date
            member.source_file, member.source_sha256, member.imported_at = parsed.filename[:200], parsed.sha256, now
            changed.append(member)
        else:
            unchanged += 1
    StaffMember.objects.bulk_create(created, batch_size=1000)
    StaffMember.objects.bulk_update(
        changed, ["name", "position", "to_date", "source_file", "source_sha256", "imported_at"], batch_size=1000
    )
    result = StaffImportResult(
        filename=parsed.filename,
        sha256=parsed.sha256,
        rows=len(parsed.rows),
        created=len(created),
        updated=len(changed),
        unchanged=unchanged,
    )
    audit_log_create(
        scope=scope,
        action=AuditAction.IMPORT,
        subject_type="staff_list",
        subject_id=parsed.sha256[:16],
        region_code=scope.region_code,
        after=result.as_dict(),
        note="导入经办人员和村干部名单",
    )
    return result


# ---- runs -------------------------------------------------------------------------------------------------


@transaction.atomic
def integrity_run(*, scope: Scope, checks: Iterable[str] | None = None, today: dt.date | None = None) -> IntegrityRun:
    """Run the checks (all, or the named ones) over the caller's region subtree in one transaction; each check is
    one set-based statement. Rerunning creates no duplicates. Returns the run with its counts of new findings."""
    _require(scope, RUN_ROLES, "运行比对核查")
    codes = [str(code) for code in dict.fromkeys(checks or CHECKS)]
    for code in codes:
        if code not in CHECKS:
            raise ApplicationError("unknown_check", f"未知的核查项目：{code}（可选：{'、'.join(CHECKS)}）", "checks")
    on = _today(today)
    region = Region.objects.filter(code=scope.region_code).first()
    if region is None:
        raise NotFound("核查范围的区划不存在", "region")
    started = timezone.now()
    run = IntegrityRun.objects.create(
        region=region,
        region_path=scope.region_path,
        as_of=on,
        checks=codes,
        started_at=started,
        actor_id=scope.user_id or None,
    )
    context = Context(run_id=run.pk, region_path=scope.region_path, today=on, now=started)
    run.counts = {code: CHECKS[code](context) for code in codes}
    run.finished_at = timezone.now()
    run.save(update_fields=["counts", "finished_at"])
    audit_log_create(
        scope=scope,
        action=AuditAction.CREATE,
        subject_type="integrity_run",
        subject_id=run.pk,
        region_code=region.code,
        after={"as_of": on, "checks": codes, "counts": run.counts},
        note=f"比对核查：新发现问题{sum(run.counts.values())}条",
    )
    return run


# ---- findings ---------------------------------------------------------------------------------------------


def _finding_for_write(scope: Scope, finding_id: int, version: int) -> Finding:
    finding = (
        Finding.objects.select_for_update().filter(pk=finding_id, region_path__startswith=scope.region_path).first()
    )
    if finding is None:
        raise NotFound("问题线索不存在或不在您的管辖范围内", "finding_id")
    if finding.version != version:
        raise StaleEdit()
    return finding


def _save(finding: Finding, fields: list[str]) -> None:
    updated = Finding.objects.filter(pk=finding.pk, version=finding.version).update(
        **{name: getattr(finding, name) for name in fields}, version=F("version") + 1
    )
    if updated != 1:
        raise StaleEdit()
    finding.version += 1


def _audit(scope: Scope, finding: Finding, before: dict[str, Any], note: str) -> None:
    fields = ["status", "assignee_id", "resolution", "resolved_by_id", "resolved_at"]
    audit_log_create(
        scope=scope,
        action=AuditAction.UPDATE,
        subject_type="finding",
        subject_id=finding.pk,
        region_code=finding.region_id,
        household_id=finding.household_id,
        before=before,
        after=snapshot(finding, [f.removesuffix("_id") for f in fields]),
        note=note,
    )


@transaction.atomic
def finding_assign(*, scope: Scope, finding_id: int, version: int, assignee_id: int) -> Finding:
    """Hand an open (or already assigned) finding to a staff user who can see its region."""
    _require(scope, MANAGE_ROLES, "指派问题线索")
    finding = _finding_for_write(scope, finding_id, version)
    if finding.status not in OPEN_STATUSES:
        raise ApplicationError("finding_closed", "该问题线索已处理完毕，不能再指派", "finding_id", status=409)
    assignee = User.objects.select_related("region").filter(pk=assignee_id, is_active=True).first()
    if (
        assignee is None
        or assignee.region is None
        or not assignee.region.path.startswith(scope.region_path)
        or not finding.region_path.startswith(assignee.region.path)
    ):
        raise ApplicationError("invalid_assignee", "承办人须为管辖该村（社区）的在职工作人员", "assignee_id")
    if assignee.role not in PERSONAL_DATA_ROLES:
        raise ApplicationError("invalid_assignee", "该用户的角色不能查看个人记录，不能承办问题线索", "assignee_id")
    before = snapshot(finding, ["status", "assignee"])
    finding.status = FindingStatus.ASSIGNED
    finding.assignee_id = assignee.pk
    finding.assigned_at = timezone.now()
    _save(finding, ["status", "assignee_id", "assigned_at"])
    _audit(scope, finding, before, "指派问题线索")
    return finding


def _close(scope: Scope, finding_id: int, version: int, resolution: str, status: str, note: str) -> Finding:
    finding = _finding_for_write(scope, finding_id, version)
    may = scope.role in MANAGE_ROLES or (status == FindingStatus.RESOLVED and finding.assignee_id == scope.user_id)
    if not may:
        raise PermissionDenied(
            "只有县级审批人、系统管理员或该线索的承办人可以办结问题线索；核实无问题须由县级审批人认定"
        )
    if finding.status not in OPEN_STATUSES:
        raise ApplicationError("finding_closed", "该问题线索已处理完毕", "finding_id", status=409)
    text = (resolution or "").strip()
    if not text:
        raise ApplicationError("reasons_required", "请填写处理情况或核实结论", "resolution")
    if len(text) > MAX_RESOLUTION:
        raise ApplicationError("too_long", f"处理情况不能超过{MAX_RESOLUTION}字", "resolution")
    before = snapshot(finding, ["status", "resolution"])
    finding.status = status
    finding.resolution = text
    finding.resolved_by_id = scope.user_id or None
    finding.resolved_at = timezone.now()
    _save(finding, ["status", "resolution", "resolved_by_id", "resolved_at"])
    _audit(scope, finding, before, note)
    return finding


@transaction.atomic
def finding_resolve(*, scope: Scope, finding_id: int, version: int, resolution: str) -> Finding:
    """Record what was done about a finding (benefit stopped, kinship registered, records merged …)."""
    return _close(scope, finding_id, version, resolution, FindingStatus.RESOLVED, "问题线索已整改")


@transaction.atomic
def finding_dismiss(*, scope: Scope, finding_id: int, version: int, resolution: str) -> Finding:
    """Close a finding that proved unfounded, with the reasons; the same check will not raise it again for the
    same subject (county approvers and administrators only)."""
    return _close(scope, finding_id, version, resolution, FindingStatus.DISMISSED, "问题线索经核实无问题")


def operator_scope(*, region_code: str | None = None) -> Scope:
    """The command-line operator's scope: the whole province, or one county-level region (`--county`)."""
    from doudi.core.scope import system_scope

    scope = system_scope()
    if region_code is None:
        return scope
    region = Region.objects.filter(code=region_code, path__startswith=scope.region_path).first()
    if region is None or region.level != "county":
        raise ApplicationError("invalid_county", f"{region_code}不是已知的县级区划代码", "county")
    return Scope(user_id=0, username=scope.username, role=scope.role, region_code=region.code, region_path=region.path)
