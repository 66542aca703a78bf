"""`manage.py complaints_remind [--date YYYY-MM-DD] [--county CODE]`: record today's reminders (acceptance overdue,
handling overdue, due soon) for every handling office, set-based, print the counts per kind and per office, and
remove attachment files left by transactions that never committed. Run it daily (cron / systemd timer)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from doudi.complaints import attachments, selectors, services
from doudi.core.errors import ApplicationError
from doudi.core.models import Region
from doudi.core.scope import Scope, system_scope


class Command(BaseCommand):
    help = "记录投诉举报催办提醒（受理超期、办理超期、即将到期），并按承办单位列出件数"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="按该日期计算（默认今天），YYYY-MM-DD")
        parser.add_argument("--county", help="只处理该县（市、区）的12位区划代码")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            today = dt.date.fromisoformat(options["date"]) if options.get("date") else None
        except ValueError:
            raise CommandError("--date 格式应为YYYY-MM-DD") from None
        scope = system_scope()
        if options.get("county"):
            region = Region.objects.filter(code=options["county"]).first()
            if region is None:
                raise CommandError(f"区划{options['county']}不存在")
            scope = Scope(
                user_id=0, username="system", role=scope.role, region_code=region.code, region_path=region.path
            )
        try:
            counts = services.reminders_record(scope=scope, today=today)
            offices = selectors.reminder_summary(scope=scope, on=today)
        except ApplicationError as exc:
            raise CommandError(json.dumps(exc.as_dict(), ensure_ascii=False)) from None
        swept = attachments.sweep_temporary()
        self.stdout.write(
            json.dumps(
                {"new_reminders": counts, "offices": offices, "temporary_files_removed": swept},
                ensure_ascii=False,
                indent=1,
            )
        )
