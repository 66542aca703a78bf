"""`manage.py verification_worker`: execute queued verification runs (no broker: the database is the queue).

    python manage.py verification_worker            # run forever, polling every 5 s
    python manage.py verification_worker --once     # run what is queued, then exit (cron, the demo)

Several workers may run at once: on PostgreSQL each picks the oldest queued run with
SELECT … FOR UPDATE SKIP LOCKED; everywhere a conditional UPDATE queued → running decides who takes it.

Before taking work the worker marks failed (`worker_lost`) every run still `running` whose heartbeat (the time of
its last progress report) is older than the stale timeout: `--stale-minutes`, else the setting or environment
variable DOUDI_VERIFICATION_STALE_MINUTES, default 60 (docs/verification-service.md §3).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from doudi.verification.jobs import worker_loop


class Command(BaseCommand):
    help = "执行排队的家庭经济状况核对批次（Execute queued verification runs）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="执行完当前排队的批次后退出")
        parser.add_argument("--poll", type=float, default=5.0, help="队列为空时的轮询间隔（秒）")
        parser.add_argument("--max-runs", type=int, default=None, help="最多执行的批次数")
        parser.add_argument(
            "--stale-minutes",
            type=float,
            default=None,
            help="执行中的批次超过这么多分钟没有报告进度即判定中断并标记为失败"
            "（默认取 DOUDI_VERIFICATION_STALE_MINUTES，未设置为60）",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        worker = f"{socket.gethostname()}:{os.getpid()}"
        minutes = options["stale_minutes"]
        if minutes is not None and minutes <= 0:
            raise CommandError("--stale-minutes 应为正数")
        done = worker_loop(
            worker=worker,
            once=options["once"],
            poll_seconds=options["poll"],
            max_runs=options["max_runs"],
            stale_after=dt.timedelta(minutes=minutes) if minutes is not None else None,
            log=lambda message: self.stdout.write(message),
        )
        self.stdout.write(f"已执行 {done} 个核对批次")
