"""Benchmarks (docs/benchmarks.md). `python -m bench` runs them all; each also runs alone:

    .venv/bin/python -m bench.bench_seed   [--households N] [--keep]
    .venv/bin/python -m bench.bench_search [--requests N] [--keep]

They use their own PostgreSQL database (`doudi_bench`, created and dropped here), never the one in DATABASE_URL.
Results are printed and saved as JSON under bench/out/.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
BENCH_DB = os.environ.get("DOUDI_BENCH_DB", "doudi_bench")
# The server to create the benchmark database on (connects to its maintenance database).
ADMIN_URL = os.environ.get("DOUDI_BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def bench_url() -> str:
    parts = urlsplit(ADMIN_URL)
    return urlunsplit(parts._replace(path=f"/{BENCH_DB}"))


def _admin() -> Any:
    import psycopg

    return psycopg.connect(ADMIN_URL.replace("postgres://", "postgresql://", 1), autocommit=True)


def database_exists() -> bool:
    with _admin() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone() is not None


def create_database() -> None:
    """A fresh, empty benchmark database (any previous one is dropped)."""
    drop_database()
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def drop_database() -> None:
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def migrate() -> None:
    env = {**os.environ, "DATABASE_URL": bench_url()}
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], check=True, env=env, cwd=ROOT)


def django_setup() -> None:
    """Point this process's Django at the benchmark database (must run before Django is first configured)."""
    os.environ["DATABASE_URL"] = bench_url()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "doudi.config.settings")
    import django
    from django.conf import settings

    if settings.configured and settings.DATABASES["default"]["NAME"] != BENCH_DB:
        raise RuntimeError("Django is already configured for another database")
    django.setup()


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    with _admin() as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("shared_buffers", "max_wal_size", "work_mem", "maintenance_work_mem")
        }
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "cpu": cpu,
        "postgresql": pg,
        "postgresql_settings": settings,
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    return {
        "n": len(ordered),
        "p50": round(pick(0.50), 2),
        "p95": round(pick(0.95), 2),
        "max": round(ordered[-1], 2),
        "mean": round(statistics.fmean(ordered), 2),
    }


def save(name: str, data: dict[str, Any]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = OUT / f"{name}-{stamp}.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def say(message: str) -> None:
    print(message, flush=True)
