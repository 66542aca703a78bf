"""Registry exports: the households and live members of a region, in the import template's columns.

An export re-imports cleanly (it is the same template). Every text cell that a spreadsheet program would
execute is neutralised, in CSV and in Excel alike. Rows are read in keyset chunks with values() queries, never
as a list of ORM objects, and written as they are read. Confidential flags (HIV, protection orders) are not
part of the template and are never exported.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.db import transaction
from django.db.models import Sum
from django.utils import translation

from doudi.core.choices import AuditAction
from doudi.core.errors import ApplicationError
from doudi.core.models import Region
from doudi.core.scope import Scope
from doudi.core.selectors import region_get
from doudi.core.services import audit_log_create
from doudi.registry import spreadsheet
from doudi.registry.choices import (
    ETHNIC_GROUPS,
    DisabilityCategory,
    HouseholdStatus,
    HukouType,
    LabourCapacity,
    LeftBehind,
    PovertyStatus,
    Relation,
    Sex,
)
from doudi.registry.imports import HOUSEHOLD_COLUMNS, INCOME_COLUMNS
from doudi.registry.models import Household, IncomeItem, Membership

CHUNK = 2000
CENT = Decimal("0.01")
FORMATS = ("csv", "xlsx")
PERSON_VALUES = (
    "name",
    "id_number",
    "sex",
    "birth_date",
    "ethnicity",
    "phone",
    "labour_capacity",
    "disability_category",
    "disability_grade",
    "disability_cert_no",
    "serious_illness",
    "student",
    "left_behind",
)
TEXT_KEYS = {"household_number", "head_id_number", "region_code", "id_number", "disability_cert_no", "phone"}


@dataclass
class _Counter:
    households: int = 0
    rows: int = 0


def _labels(choices: Any) -> dict[str, str]:
    return {str(value): str(label) for value, label in choices.choices}


def _region(scope: Scope, region_code: str) -> Region:
    scope.require_bulk()
    scope.require_personal()
    return region_get(scope=scope, code=str(region_code or "").strip())


def _rows(region: Region, counter: _Counter) -> Iterator[list[Any]]:
    """One list per live member, in HOUSEHOLD_COLUMNS order, household by household."""
    labels = {
        "hukou_type": _labels(HukouType),
        "poverty_status": _labels(PovertyStatus),
        "sex": _labels(Sex),
        "relation": _labels(Relation),
        "labour_capacity": _labels(LabourCapacity),
        "disability_category": _labels(DisabilityCategory),
        "left_behind": _labels(LeftBehind),
    }
    keys = [c.key for c in HOUSEHOLD_COLUMNS]
    households = Household.objects.filter(region__path__startswith=region.path, status=HouseholdStatus.ACTIVE)
    last = 0
    while True:
        chunk = list(
            households.filter(pk__gt=last)
            .order_by("pk")
            .values(
                "pk",
                "number",
                "region_id",
                "address",
                "hukou_type",
                "registered_poor",
                "poverty_status",
                "poverty_exit_year",
                "head__id_number",
            )[:CHUNK]
        )
        if not chunk:
            return
        last = chunk[-1]["pk"]
        ids = [h["pk"] for h in chunk]
        members: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for m in (
            Membership.objects.filter(household_id__in=ids, end_date__isnull=True)
            .values(
                "pk", "household_id", "person_id", "relation", "start_date", *(f"person__{f}" for f in PERSON_VALUES)
            )
            .iterator(chunk_size=CHUNK)
        ):
            members[m["household_id"]].append(m)
        incomes: dict[tuple[int, str], Decimal] = {}
        for item in (
            IncomeItem.objects.filter(
                household_id__in=ids, end_date__isnull=True, kind__in=[k for _, k in INCOME_COLUMNS]
            )
            .values("household_id", "person_id", "kind")
            .annotate(total=Sum("monthly_amount"))
        ):
            if item["person_id"] is not None:
                incomes[(item["person_id"], item["kind"])] = item["total"]
        for h in chunk:
            people = sorted(
                members.get(h["pk"], []),
                key=lambda m: (m["relation"] != Relation.HEAD, m["relation"], m["start_date"], m["pk"]),
            )
            if not people:
                continue  # a household without live members has no row in a one-row-per-person file
            counter.households += 1
            for m in people:
                p = {f: m[f"person__{f}"] for f in PERSON_VALUES}
                values: dict[str, Any] = {
                    "household_number": h["number"],
                    "head_id_number": h["head__id_number"] or "",
                    "region_code": h["region_id"],
                    "address": h["address"],
                    "hukou_type": labels["hukou_type"].get(h["hukou_type"], h["hukou_type"]),
                    "registered_poor": bool(h["registered_poor"]),
                    "poverty_status": labels["poverty_status"].get(h["poverty_status"], h["poverty_status"]),
                    "poverty_exit_year": h["poverty_exit_year"] if h["poverty_exit_year"] is not None else "",
                    "name": p["name"],
                    "id_number": p["id_number"],
                    "sex": labels["sex"].get(p["sex"], p["sex"]),
                    "birth_date": p["birth_date"].isoformat() if p["birth_date"] else "",
                    "ethnicity": ETHNIC_GROUPS.get(p["ethnicity"], p["ethnicity"]),
                    "relation": labels["relation"].get(m["relation"], m["relation"]),
                    "start_date": m["start_date"].isoformat(),
                    "labour_capacity": labels["labour_capacity"].get(p["labour_capacity"], p["labour_capacity"]),
                    "disability_category": labels["disability_category"].get(p["disability_category"], ""),
                    "disability_grade": p["disability_grade"] if p["disability_grade"] is not None else "",
                    "disability_cert_no": p["disability_cert_no"],
                    "serious_illness": bool(p["serious_illness"]),
                    "student": bool(p["student"]),
                    "left_behind": labels["left_behind"].get(p["left_behind"] or "", "否"),
                    "phone": p["phone"],
                }
                for key, kind in INCOME_COLUMNS:
                    amount = incomes.get((m["person_id"], kind))
                    values[key] = amount.quantize(CENT) if amount is not None else ""
                counter.rows += 1
                yield [values[k] for k in keys]


def _write(out: IO[bytes], region: Region, fmt: str) -> _Counter:
    counter = _Counter()
    header = [c.header for c in HOUSEHOLD_COLUMNS]
    # Labels must be the Chinese ones the importer reads back, whatever language the caller uses.
    with translation.override("zh-hans"):
        if fmt == "csv":
            spreadsheet.write_csv(out, header, _rows(region, counter))
        else:
            spreadsheet.write_xlsx(
                out,
                header,
                _rows(region, counter),
                sheet_title="家庭成员",
                text_columns=[i for i, c in enumerate(HOUSEHOLD_COLUMNS) if c.key in TEXT_KEYS],
                widths=[c.width for c in HOUSEHOLD_COLUMNS],
            )
    return counter


def _audit(scope: Scope, region: Region, fmt: str, counter: _Counter) -> None:
    with transaction.atomic():
        audit_log_create(
            scope=scope,
            action=AuditAction.EXPORT,
            subject_type="export",
            subject_id=region.code,
            region_code=region.code,
            after={"kind": "households", "format": fmt, "households": counter.households, "rows": counter.rows},
            note=f"导出{region.name}家庭及成员 {counter.households}户 {counter.rows}行（{fmt}）",
        )


def _check_format(fmt: str) -> str:
    fmt = (fmt or "").lower().lstrip(".")
    if fmt not in FORMATS:
        raise ApplicationError("invalid_format", "导出格式应为 csv 或 xlsx", "fmt")
    return fmt


def export_households_bytes(*, scope: Scope, region_code: str, fmt: str) -> bytes:
    """The export as bytes (for a download response). Bulk roles only; audited."""
    fmt = _check_format(fmt)
    region = _region(scope, region_code)
    out = io.BytesIO()
    counter = _write(out, region, fmt)
    _audit(scope, region, fmt, counter)
    return out.getvalue()


def export_households(*, scope: Scope, path: Path, region_code: str) -> int:
    """Write the export to a .csv or .xlsx file (format by suffix); returns the number of households."""
    path = Path(path)
    fmt = _check_format(path.suffix)
    region = _region(scope, region_code)
    # Written beside the target and renamed into place, so a failed export never leaves half a file.
    handle, temp_name = tempfile.mkstemp(prefix=".doudi-export-", suffix=path.suffix, dir=path.parent or ".")
    try:
        with os.fdopen(handle, "wb") as out:
            counter = _write(out, region, fmt)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _audit(scope, region, fmt, counter)
    return counter.households
