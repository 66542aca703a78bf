"""Seed the synthetic province into a fresh PostgreSQL database and time it.

Target: 1,000,000 households in ≤ 5 minutes on the 2-core reference machine (issue 2, item 8).
Schema migration is timed separately and not counted.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench import create_database, django_setup, drop_database, machine, migrate, save, say

TARGET_SECONDS = 300.0


def run(*, households: int = 1_000_000, seed: int = 2018, keep: bool = False) -> dict[str, Any]:
    info = machine()
    say(f"== bench_seed: {households:,} households, seed {seed}, {info['nproc']} cores, load {info['load_average']}")
    create_database()
    began = time.perf_counter()
    migrate()
    migrate_seconds = time.perf_counter() - began
    django_setup()
    from django.db import connection

    from doudi.registry.seed import TABLE_MODELS, seed_province

    began = time.perf_counter()

    def progress(message: str) -> None:
        say(f"  {time.perf_counter() - began:7.1f}s  {message}")

    result = seed_province(households=households, seed=seed, progress=progress)
    seconds = time.perf_counter() - began
    tables = [m._meta.db_table for m in TABLE_MODELS.values()]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) AND NOT convalidated", [tables]
        )
        unvalidated = cursor.fetchone()[0]
        cursor.execute("SELECT pg_database_size(current_database())")
        size_bytes = cursor.fetchone()[0]
    rows = sum(result.counts()[k] for k in ("households", "persons", "memberships", "incomes", "assets", "expenses"))
    data = {
        "benchmark": "seed",
        "machine": info,
        "load_average_after": machine()["load_average"],
        "households": result.households,
        "persons": result.persons,
        "rows": rows,
        "counts": result.counts(),
        "migrate_seconds": round(migrate_seconds, 1),
        "seconds": round(seconds, 1),
        "households_per_second": round(result.households / seconds),
        "persons_per_second": round(result.persons / seconds),
        "rows_per_second": round(rows / seconds),
        "target_seconds": TARGET_SECONDS * households / 1_000_000,
        "ratio_to_target": round(seconds / (TARGET_SECONDS * households / 1_000_000), 2),
        "unvalidated_constraints": unvalidated,
        "database_size_mib": round(size_bytes / 1024 / 1024),
    }
    say(
        f"  seeded {result.households:,} households / {result.persons:,} persons / {rows:,} registry rows "
        f"in {seconds:.1f} s: {data['households_per_second']:,} households/s, {data['persons_per_second']:,} "
        f"persons/s; target {data['target_seconds']:.0f} s → ratio {data['ratio_to_target']} "
        f"({'PASS' if data['ratio_to_target'] <= 1 else 'FAIL'}); database {data['database_size_mib']:,} MiB"
    )
    if unvalidated:
        say(f"  WARNING: {unvalidated} constraints are not validated")
    say(f"  saved {save('seed', data)}")
    connection.close()
    if not keep:
        drop_database()
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database (for bench_search)")
    args = parser.parse_args(argv)
    run(households=args.households, seed=args.seed, keep=args.keep)


if __name__ == "__main__":
    main()
