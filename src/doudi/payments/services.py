"""Payroll writes: bank accounts, set-based generation, approval, differences, bank files, return files, re-issue.

Generation is one INSERT … SELECT over the county's eligible recipients (never a per-recipient loop), guarded by
UNIQUE(recipient, month, program) with ON CONFLICT DO NOTHING, inside one transaction: a run killed halfway
leaves nothing behind and the rerun does the whole job. See docs/payments.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from doudi.cases.choices import PERSONAL_PROGRAMS, Program, RecipientStatus
from doudi.cases.models import Recipient
from doudi.core.choices import AuditAction, Role
from doudi.core.errors import ApplicationError, NotFound, PermissionDenied, StaleEdit
from doudi.core.models import Region
from doudi.core.scope import Scope
from doudi.core.services import audit_log_create
from doudi.payments import bankfiles
from doudi.payments.choices import (
    DifferenceKind,
    DifferenceStatus,
    FailureReason,
    LineStatus,
    PayrollStatus,
    ReturnResult,
)
from doudi.payments.models import BankAccount, Payroll, PayrollDifference, PayrollLine
from doudi.registry import spreadsheet
from doudi.registry.models import Household, Person

PAYABLE_STATUSES = (RecipientStatus.ACTIVE, RecipientStatus.GRADUAL_EXIT)
# Roles that may run payrolls and exchange files with banks; approval is the county approver's alone.
PAYROLL_ROLES = frozenset({Role.COUNTY_APPROVER, Role.ADMIN})
ACCOUNT_RE = re.compile(r"^\d{6,32}$")
BANK_CODE_RE = re.compile(r"^[0-9A-Za-z]{1,12}$")
CHUNK = 5000
AWAITING = (LineStatus.PENDING, LineStatus.REISSUED)


# ---- permissions ------------------------------------------------------------------------------------------


def _require_payroll_role(scope: Scope) -> None:
    if scope.role not in PAYROLL_ROLES:
        raise PermissionDenied("您的角色不能办理资金发放")


def _require_covers(scope: Scope, region: Region) -> None:
    if not scope.covers(region):
        raise NotFound("发放名册不存在或不在您的管辖范围内", "payroll_id")


def _locked_payroll(scope: Scope, payroll_id: int, version: int | None = None) -> Payroll:
    payroll = Payroll.objects.select_for_update().select_related("region").filter(pk=payroll_id).first()
    if payroll is None:
        raise NotFound("发放名册不存在或不在您的管辖范围内", "payroll_id")
    _require_covers(scope, payroll.region)
    if version is not None and payroll.version != version:
        raise StaleEdit()
    return payroll


def _month(value: dt.date | str) -> dt.date:
    if isinstance(value, str):
        match = re.fullmatch(r"(\d{4})-(\d{2})", value.strip())
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise ApplicationError("invalid_month", "月份格式应为YYYY-MM，例如2026-01", "month")
        return dt.date(int(match.group(1)), int(match.group(2)), 1)
    return value.replace(day=1)


# ---- bank accounts ----------------------------------------------------------------------------------------


def bank_account_set(
    *,
    scope: Scope,
    bank_code: str,
    bank_name: str,
    account_number: str,
    holder_name: str,
    household_id: int | None = None,
    person_id: int | None = None,
) -> BankAccount:
    """Register (or replace) the active account of a household or a person; the old one is deactivated."""
    scope.require_registry_write()
    if (household_id is None) == (person_id is None):
        raise ApplicationError("invalid_owner", "发放账户须登记在家庭或个人其中之一名下", "household_id")
    account_number = re.sub(r"[\s-]", "", account_number or "")
    if not ACCOUNT_RE.fullmatch(account_number):
        raise ApplicationError("invalid_account", "账号应为6至32位数字", "account_number")
    if not BANK_CODE_RE.fullmatch(bank_code or ""):
        raise ApplicationError("invalid_bank_code", "银行代码应为1至12位字母或数字", "bank_code")
    if not (bank_name or "").strip():
        raise ApplicationError("required", "请填写开户银行", "bank_name")
    if not (holder_name or "").strip():
        raise ApplicationError("required", "请填写户名", "holder_name")
    with transaction.atomic():
        if household_id is not None:
            household = Household.objects.select_related("region").filter(pk=household_id).first()
            if household is None or not scope.covers(household.region):
                raise NotFound("家庭不存在或不在您的管辖范围内", "household_id")
            old = BankAccount.objects.select_for_update().filter(household=household, active=True)
            hh_id = household.pk
        else:
            assert person_id is not None
            person = Person.objects.filter(pk=person_id).first()
            membership_region = (
                Household.objects.filter(memberships__person_id=person_id, memberships__end_date__isnull=True)
                .select_related("region")
                .first()
            )
            if person is None or membership_region is None or not scope.covers(membership_region.region):
                raise NotFound("人员不存在或不在您的管辖范围内", "person_id")
            old = BankAccount.objects.select_for_update().filter(person=person, active=True)
            hh_id = membership_region.pk
        before = [{"id": a.pk, "account": a.masked} for a in old]
        old.update(active=False)
        account = BankAccount.objects.create(
            household_id=household_id,
            person_id=person_id,
            bank_code=bank_code,
            bank_name=bank_name.strip(),
            account_number=account_number,
            holder_name=holder_name.strip(),
            created_by_id=scope.user_id or None,
        )
        audit_log_create(
            scope=scope,
            action=AuditAction.CREATE,
            subject_type="bank_account",
            subject_id=account.pk,
            household_id=hh_id,
            before={"accounts": before},
            after={"bank_code": bank_code, "account": account.masked},
        )
    return account


# ---- generation -------------------------------------------------------------------------------------------


def _tables() -> dict[str, str]:
    return {
        "r": Recipient._meta.db_table,
        "l": PayrollLine._meta.db_table,
        "b": BankAccount._meta.db_table,
        "d": PayrollDifference._meta.db_table,
    }


# Eligible recipients of one program in one county subtree for one month; parameters: program, path prefix,
# the two payable statuses, month, month.
_ELIGIBLE = """
    r.program = %s AND r.region_path LIKE %s AND r.status IN (%s, %s)
    AND r.start_month <= %s AND (r.end_month IS NULL OR r.end_month >= %s)
