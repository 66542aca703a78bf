"""Benchmark: a county's monthly payroll on PostgreSQL (issue 4, item 5).

    .venv/bin/python -m bench.bench_payroll --recipients 100000
    .venv/bin/python -m bench.bench_payroll --recipients 1000000 [--no-xlsx] [--keep]

Creates its own database (`payments_bench` unless DOUDI_PAYROLL_BENCH_DB is set), seeds N recipients of one county with
set-based SQL (N/2 households, one bank account each over four banks; one shared application/determination, which
the payroll never reads), then times: generation, approval, bank files (CSV + XLSX per bank), the idempotent
rerun, and a rerun after 100 amounts changed (recorded as differences). Target for 1M: generation + bank files
≤ 60 s; idempotent rerun ≤ 10 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import bench
from bench import create_database, django_setup, drop_database, machine, migrate, save, say

# Its own database, never the shared `doudi_bench` of the registry benchmarks (the package reads this global at
# call time; DOUDI_BENCH_DB is read when the package is imported, so it cannot be set from here).
bench.BENCH_DB = os.environ.get("DOUDI_PAYROLL_BENCH_DB", "payments_bench")

MONTH = dt.date(2026, 1, 1)
COUNTY = "469001000000"


def _insert_generated(cursor: Any, model: Any, count: int, overrides: dict[str, str], params: list[Any]) -> None:
    """INSERT … SELECT FROM generate_series(1, count) g: every column gets its Python default unless overridden."""
    columns: list[str] = []
    values: list[str] = []
    args: list[Any] = []
    pending = list(params)
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        columns.append(f.column)
        if f.name in overrides or f.column in overrides:
            expression = overrides.get(f.name, overrides.get(f.column, ""))
            values.append(expression)
            for _ in range(expression.replace("%%", "").count("%s")):
                args.append(pending.pop(0))
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            values.append("now()")
        else:
            default = f.get_default()
            values.append("%s")
            args.append(f.get_db_prep_save(default, cursor.db) if default is not None else None)
    sql = f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(values)} "
    sql += "FROM generate_series(1, %s) g"
    cursor.execute(sql, [*args, count])


def seed(recipients: int) -> dict[str, Any]:
    from django.db import connection, transaction

    from doudi.cases.models import Application, Determination, Recipient, WorkflowDefinition
    from doudi.core.models import Region
    from doudi.payments.models import BankAccount
    from doudi.registry.models import Household, Person

    county = Region.objects.get(code=COUNTY)
    township, _ = Region.objects.get_or_create(
        code="469001100000",
        defaults={"name": "基准镇", "level": "township", "parent": county, "path": county.path + "469001100000/"},
    )
    village, _ = Region.objects.get_or_create(
        code="469001100201",
        defaults={"name": "基准村", "level": "village", "parent": township, "path": township.path + "469001100201/"},
    )
    village.refresh_from_db()
    households = max(1, recipients // 2)
    with transaction.atomic(), connection.cursor() as cursor:
        person = Person.objects.create(
            id_number="469001198005170011", name="基准", sex="1", birth_date=dt.date(1980, 5, 17)
        )
        first_hh = Household.objects.create(number="BENCH0", region=village, address="基准村", hukou_type="rural")
        app = Application.objects.create(
            program="dibao",
            household=first_hh,
            applicant=person,
            subject_key="bench",
            region=village,
            region_path=village.path,
            workflow=WorkflowDefinition.objects.filter(program="dibao").first(),
            rule_set="2021",
            status="approved",
            received_on=dt.date(2024, 12, 1),
            intake_level="village",
        )
        det = Determination.objects.create(
            application=app, program="dibao", as_of=dt.date(2024, 12, 1), input={}, output={}
        )
        _insert_generated(
            cursor,
            Household,
            households,
            {"number": "'B' || g", "region": "%s", "address": "'基准村'", "hukou_type": "'rural'"},
            [village.code],
        )
        cursor.execute("SELECT min(id) FROM registry_household WHERE number LIKE 'B%%' AND number <> 'BENCH0'")
        base = cursor.fetchone()[0]
        _insert_generated(
            cursor,
            BankAccount,
            households,
            {
                "household": "%s + g - 1",
                "person": "NULL",
                "bank_code": "(ARRAY['ABC','ICBC','CCB','RCC'])[1 + g %% 4]",
                "bank_name": "(ARRAY['中国农业银行','中国工商银行','中国建设银行','海南农信'])[1 + g %% 4]",
                "account_number": "(6222020000000000 + g)::text",
                "holder_name": "'基准户'",
                "active": "TRUE",
                "created_by": "NULL",
            },
            [base],
        )
        _insert_generated(
            cursor,
            Recipient,
            recipients,
            {
                "program": "'dibao'",
                "household": "%s + (g - 1) %% %s",
                "person": "NULL",
                "subject_key": "'b' || g",
                "region": "%s",
                "region_path": "%s",
                "status": "CASE WHEN g %% 20 = 0 THEN 'gradual_exit' WHEN g %% 33 = 0 THEN 'suspended' "
                "ELSE 'active' END",
                "start_month": "DATE '2025-01-01'",
                "end_month": "NULL",
                "monthly_amount": "300 + (g %% 50) * 10.50",
                "determination": "%s",
                "application": "%s",
                "recheck_category": "'yearly'",
            },
            [base, households, village.code, village.path, det.pk, app.pk],
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    payable = Recipient.objects.filter(status__in=["active", "gradual_exit"]).count()
    return {"recipients": recipients, "payable": payable, "households": households}


def run(*, recipients: int = 100_000, xlsx: bool = True, keep: bool = False) -> dict[str, Any]:
    info = machine()
    say(f"== bench_payroll: {recipients:,} recipients, {info['nproc']} cores")
    create_database()
    migrate()
    django_setup()
    from django.db import connection

    from doudi.core.choices import Role
    from doudi.core.models import Region
    from doudi.core.scope import Scope
    from doudi.payments import services
    from doudi.payments.models import Payroll, PayrollDifference, PayrollLine

    began = time.perf_counter()
    seeded = seed(recipients)
    seed_seconds = time.perf_counter() - began
    say(f"  seeded in {seed_seconds:.1f} s: {seeded}")
    county = Region.objects.get(code=COUNTY)
    from doudi.core.models import User

    approver = User.objects.create_user(
        username="bench_ca", password="Bench-Pass-2026!", role=Role.COUNTY_APPROVER, region=county
    )
    scope = Scope(approver.pk, approver.username, Role.COUNTY_APPROVER, county.code, county.path)
    timings: dict[str, float] = {}

    def timed(name: str, fn: Any) -> Any:
        start = time.perf_counter()
        result = fn()
        timings[name] = round(time.perf_counter() - start, 2)
        say(f"  {name:<28} {timings[name]:8.2f} s")
        return result

    payroll = timed(
        "generate", lambda: services.payroll_generate(scope=scope, county_code=COUNTY, program="dibao", month=MONTH)
    )
    payroll = timed(
        "approve", lambda: services.payroll_approve(scope=scope, payroll_id=payroll.pk, version=payroll.version)
    )
    formats = ("csv", "xlsx") if xlsx else ("csv",)
    with tempfile.TemporaryDirectory() as tmp:
        exported = timed(
            "bank_files_" + "_".join(formats),
            lambda: services.payroll_bank_files_export(
                scope=scope, payroll_id=payroll.pk, out_dir=Path(tmp), formats=formats
            ),
        )
        sizes = {p.name: p.stat().st_size for f in exported.files for p in f.paths}
    timed(
        "rerun_idempotent",
        lambda: services.payroll_generate(scope=scope, county_code=COUNTY, program="dibao", month=MONTH),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cases_recipient SET monthly_amount = monthly_amount + 1 WHERE id IN "
            "(SELECT recipient_id FROM payments_payrollline ORDER BY id LIMIT 100)"
        )
    timed(
        "rerun_100_changed",
        lambda: services.payroll_generate(scope=scope, county_code=COUNTY, program="dibao", month=MONTH),
    )
    payroll = Payroll.objects.get(pk=payroll.pk)
    data = {
        "benchmark": "payroll",
        "machine": info,
        "seeded": seeded,
        "seed_seconds": round(seed_seconds, 1),
        "timings": timings,
        "generate_plus_bank_files": round(timings["generate"] + timings["bank_files_" + "_".join(formats)], 2),
        "lines": PayrollLine.objects.filter(payroll=payroll).count(),
        "total_amount": str(payroll.total_amount),
        "differences": PayrollDifference.objects.filter(payroll=payroll, status="pending").count(),
        "bank_files": {f.bank_code: {"count": f.count, "total": str(f.total)} for f in exported.files},
        "file_bytes": sizes,
    }
    say(
        f"  lines {data['lines']:,}, total {data['total_amount']}, generate + bank files "
        f"{data['generate_plus_bank_files']} s, idempotent rerun {timings['rerun_idempotent']} s, "
        f"differences after 100 changes: {data['differences']}"
    )
    say(f"  saved {save(f'payroll-{recipients}', data)}")
    connection.close()
    if not keep:
        drop_database()
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--no-xlsx", action="store_true", help="CSV bank files only")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    args = parser.parse_args(argv)
    run(recipients=args.recipients, xlsx=not args.no_xlsx, keep=args.keep)


if __name__ == "__main__":
    main()
