"""`manage.py verification_demo_sources`: synthetic department data for the demo, made from the seeded registry.

Picks a deterministic sample of registered persons and writes, for each of five kinds, a CSV such as a department
would deliver (a few cars, active businesses, second homes, large deposits and deaths, plus one malformed row so
the rejects report has something to show), then registers each as a provincial batch through the same service as
the upload page. Synthetic demo data only: never run it on a production database.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from doudi.batch.sources import SOURCE_KINDS
from doudi.core.errors import ApplicationError
from doudi.core.scope import system_scope
from doudi.registry.models import Membership
from doudi.verification import services


class Command(BaseCommand):
    help = "为演示环境生成并登记合成的部门核对数据（仅限演示数据库）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--share", type=float, default=0.01, help="每类数据抽取的人员比例（默认1%%）")
        parser.add_argument("--seed", type=int, default=2018)

    def handle(self, *args: Any, **options: Any) -> None:
        scope = system_scope()
        ids = list(
            Membership.objects.filter(end_date__isnull=True, household__status="active")
            .order_by("person_id")
            .values_list("person__id_number", flat=True)
        )
        if not ids:
            raise CommandError("户籍库中没有人员：请先运行 doudi seed 或 doudi demo")
        rng = random.Random(options["seed"])
        count = max(1, int(len(ids) * options["share"]))
        today = dt.date.today()
        month_end = today.replace(day=1) - dt.timedelta(days=1)
        rows = {
            "vehicles": ("id_number,plate,vehicle_type,value", [
                f"{p},琼A{rng.randrange(10000, 99999)},{rng.choice(['car', 'car', 'truck', 'disabled_mobility'])},"
                f"{rng.randrange(20000, 200000)}.00" for p in rng.sample(ids, count)
            ]),
            "business": ("id_number,company_id,role,registered_capital,status", [
                f"{p},91460000MA{rng.randrange(10**7, 10**8)},法定代表人,{rng.randrange(1, 500) * 1000},"
                f"{rng.choice(['active', 'closed'])}" for p in rng.sample(ids, count)
            ]),
            "real_estate": ("id_number,property_id,usage,area_m2,value", [
                f"{p},HN{rng.randrange(10**9, 10**10)},{rng.choice(['residential', 'residential', 'commercial'])},"
                f"{rng.randrange(30, 180)}.00,{rng.randrange(100, 3000) * 1000}.00"
                for p in rng.sample(ids, count) for _ in range(rng.choice([1, 2]))
            ]),
            "deposits": ("id_number,institution,balance,as_of", [
                f"{p},{rng.choice(['农业银行', '农村信用社', '邮储银行'])},{rng.randrange(1000, 400000)}.00,"
                f"{month_end.isoformat()}" for p in rng.sample(ids, count)
            ]),
            "deaths": ("id_number,death_date", [
                f"{p},{(month_end - dt.timedelta(days=rng.randrange(1, 300))).isoformat()}"
                for p in rng.sample(ids, max(1, count // 10))
            ]),
        }  # fmt: skip
        with tempfile.TemporaryDirectory() as folder:
            for kind, (header, lines) in rows.items():
                lines.append("12345,坏行示例,,")  # one malformed row: the rejects report shows it
                path = Path(folder) / f"演示-{kind}.csv"
                path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
                try:
                    with path.open("rb") as fh:
                        batch = services.source_ingest(
                            scope=scope,
                            fileobj=fh,
                            filename=path.name,
                            kind=kind,
                            department=f"{SOURCE_KINDS[kind].department}（演示数据）",
                            period_start=month_end.replace(day=1),
                            period_end=month_end,
                            received_on=today,
                            region_code=scope.region_code,
                            note="合成演示数据",
                        )
                except ApplicationError as exc:
                    self.stdout.write(f"{kind}: {exc.message}")
                    continue
                label = SOURCE_KINDS[kind].label
                stored, rejected = batch.stored_rows, batch.rejected_rows
                self.stdout.write(f"{label}：入库 {stored} 行，拒收 {rejected} 行（批次 {batch.pk}）")