"""


def _eligible_params(program: str, path: str, month: dt.date) -> list[Any]:
    return [program, path + "%", *PAYABLE_STATUSES, month, month]


def _fingerprint(program: str, path: str, month: dt.date) -> str:
    """A cheap, order-independent digest of who is eligible and for how much (count and weighted sums)."""
    t = _tables()
    sql = f"""
        SELECT COUNT(*), COALESCE(SUM(c), 0), COALESCE(SUM(id), 0), COALESCE(SUM((id %% 9973) * c), 0)
        FROM (SELECT r.id AS id, CAST(ROUND(r.monthly_amount * 100) AS BIGINT) AS c
              FROM {t["r"]} r WHERE {_ELIGIBLE}) x
    """  # noqa: S608 - table names come from model metadata, values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, _eligible_params(program, path, month))
        row = cursor.fetchone()
    text = f"{program}|{month.isoformat()}|" + "|".join(str(int(v)) for v in row)
    return hashlib.sha256(text.encode()).hexdigest()


def _insert_lines(payroll: Payroll, path: str, only_recipients_of_pending_added: bool = False) -> int:
    """INSERT … SELECT every eligible recipient without a line for this month; returns rows inserted."""
    t = _tables()
    extra = ""
    params: list[Any] = [payroll.pk, payroll.month, payroll.exports + 1]
    params += _eligible_params(payroll.program, path, payroll.month)
    if only_recipients_of_pending_added:
        extra = f" AND r.id IN (SELECT recipient_id FROM {t['d']} WHERE payroll_id = %s AND status = %s AND kind = %s)"  # noqa: S608
        params += [payroll.pk, DifferenceStatus.PENDING, DifferenceKind.ADDED]
    sql = f"""
        INSERT INTO {t["l"]} (payroll_id, recipient_id, household_id, person_id, program, month, amount,
            bank_code, bank_name, account_number, holder_name, status, failure_reason, attempt, batch)
        SELECT %s, r.id, r.household_id, r.person_id, r.program, %s, r.monthly_amount,
            COALESCE(bp.bank_code, bh.bank_code, ''), COALESCE(bp.bank_name, bh.bank_name, ''),
            COALESCE(bp.account_number, bh.account_number, ''), COALESCE(bp.holder_name, bh.holder_name, ''),
            '{LineStatus.PENDING}', '', 1, %s
        FROM {t["r"]} r
        LEFT JOIN {t["b"]} bp ON bp.person_id = r.person_id AND bp.active AND bp.household_id IS NULL
        LEFT JOIN {t["b"]} bh ON bh.household_id = r.household_id AND bh.active AND bh.person_id IS NULL
        WHERE {_ELIGIBLE} {extra}
        ON CONFLICT (recipient_id, month, program) DO NOTHING
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount or 0)


def _after_insert(payroll: Payroll) -> None:
    """Seam for fault-injection tests (a run killed after its INSERT); does nothing in production."""


