"""Writes to policy parameters: operators add dated values (never in the past) and withdraw future ones.

A value may only take effect today or later, and only a value that has not yet taken effect may be withdrawn,
so a change never alters the parameters a past decision was computed with.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from doudi.core.choices import AuditAction, Role
from doudi.core.errors import ApplicationError, NotFound, PermissionDenied
from doudi.core.models import Region
from doudi.core.scope import Scope
from doudi.core.services import audit_log_create, snapshot
from doudi.policy import selectors
from doudi.policy.layering import ChangeRecord, apply_change, is_area_keyed, rules_region_key, statistical_code
from doudi.policy.models import ChangeStatus, ParameterValueChange
from doudi.registry import spreadsheet
from doudi.rules.errors import ParameterNotFound
from doudi.rules.parameters import load_parameters
from doudi.rules.regions import DEFAULT_KEY

SUBJECT = "parameter_value_change"
IMPORT_COLUMNS = ("参数路径", "区划代码", "城乡", "生效日期", "取值", "法规依据", "原因")
IMPORT_FIELDS = ("path", "region_code", "area", "effective_from", "value", "reference", "reason")
AREA_WORDS = {"urban": "urban", "rural": "rural", "城市": "urban", "城镇": "urban", "农村": "rural", "": ""}


def _require_admin(scope: Scope) -> None:
    if scope.role != Role.ADMIN:
        raise PermissionDenied("只有系统管理员可以修改政策参数")


def _clean_region(scope: Scope, raw: object) -> tuple[str, str | None]:
    """(rules region key, core.Region code or None for the default key)."""
    code = str(raw or "").strip()
    if code == DEFAULT_KEY:
        if Region.objects.filter(path=scope.region_path, parent__isnull=True).exists():
            return DEFAULT_KEY, None
        raise PermissionDenied("只有全省管理员可以设置默认值", "region_code")
    if not code.isdigit() or len(code) not in (6, 9, 12):
        raise ApplicationError("invalid", "区划代码应为6、9或12位数字，或 default", "region_code")
    region = Region.objects.filter(code=statistical_code(code) if len(code) < 12 else code).first()
    if region is None:
        raise ApplicationError("invalid", "区划代码不存在", "region_code")
    if not scope.covers(region):
        raise PermissionDenied("该区划不在您的管辖范围内", "region_code")
    return rules_region_key(region.code), region.code


def _clean_date(raw: object) -> dt.date:
    if isinstance(raw, dt.datetime):
        raw = raw.date()
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw or "").strip())
    except ValueError:
        raise ApplicationError("invalid", "生效日期格式应为 YYYY-MM-DD", "effective_from") from None


def _validated(scope: Scope, data: dict[str, Any]) -> tuple[ParameterValueChange, str | None]:
    """An unsaved change after every check; the Region code (None for the default key) for the audit log."""
    base = load_parameters()
    path = str(data.get("path") or "").strip()
    if path not in base:
        raise ApplicationError("invalid", "参数路径不存在", "path")
    param = base.parameter(path)
    key, region_code = _clean_region(scope, data.get("region_code"))
    area_raw = str(data.get("area") or "").strip()
    if area_raw not in AREA_WORDS:
        raise ApplicationError("invalid", "城乡应为 urban（城市）或 rural（农村），或留空", "area")
    area = AREA_WORDS[area_raw]
    if is_area_keyed(param) and not area:
        raise ApplicationError("required", "该参数城乡分列，请选择城市或农村", "area")
    if not is_area_keyed(param) and area:
        raise ApplicationError("invalid", "该参数不分城乡，城乡应留空", "area")
    effective_from = _clean_date(data.get("effective_from"))
    if effective_from < timezone.localdate():
        raise ApplicationError("past_date", "生效日期不能早于今天：参数变更不得改写已作出的决定", "effective_from")
    value = str(data.get("value") or "").strip()
    if not value:
        raise ApplicationError("required", "请填写取值", "value")
    reference = str(data.get("reference") or "").strip()
    if not reference:
        raise ApplicationError("required", "请填写法规依据", "reference")
    if len(reference) > 500 or len(value) > 500:
        raise ApplicationError(
            "too_long", "取值和法规依据不能超过500字", "reference" if len(reference) > 500 else "value"
        )
    duplicate = ParameterValueChange.objects.filter(
        path=path, region_code=key, area=area, effective_from=effective_from, status=ChangeStatus.ACTIVE
    )
    if duplicate.exists():
        raise ApplicationError("duplicate", "该参数在此区划、城乡和日期已有运营方取值，请先撤回", "effective_from")
    record = ChangeRecord(0, path, key, area, effective_from, value, reference)
    current = selectors.current_parameter_set().parameter(path)
    try:
        changed = apply_change(current, record)
    except ValueError as exc:
        raise ApplicationError("invalid", f"取值无效：{exc}", "value") from None
    try:
        changed.resolve(key if key != DEFAULT_KEY else "460000", area or "urban", effective_from)
    except (ParameterNotFound, ValueError) as exc:
        raise ApplicationError("invalid", f"取值无法生效：{exc}", "value") from None
    change = ParameterValueChange(
        path=path,
        region_code=key,
        area=area,
        effective_from=effective_from,
        value=value,
        reference=reference,
        reason=str(data.get("reason") or "").strip(),
        created_by_id=scope.user_id or None,
        created_by_name=scope.username,
    )
    return change, region_code


def _save(scope: Scope, change: ParameterValueChange, region_code: str | None, note: str = "") -> None:
    change.save()
    audit_log_create(
        scope=scope,
        action=AuditAction.CREATE,
        subject_type=SUBJECT,
        subject_id=change.pk,
        region_code=region_code,
        after=snapshot(change),
        note=note or f"参数 {change.path} 自 {change.effective_from.isoformat()} 起取值 {change.value}",
    )


def parameter_value_add(
    *,
    scope: Scope,
    path: str,
    region_code: str,
    area: str = "",
    effective_from: dt.date | str,
    value: str,
    reference: str,
    reason: str = "",
) -> ParameterValueChange:
    _require_admin(scope)
    data = {
        "path": path,
        "region_code": region_code,
        "area": area,
        "effective_from": effective_from,
        "value": value,
        "reference": reference,
        "reason": reason,
    }
    with transaction.atomic():
        change, region = _validated(scope, data)
        _save(scope, change, region)
        transaction.on_commit(selectors.clear_cache)
    return change


def parameter_value_withdraw(*, scope: Scope, change_id: int, reason: str = "") -> ParameterValueChange:
    _require_admin(scope)
    with transaction.atomic():
        change = ParameterValueChange.objects.select_for_update().filter(pk=change_id).first()
        if change is None:
            raise NotFound()
        region = None if change.region_code == DEFAULT_KEY else statistical_code(change.region_code)
        region_obj = Region.objects.filter(code=region).first() if region else None
        if region_obj is not None and not scope.covers(region_obj):
            raise NotFound()
        if change.status != ChangeStatus.ACTIVE:
            raise ApplicationError("already_withdrawn", "该取值已撤回", "status")
        if change.effective_from <= timezone.localdate():
            raise ApplicationError(
                "in_effect", "该取值已经生效，不能撤回；如需调整请新增一个以后日期的取值", "effective_from"
            )
        before = snapshot(change)
        change.status = ChangeStatus.WITHDRAWN
        change.withdrawn_by_name = scope.username
        change.withdrawn_at = timezone.now()
        change.save(update_fields=["status", "withdrawn_by_name", "withdrawn_at"])
        audit_log_create(
            scope=scope,
            action=AuditAction.UPDATE,
            subject_type=SUBJECT,
            subject_id=change.pk,
            region_code=region_obj.code if region_obj else None,
            before=before,
            after=snapshot(change),
            note=f"撤回参数 {change.path} 自 {change.effective_from.isoformat()} 起的取值"
            + (f"：{reason}" if reason else ""),
        )
        transaction.on_commit(selectors.clear_cache)
    return change


@dataclass
class ImportResult:
    created: list[ParameterValueChange] = field(default_factory=list)
    errors: list[ApplicationError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def parameter_values_import(*, scope: Scope, fileobj: Any, filename: str) -> ImportResult:
    """Add every row of a CSV/XLSX file of changes, or none: any row error rolls the whole file back."""
    _require_admin(scope)
    source = spreadsheet.inspect(spreadsheet.source_from_upload(fileobj, filename))
    rows = spreadsheet.iter_rows(source)
    result = ImportResult()
    try:
        _import_rows(scope, rows, filename, result)
    finally:
        # Close the reader now, while the upload is still open (the CSV reader detaches from it on close).
        getattr(rows, "close", lambda: None)()
    return result


def _import_rows(scope: Scope, rows: Any, filename: str, result: ImportResult) -> None:
    header_seen = False
    columns: dict[str, int] = {}
    with transaction.atomic():
        for number, cells in rows:
            if number > spreadsheet.max_import_rows():
                raise ApplicationError("too_many_rows", "文件行数超过上限，请拆分后分别导入", "file", row=number)
            texts = [spreadsheet.unneutralise(spreadsheet.cell_text(c)) for c in cells]
            if not any(texts):
                continue
            if not header_seen:
                header_seen = True
                columns = {name: texts.index(name) for name in IMPORT_COLUMNS if name in texts}
                missing = [name for name in IMPORT_COLUMNS if name not in columns]
                if missing:
                    raise ApplicationError("bad_header", f"缺少列：{'、'.join(missing)}", "file", row=number)
                continue
            data = {
                f: (texts[columns[col]] if columns[col] < len(texts) else "")
                for f, col in zip(IMPORT_FIELDS, IMPORT_COLUMNS, strict=True)
            }
            try:
                with transaction.atomic():
                    change, region = _validated(scope, data)
                    _save(scope, change, region, note=f"文件导入 {filename} 第{number}行")
                result.created.append(change)
            except PermissionDenied as exc:
                result.errors.append(ApplicationError(exc.code, exc.message, exc.field, row=number, status=403))
            except ApplicationError as exc:
                result.errors.append(ApplicationError(exc.code, exc.message, exc.field, row=number))
        if not header_seen:
            raise ApplicationError("empty_file", "文件中没有数据", "file")
        if result.errors:
            transaction.set_rollback(True)
            result.created = []
        elif not result.created:
            raise ApplicationError("empty_file", "文件中没有数据行", "file")
        else:
            transaction.on_commit(selectors.clear_cache)