def _refresh_totals(payroll: Payroll) -> None:
    agg = payroll.lines.exclude(status=LineStatus.CANCELLED).aggregate(n=Count("id"), total=Sum("amount"))
    payroll.line_count = agg["n"] or 0
    payroll.total_amount = agg["total"] or Decimal("0.00")


def _regenerate_draft(payroll: Payroll, path: str) -> None:
    """A draft is not yet approved: bring it in line with the inputs (amounts, leavers, joiners) set-based."""
    t = _tables()
    params = _eligible_params(payroll.program, path, payroll.month)
    with connection.cursor() as cursor:
        cursor.execute(
            # NOT EXISTS (an anti-join), not NOT IN: PostgreSQL re-scans a NOT IN subquery that outgrows work_mem.
            f"DELETE FROM {t['l']} WHERE payroll_id = %s AND NOT EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {t['r']} r WHERE r.id = {t['l']}.recipient_id AND {_ELIGIBLE})",
            [payroll.pk, *params],
        )
        cursor.execute(
            f"UPDATE {t['l']} SET amount = (SELECT r.monthly_amount FROM {t['r']} r "  # noqa: S608
            f"WHERE r.id = {t['l']}.recipient_id) WHERE payroll_id = %s AND amount <> "
            f"(SELECT r.monthly_amount FROM {t['r']} r WHERE r.id = {t['l']}.recipient_id)",
            [payroll.pk],
        )
    _insert_lines(payroll, path)


def _record_differences(payroll: Payroll, path: str) -> int:
    """After approval nothing changes silently: what differs becomes a pending PayrollDifference."""
    t = _tables()
    now = timezone.now()
    PayrollDifference.objects.filter(payroll=payroll, status=DifferenceStatus.PENDING).update(
        status=DifferenceStatus.SUPERSEDED
    )
    elig = _eligible_params(payroll.program, path, payroll.month)
    cols = "payroll_id, recipient_id, kind, old_amount, new_amount, status, created_at"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {t["d"]} ({cols})
            SELECT %s, r.id, %s, NULL, r.monthly_amount, %s, %s FROM {t["r"]} r WHERE {_ELIGIBLE}
            AND NOT EXISTS (SELECT 1 FROM {t["l"]} l WHERE l.recipient_id = r.id AND l.month = %s
                            AND l.program = %s)""",  # noqa: S608
            [payroll.pk, DifferenceKind.ADDED, DifferenceStatus.PENDING, now, *elig, payroll.month, payroll.program],
        )
        added = cursor.rowcount or 0
        cursor.execute(
            f"""INSERT INTO {t["d"]} ({cols})
            SELECT %s, l.recipient_id, %s, l.amount, NULL, %s, %s FROM {t["l"]} l
            WHERE l.payroll_id = %s AND l.status <> %s
            AND NOT EXISTS (SELECT 1 FROM {t["r"]} r WHERE r.id = l.recipient_id AND {_ELIGIBLE})""",  # noqa: S608
            [
                payroll.pk,
                DifferenceKind.REMOVED,
                DifferenceStatus.PENDING,
                now,
                payroll.pk,
                LineStatus.CANCELLED,
                *elig,
            ],
        )
        removed = cursor.rowcount or 0
        cursor.execute(
            f"""INSERT INTO {t["d"]} ({cols})
            SELECT %s, l.recipient_id, %s, l.amount, r.monthly_amount, %s, %s
            FROM {t["l"]} l JOIN {t["r"]} r ON r.id = l.recipient_id
            WHERE l.payroll_id = %s AND l.status <> %s AND l.amount <> r.monthly_amount AND {_ELIGIBLE}""",  # noqa: S608
            [
                payroll.pk,
                DifferenceKind.AMOUNT_CHANGED,
                DifferenceStatus.PENDING,
                now,
                payroll.pk,
                LineStatus.CANCELLED,
                *elig,
            ],
        )
        changed = cursor.rowcount or 0
    return int(added + removed + changed)


def payroll_generate(*, scope: Scope, county_code: str, program: str, month: dt.date | str) -> Payroll:
    """Create or bring up to date the county's payroll for one program and month. Idempotent: the same inputs
    change nothing; changed inputs update a draft, or become pending differences once approved."""
    _require_payroll_role(scope)
    month = _month(month)
    if program not in Program.values:
        raise ApplicationError("invalid_program", "救助项目不存在", "program")
    county = Region.objects.filter(code=county_code).first()
    if county is None or not scope.covers(county):
        raise NotFound("县级区划不存在或不在您的管辖范围内", "county_code")
    if county.level != "county":
        raise ApplicationError("not_a_county", "发放名册按县（市、区）生成，请选择县级区划", "county_code")
    path = county.path
    with transaction.atomic():
        try:
            with transaction.atomic():
                payroll, created = Payroll.objects.get_or_create(
                    region=county, program=program, month=month, defaults={"created_by_id": scope.user_id or None}
                )
        except IntegrityError:  # a concurrent run created it first
            payroll, created = Payroll.objects.get(region=county, program=program, month=month), False
        payroll = Payroll.objects.select_for_update().get(pk=payroll.pk)
        fingerprint = _fingerprint(program, path, month)
        if not created and payroll.fingerprint == fingerprint:
            return payroll
        before = {"lines": payroll.line_count, "total": payroll.total_amount, "status": payroll.status}
        differences = 0
        if payroll.status == PayrollStatus.DRAFT:
            if created:
                _insert_lines(payroll, path)
            else:
                _regenerate_draft(payroll, path)
            _after_insert(payroll)
            _refresh_totals(payroll)
        else:
            differences = _record_differences(payroll, path)
        payroll.fingerprint = fingerprint
        payroll.version += 1
        payroll.save()
        audit_log_create(
            scope=scope,
            action=AuditAction.CREATE if created else AuditAction.UPDATE,
            subject_type="payroll",
            subject_id=payroll.pk,
            region_code=county.code,
            before=None if created else before,
            after={"lines": payroll.line_count, "total": payroll.total_amount, "differences": differences},
            note=f"{program} {month:%Y-%m}",
        )
    return payroll


# ---- approval ---------------------------------------------------------------------------------------------


def _require_approver(scope: Scope) -> None:
    if scope.role != Role.COUNTY_APPROVER:
        raise PermissionDenied("只有县级审批人可以审批发放名册")


def payroll_approve(*, scope: Scope, payroll_id: int, version: int) -> Payroll:
    _require_approver(scope)
    with transaction.atomic():
        payroll = _locked_payroll(scope, payroll_id, version)
        if payroll.status != PayrollStatus.DRAFT:
            raise ApplicationError("not_draft", "该发放名册已审批，不能重复审批", "status", status=409)
        payroll.status = PayrollStatus.APPROVED
        payroll.approved_by_id = scope.user_id
        payroll.approved_at = timezone.now()
        payroll.version += 1
        payroll.save()
        audit_log_create(
            scope=scope,
            action=AuditAction.UPDATE,
            subject_type="payroll",
            subject_id=payroll.pk,
            region_code=payroll.region_id,
            before={"status": PayrollStatus.DRAFT},
            after={"status": payroll.status, "lines": payroll.line_count, "total": payroll.total_amount},
        )
    return payroll


def payroll_differences_approve(*, scope: Scope, payroll_id: int, version: int) -> dict[str, int]:
    """Apply the pending differences: joiners get a line (next bank file), leavers' and changed lines not yet
    sent to the bank are cancelled or corrected; what the bank already has is left alone and marked so."""
    _require_approver(scope)
    now = timezone.now()
    with transaction.atomic():
        payroll = _locked_payroll(scope, payroll_id, version)
        pending = PayrollDifference.objects.filter(payroll=payroll, status=DifferenceStatus.PENDING)
        if not pending.exists():
            raise ApplicationError("no_differences", "该发放名册没有待审批的差异", "payroll_id")
        inserted = _insert_lines(payroll, payroll.region.path, only_recipients_of_pending_added=True)
        untouched = LineStatus.PENDING
        diffs = list(pending.values_list("id", "recipient_id", "kind", "new_amount"))
        lines = {
            line.recipient_id: line
            for line in PayrollLine.objects.filter(payroll=payroll, recipient_id__in=[d[1] for d in diffs])
        }
        applied: list[int] = []
        not_applied: list[int] = []
        to_update: list[PayrollLine] = []
        for diff_id, recipient_id, kind, new_amount in diffs:
            line = lines.get(recipient_id)
            if kind == DifferenceKind.ADDED:
                (applied if line is not None else not_applied).append(diff_id)
                continue
            if line is None or line.batch <= payroll.exports or line.status != untouched:
                not_applied.append(diff_id)
                continue
            if kind == DifferenceKind.REMOVED:
                line.status = LineStatus.CANCELLED
            elif new_amount is not None:
                line.amount = new_amount
            line.updated_at = now
            to_update.append(line)
            applied.append(diff_id)
        PayrollLine.objects.bulk_update(to_update, ["status", "amount", "updated_at"], batch_size=CHUNK)
        decided = {"decided_by_id": scope.user_id, "decided_at": now}
        PayrollDifference.objects.filter(pk__in=applied).update(status=DifferenceStatus.APPLIED, **decided)
        PayrollDifference.objects.filter(pk__in=not_applied).update(status=DifferenceStatus.NOT_APPLIED, **decided)
        _refresh_totals(payroll)
        if payroll.status == PayrollStatus.RECONCILED and inserted:
            payroll.status = PayrollStatus.EXPORTED
        payroll.version += 1
        payroll.save()
        result = {"applied": len(applied), "not_applied": len(not_applied), "lines_added": inserted}
        audit_log_create(
            scope=scope,
            action=AuditAction.UPDATE,
            subject_type="payroll_differences",
            subject_id=payroll.pk,
            region_code=payroll.region_id,
            after=result,
        )
    return result


# ---- bank files -------------------------------------------------------------------------------------------

BANK_HEADER = ("明细编号", "银行代码", "开户银行", "账号", "户名", "金额", "发放月份", "救助项目")
TOTAL_LABEL = "合计"


@dataclass
class BankFile:
    bank_code: str
    bank_name: str
    count: int
    total: Decimal
    paths: list[Path] = field(default_factory=list)


@dataclass
class ExportResult:
    batch: int
    files: list[BankFile]
    missing_account: int


def _bank_rows(lines: Any, bank: BankFile, program_label: str) -> Iterator[Sequence[Any]]:
    count = 0
    total = Decimal("0.00")
    for pk, code, name, account, holder, amount, month in lines.iterator(chunk_size=CHUNK):
        count += 1
        total += amount
        yield (pk, code, name, account, holder, amount, f"{month:%Y-%m}", program_label)
    bank.count, bank.total = count, total
    yield (TOTAL_LABEL, "", "", count, "", total, "", "")


def _fill_missing_accounts(lines: Any, *, personal: bool) -> None:
    """Lines generated before their account was registered take the account now (set-based, few rows)."""
    owners = [("person_id", "household__isnull")] if personal else []
    owners.append(("household_id", "person__isnull"))
    for owner, other_null in owners:
        account = BankAccount.objects.filter(**{owner: OuterRef(owner), "active": True, other_null: True})
        lines.filter(Exists(account)).update(
            **{f: Subquery(account.values(f)[:1]) for f in ("bank_code", "bank_name", "account_number", "holder_name")}
        )


def payroll_bank_files_export(
    *, scope: Scope, payroll_id: int, out_dir: Path, formats: Sequence[str] = ("csv", "xlsx")
) -> ExportResult:
    """Write one file per bank (and format) of the approved lines not yet sent, each with a totals row, then
    mark those lines as in a file. Re-issued and newly approved lines go into the next batch."""
    _require_payroll_role(scope)
    scope.require_bulk()
    out_dir.mkdir(parents=True, exist_ok=True)
    with transaction.atomic():
        payroll = _locked_payroll(scope, payroll_id)
        if payroll.status == PayrollStatus.DRAFT:
            raise ApplicationError("not_approved", "发放名册尚未审批，不能生成银行文件", "status", status=409)
        batch = payroll.exports + 1
        ready = PayrollLine.objects.filter(payroll=payroll, status__in=AWAITING, batch=batch)
        _fill_missing_accounts(ready.filter(account_number=""), personal=payroll.program in PERSONAL_PROGRAMS)
        # Lines still without an account wait for the next batch rather than counting as sent.
        missing = ready.filter(account_number="").update(batch=batch + 1, updated_at=timezone.now())
        ready = ready.exclude(account_number="")
        banks = list(ready.values_list("bank_code", "bank_name").order_by("bank_code").distinct())
        if not banks:
            raise ApplicationError("nothing_to_export", "没有需要生成银行文件的发放明细", "payroll_id")
        label = str(Program(payroll.program).label)
        files: list[BankFile] = []
        seen: set[str] = set()
        for code, name in banks:
            if code in seen:  # one bank code, several spellings of its name: one file
                continue
            seen.add(code)
            bank = BankFile(bank_code=code, bank_name=name, count=0, total=Decimal("0.00"))
            rows = (
                ready.filter(bank_code=code)
                .order_by("id")
                .values_list("id", "bank_code", "bank_name", "account_number", "holder_name", "amount", "month")
            )
            stem = f"{payroll.region_id[:6]}-{payroll.program}-{payroll.month:%Y%m}-{code}-{batch}"
            for fmt in formats:
                target = out_dir / f"{stem}.{fmt}"
                with target.open("wb") as out:
                    if fmt == "csv":
                        bankfiles.write_csv(out, BANK_HEADER, _bank_rows(rows, bank, label))
                    elif fmt == "xlsx":
                        bankfiles.write_xlsx(
                            out, BANK_HEADER, _bank_rows(rows, bank, label), sheet_title="代发明细", text_columns=(3,)
                        )
                    else:
                        raise ApplicationError("invalid_format", "文件格式只能是csv或xlsx", "formats")
                bank.paths.append(target)
            files.append(bank)
        payroll.exports = batch
        if payroll.status in (PayrollStatus.APPROVED, PayrollStatus.RECONCILED):
            payroll.status = PayrollStatus.EXPORTED
        payroll.version += 1
        payroll.save()
        audit_log_create(
            scope=scope,
            action=AuditAction.EXPORT,
            subject_type="payroll_bank_files",
            subject_id=payroll.pk,
            region_code=payroll.region_id,
            after={
                "batch": batch,
                "banks": {f.bank_code: {"count": f.count, "total": f.total} for f in files},
                "missing_account": missing,
            },
        )
    return ExportResult(batch=batch, files=files, missing_account=missing)


def bank_archive_dir(payroll: Payroll) -> Path:
    """Where the bank files of a payroll are kept once written: every batch sent to a bank stays retrievable
    (a download lost in the browser must not lose a batch). `DOUDI_VAR_DIR/bankfiles/<id>-<created>/`: the
    creation time keeps a rebuilt database's payroll of the same id from meeting an older payroll's files."""
    return Path(settings.VAR_DIR) / "bankfiles" / f"{payroll.pk}-{payroll.created_at:%Y%m%d%H%M%S%f}"


@dataclass
class BankBatch:
    """The files of one bank-file batch in one format, ready to be sent as one zip."""

    payroll: Payroll
    batch: int
    fmt: str
    files: list[Path]

    @property
    def zip_name(self) -> str:
        p = self.payroll
        return f"{p.region_id[:6]}-{p.program}-{p.month:%Y%m}-{self.batch}-{self.fmt}.zip"

    def zip_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in self.files:
                archive.write(path, arcname=path.name)
        return buffer.getvalue()


def payroll_bank_files_archived(*, scope: Scope, payroll_id: int, batch: int | None, fmt: str) -> BankBatch:
    """The kept files of one batch (default: the latest) in one format, read-only; the copy is audited as an
    export of personal data."""
    _require_payroll_role(scope)
    scope.require_bulk()
    if fmt not in ("csv", "xlsx"):
        raise ApplicationError("invalid_format", "文件格式只能是csv或xlsx", "fmt")
    with transaction.atomic():
        payroll = _locked_payroll(scope, payroll_id)
        number = payroll.exports if batch is None else batch
        if number < 1 or number > payroll.exports:
            raise NotFound("该批次银行文件不存在", "batch")
        files = sorted(bank_archive_dir(payroll).glob(f"*-{number}.{fmt}"))
        if not files:
            raise NotFound("该批次没有此格式的银行文件", "fmt")
        audit_log_create(
            scope=scope,
            action=AuditAction.EXPORT,
            subject_type="payroll_bank_files",
            subject_id=payroll.pk,
            region_code=payroll.region_id,
            after={"batch": number, "format": fmt, "copy": True, "files": [f.name for f in files]},
        )
    return BankBatch(payroll=payroll, batch=number, fmt=fmt, files=files)


# ---- bank return files ------------------------------------------------------------------------------------

RETURN_COLUMNS = {
    "ref": ("明细编号", "line_ref", "reference"),
    "account": ("账号", "account"),
    "amount": ("金额", "amount"),
    "result": ("结果", "result"),
}
COLUMN_TITLES = {"ref": "明细编号", "account": "账号", "amount": "金额", "result": "结果"}
RESULT_ALIASES: dict[str, str] = {
    "paid": ReturnResult.PAID,
    "成功": ReturnResult.PAID,
    "wrong_account": ReturnResult.WRONG_ACCOUNT,
    "账号错误": ReturnResult.WRONG_ACCOUNT,
    "closed_account": ReturnResult.CLOSED_ACCOUNT,
    "已销户": ReturnResult.CLOSED_ACCOUNT,
    "账户已销户": ReturnResult.CLOSED_ACCOUNT,
}


def _bad(message: str, column: str, row: int) -> ApplicationError:
    return ApplicationError("invalid_return_file", f"第{row}行“{COLUMN_TITLES[column]}”列：{message}", column, row=row)


def _decimal(text: str, row: int) -> Decimal:
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise _bad("金额格式不正确", "amount", row) from None
    if not value.is_finite():
        raise _bad("金额格式不正确", "amount", row)
    return value


def _read_return_rows(
    rows: Iterator[tuple[int, Sequence[Any]]],
) -> tuple[dict[int, tuple[int, str, Decimal, str]], tuple[int, str, str] | None]:
    header_row = next(rows, None)
    if header_row is None:
        raise ApplicationError("empty_file", "回盘文件为空", "file")
    titles = [spreadsheet.cell_text(c) for c in header_row[1]]
    index: dict[str, int] = {}
    for key, names in RETURN_COLUMNS.items():
        for i, title in enumerate(titles):
            if title in names:
                index[key] = i
                break
        else:
            raise ApplicationError("missing_column", f"回盘文件缺少“{COLUMN_TITLES[key]}”列", key, row=header_row[0])

    def cell(cells: Sequence[Any], key: str) -> str:
        i = index[key]
        return spreadsheet.unneutralise(spreadsheet.cell_text(cells[i] if i < len(cells) else None))

    entries: dict[int, tuple[int, str, Decimal, str]] = {}
    totals: tuple[int, str, str] | None = None
    for number, cells in rows:
        if not any(spreadsheet.cell_text(c) for c in cells):
            continue
        if totals is not None:
            raise _bad("合计行之后不能再有明细", "ref", number)
        ref_text = cell(cells, "ref")
        if ref_text == TOTAL_LABEL:
            totals = (number, cell(cells, "account"), cell(cells, "amount"))
            continue
        if not ref_text.isdigit():
            raise _bad(f"明细编号“{ref_text}”无法识别", "ref", number)
        ref = int(ref_text)
        if ref in entries:
            raise _bad(f"明细编号{ref}重复出现（首次在第{entries[ref][0]}行）", "ref", number)
        result = RESULT_ALIASES.get(cell(cells, "result"), "")
        if not result:
            message = "结果只能是 paid（成功）、wrong_account（账号错误）或 closed_account（已销户）"
            raise _bad(message, "result", number)
        entries[ref] = (number, cell(cells, "account"), _decimal(cell(cells, "amount"), number), result)
    return entries, totals


@dataclass
class ReturnResultSummary:
    paid: int
    failed: int
    total_paid: Decimal
    reconciled: bool


def payroll_return_import(*, scope: Scope, payroll_id: int, fileobj: IO[bytes], filename: str) -> ReturnResultSummary:
    """Validate the whole return file first (every reference known and awaiting a result, account and amount as
    sent, totals row matching); any problem names the row and column and nothing is applied."""
    _require_payroll_role(scope)
    scope.require_bulk()
    source = spreadsheet.inspect(spreadsheet.source_from_upload(fileobj, filename))
    rows = spreadsheet.iter_rows(source)
    try:
        entries, totals = _read_return_rows(rows)
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()  # while the stream is open, so the reader's wrapper detaches cleanly
    if totals is None:
        raise ApplicationError("missing_totals", "回盘文件缺少“合计”行（笔数与金额），无法核对", "amount")
    total_row, count_text, sum_text = totals
    if not count_text.isdigit() or int(count_text) != len(entries):
        raise _bad(f"合计笔数“{count_text}”与明细行数{len(entries)}不符", "account", total_row)
    detail_sum = sum((e[2] for e in entries.values()), Decimal("0.00"))
    if _decimal(sum_text, total_row) != detail_sum:
        raise _bad(f"合计金额{sum_text}与明细金额之和{detail_sum}不符", "amount", total_row)
    if not entries:
        raise ApplicationError("empty_file", "回盘文件没有明细行", "file")

    now = timezone.now()
    with transaction.atomic():
        payroll = _locked_payroll(scope, payroll_id)
        refs = list(entries)
        known: dict[int, tuple[str, Decimal, str, bool]] = {}  # account, amount, status, sent
        for start in range(0, len(refs), CHUNK):
            for pk, account, amount, status, line_batch in PayrollLine.objects.filter(
                payroll=payroll, pk__in=refs[start : start + CHUNK]
            ).values_list("id", "account_number", "amount", "status", "batch"):
                known[pk] = (account, amount, status, line_batch <= payroll.exports)
        by_result: dict[str, list[int]] = {r: [] for r in ReturnResult.values}
        for ref, (number, account, amount, result) in sorted(entries.items(), key=lambda e: e[1][0]):
            line = known.get(ref)
            if line is None:
                raise _bad(f"明细编号{ref}不属于本发放名册", "ref", number)
            if line[0] != account:
                raise _bad("账号与发放明细不符（未知账号）", "account", number)
            if line[1] != amount:
                raise _bad(f"金额{amount}与发放明细金额{line[1]}不符", "amount", number)
            if not line[3] or line[2] not in AWAITING:
                raise _bad(f"明细编号{ref}未在待回盘的银行文件中（可能已对账）", "ref", number)
            by_result[result].append(ref)
        paid = by_result[ReturnResult.PAID]
        for start in range(0, len(paid), CHUNK):
            PayrollLine.objects.filter(pk__in=paid[start : start + CHUNK]).update(
                status=LineStatus.PAID, failure_reason="", paid_at=now, updated_at=now
            )
        failed = 0
        for reason in (FailureReason.WRONG_ACCOUNT, FailureReason.CLOSED_ACCOUNT):
            ids = by_result[reason]
            failed += len(ids)
            for start in range(0, len(ids), CHUNK):
                PayrollLine.objects.filter(pk__in=ids[start : start + CHUNK]).update(
                    status=LineStatus.FAILED, failure_reason=reason, updated_at=now
                )
        reconciled = not PayrollLine.objects.filter(payroll=payroll, status__in=AWAITING).exists()
        if reconciled:
            payroll.status = PayrollStatus.RECONCILED
        payroll.version += 1
        payroll.save()
        total_paid = sum((entries[r][2] for r in paid), Decimal("0.00"))
        audit_log_create(
            scope=scope,
            action=AuditAction.IMPORT,
            subject_type="payroll_return_file",
            subject_id=payroll.pk,
            region_code=payroll.region_id,
            after={"paid": len(paid), "failed": failed, "total_paid": total_paid, "sha256": source.sha256},
            note=filename[:200],
        )
    return ReturnResultSummary(paid=len(paid), failed=failed, total_paid=total_paid, reconciled=reconciled)


# ---- re-issue ---------------------------------------------------------------------------------------------


@dataclass
class ReissueResult:
    reissued: int
    not_corrected: list[int]


def payroll_reissue(*, scope: Scope, payroll_id: int, line_ids: Sequence[int] | None = None) -> ReissueResult:
    """Put failed lines whose account has since been corrected back in the queue for the next bank file.
    The same line is reused (UNIQUE per recipient and month), so a re-issue can never pay twice."""
    _require_payroll_role(scope)
    now = timezone.now()
    with transaction.atomic():
        payroll = _locked_payroll(scope, payroll_id)
        failed = PayrollLine.objects.select_for_update().filter(payroll=payroll, status=LineStatus.FAILED)
        if line_ids is not None:
            failed = failed.filter(pk__in=list(line_ids))
        lines = list(failed)
        if not lines:
            raise ApplicationError("nothing_to_reissue", "没有可重新发放的失败明细", "line_ids")
        personal = payroll.program in PERSONAL_PROGRAMS
        accounts: dict[tuple[str, int], BankAccount] = {}
        for found in BankAccount.objects.filter(active=True).filter(
            Q(household_id__in={line.household_id for line in lines})
            | Q(person_id__in={line.person_id for line in lines if line.person_id})
        ):
            if found.person_id:
                accounts[("p", found.person_id)] = found
            elif found.household_id:
                accounts[("h", found.household_id)] = found
        reissued: list[PayrollLine] = []
        not_corrected: list[int] = []
        for line in lines:
            account: BankAccount | None = (
                accounts.get(("p", line.person_id)) if personal and line.person_id else None
            ) or accounts.get(("h", line.household_id))
            if account is None or account.account_number == line.account_number:
                not_corrected.append(line.pk)
                continue
            line.bank_code, line.bank_name = account.bank_code, account.bank_name
            line.account_number, line.holder_name = account.account_number, account.holder_name
            line.status, line.failure_reason = LineStatus.REISSUED, ""
            line.attempt += 1
            line.batch = payroll.exports + 1
            line.updated_at = now
            reissued.append(line)
        PayrollLine.objects.bulk_update(
            reissued,
            [
                "bank_code",
                "bank_name",
                "account_number",
                "holder_name",
                "status",
                "failure_reason",
                "attempt",
                "batch",
                "updated_at",
            ],
            batch_size=CHUNK,
        )
        if reissued and payroll.status == PayrollStatus.RECONCILED:
            payroll.status = PayrollStatus.EXPORTED
        payroll.version += 1
        payroll.save()
        audit_log_create(
            scope=scope,
            action=AuditAction.UPDATE,
            subject_type="payroll_reissue",
            subject_id=payroll.pk,
            region_code=payroll.region_id,
            after={"reissued": [line.pk for line in reissued], "not_corrected": not_corrected},
        )
    return ReissueResult(reissued=len(reissued), not_corrected=not_corrected)
