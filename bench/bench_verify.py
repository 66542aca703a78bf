# ruff: noqa: E501 - the hand-written SQL is kept readable as one literal
"""Benchmark: household verification (核对) at scale.

    .venv/bin/python bench/bench_verify.py --households 1000000            # full run
    .venv/bin/python bench/bench_verify.py --households 10000 --scaling 10000,100000,1000000

Measures, on one generated dataset (deterministic, numpy; written as Parquet under bench/data/):

1. ``ibis-duckdb``: the ``doudi verify`` command end to end (read, validate, match, write hits and rejects),
   in a child process, with its peak RSS (from ``wait4``);
2. ``sql-duckdb``: one hand-written DuckDB SQL query producing the same hits (asserted identical);
3. ``python-loop``: a per-household Python loop (indexed SQLite look-ups + Decimal rules) on a sample,
   extrapolated to all households; its hits are asserted equal to the job's on the sample;
4. ``ibis-spark``: the same command with ``--engine spark`` (local mode) at a smaller size, hits asserted equal.

Sizes: ``persons = 3 × households``; each of the eight main sources has ``3 × households`` rows, and
``deaths`` has ``households / 10``.  Source rows belong to registry persons with a per-source probability
(the rest are other residents), 0.1 % carry malformed ID numbers and 0.05 % are exact duplicates.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
PY = sys.executable
AS_OF = dt.date(2024, 6, 30)
WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
CHECK = np.array(list("10X98765432"))
REGIONS = [
    "460105000000", "460106000000", "460107000000", "460108000000", "460202000000", "460203000000",
    "460204000000", "460205000000", "460400000000", "469001000000", "469002000000", "469005000000",
    "469006000000", "469007000000", "469021000000", "469022000000", "469023000000", "469024000000",
    "469025000000", "469026000000", "469027000000", "469028000000", "469029000000", "469030000000",
]  # fmt: skip
# Share of a source's rows that belong to registry persons (the rest: other residents).
MATCH = {
    "vehicles": 0.05, "real_estate": 0.25, "business": 0.02, "deposits": 0.5, "securities": 0.1,
    "pension": 0.2, "housing_fund": 0.15, "tax": 0.3, "deaths": 0.5,
}  # fmt: skip
MAIN_SOURCES = ("vehicles", "real_estate", "business", "deposits", "securities", "pension", "housing_fund", "tax")


# --- data generator ----------------------------------------------------------------------------------------
def ids_from_heads(heads: np.ndarray) -> pa.Array:
    total = np.zeros(len(heads), dtype=np.int64)
    for i in range(17):
        total += ((heads // 10 ** (16 - i)) % 10) * WEIGHTS[i]
    return pc.binary_join_element_wise(pc.cast(pa.array(heads), pa.string()), pa.array(CHECK[total % 11]), "")


def unique_ids(rng: np.random.Generator, n: int, base: int) -> pa.Array:
    """n distinct valid IDs: one per bucket of 1000 above ``base`` (17-digit), shuffled."""
    heads = base + np.arange(n, dtype=np.int64) * 1000 + rng.integers(0, 1000, n)
    return ids_from_heads(rng.permutation(heads))


def money(fen: np.ndarray) -> pa.Array:
    whole = pc.cast(pa.array(fen // 100), pa.string())
    cents = pc.utf8_lpad(pc.cast(pa.array(fen % 100), pa.string()), 2, "0")
    return pc.cast(pc.binary_join_element_wise(whole, cents, "."), pa.decimal128(18, 2))


def dates(days_from: dt.date, days: np.ndarray) -> pa.Array:
    epoch = (days_from - dt.date(1970, 1, 1)).days
    return pa.array((epoch + days).astype(np.int32), pa.date32())


def labels(prefix: str, values: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(pa.scalar(prefix), pc.cast(pa.array(values), pa.string()), "")


def generate(households: int, out: Path, seed: int = 2018) -> Path:
    """Write households.parquet, persons.parquet and sources/<kind>.parquet under ``out``; returns out."""
    done = out / "DONE"
    if done.exists():
        return out
    (out / "sources").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = households
    n_persons = 3 * n
    hh_of = np.sort(np.concatenate([np.arange(n), rng.integers(0, n, n_persons - n)]))
    hh_ids = labels("H", np.arange(n))
    hh = pa.table(
        {
            "household_id": hh_ids,
            "region_code": pa.array(np.array(REGIONS)[rng.integers(0, len(REGIONS), n)]),
            "area": pa.array(np.where(rng.random(n) < 0.4, "urban", "rural")),
            "declared_monthly_income": money(rng.integers(0, 300_000, n)),
        }
    )
    pq.write_table(hh, out / "households.parquet")
    person_ids = unique_ids(rng, n_persons, 46000119000000000)
    outsider_ids = unique_ids(rng, n_persons, 46010219000000000)
    pq.write_table(
        pa.table({"household_id": hh_ids.take(pa.array(hh_of)), "id_number": person_ids}), out / "persons.parquet"
    )

    def id_column(kind: str, rows: int) -> pa.Array:
        from_persons = rng.random(rows) < MATCH[kind]
        idx = rng.integers(0, n_persons, rows)
        ids = pc.if_else(pa.array(from_persons), person_ids.take(pa.array(idx)), outsider_ids.take(pa.array(idx)))
        bad = rng.random(rows) < 0.001  # malformed: the check character dropped
        return pc.if_else(pa.array(bad), pc.utf8_slice_codeunits(ids, 0, 17), ids)

    def day(rows: int, start: dt.date, span: int) -> pa.Array:
        return dates(start, rng.integers(0, span, rows))

    def write(kind: str, table: pa.Table) -> None:
        rows = table.num_rows
        dup = np.nonzero(rng.random(rows) < 0.0005)[0]
        if len(dup):  # exact duplicates: row i repeats row i-1
            idx = np.arange(rows)
            idx[dup[dup > 0]] = dup[dup > 0] - 1
            table = table.take(pa.array(idx))
        pq.write_table(table, out / "sources" / f"{kind}.parquet")

    r = 3 * n
    write(
        "vehicles",
        pa.table(
            {
                "id_number": id_column("vehicles", r),
                "plate": labels("琼A", np.arange(r)),
                "vehicle_type": pa.array(
                    np.array(["car", "truck", "motorcycle", "disabled_mobility"])[
                        rng.choice(4, r, p=[0.7, 0.1, 0.1, 0.1])
                    ]
                ),
                "value": money(rng.integers(100_000, 30_000_000, r)),
            }
        ),
    )
    write(
        "real_estate",
        pa.table(
            {
                "id_number": id_column("real_estate", r),
                "property_id": labels("P", rng.integers(0, 2 * r, r)),
                "usage": pa.array(
                    np.array(["residential", "commercial", "other"])[rng.choice(3, r, p=[0.85, 0.05, 0.1])]
                ),
                "area_m2": money(rng.integers(2_000, 20_000, r)),
                "value": money(rng.integers(1_000_000, 300_000_000, r)),
            }
        ),
    )
    write(
        "business",
        pa.table(
            {
                "id_number": id_column("business", r),
                "company_id": labels("C", rng.integers(0, r, r)),
                "role": pa.array(np.array(["legal_representative", "shareholder"])[rng.integers(0, 2, r)]),
                "registered_capital": money(rng.integers(0, 100_000_000, r)),
                "status": pa.array(np.where(rng.random(r) < 0.6, "active", "closed")),
            }
        ),
    )
    write(
        "deposits",
        pa.table(
            {
                "id_number": id_column("deposits", r),
                "institution": pa.array(np.array(["ICBC", "ABC", "BOC", "CCB", "HNRCU"])[rng.integers(0, 5, r)]),
                "balance": money((rng.lognormal(8, 2, r) * 100).astype(np.int64) % 1_000_000_000),
                "as_of": day(r, dt.date(2023, 1, 1), 730),
            }
        ),
    )
    write(
        "securities",
        pa.table(
            {
                "id_number": id_column("securities", r),
                "account": labels("A", rng.integers(0, r, r)),
                "market_value": money((rng.lognormal(9, 2, r) * 100).astype(np.int64) % 1_000_000_000),
                "as_of": day(r, dt.date(2023, 1, 1), 730),
            }
        ),
    )
    for kind, lo, hi in (("pension", 100_000, 500_000), ("housing_fund", 20_000, 300_000)):
        write(
            kind,
            pa.table(
                {
                    "id_number": id_column(kind, r),
                    "monthly_amount": money(rng.integers(lo, hi, r)),
                    "as_of": day(r, dt.date(2023, 1, 1), 730),
                }
            ),
        )
    write(
        "tax",
        pa.table(
            {
                "id_number": id_column("tax", r),
                "annual_income": money(rng.integers(0, 20_000_000, r)),
                "year": pa.array(rng.integers(2021, 2025, r), pa.int64()),
            }
        ),
    )
    d = max(1, n // 10)
    write("deaths", pa.table({"id_number": id_column("deaths", d), "death_date": day(d, dt.date(2015, 1, 1), 3650)}))
    done.write_text("ok")
    return out


# --- helpers -----------------------------------------------------------------------------------------------
def run_child(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a child process; returns (seconds, peak RSS in MiB, stdout)."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    assert proc.stdout is not None and proc.stderr is not None
    # wait4 gives this child's own rusage (ru_maxrss in KiB on Linux); read the pipes first to avoid blocking.
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{args[:4]} failed ({proc.returncode}):\n{err[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, out


def sorted_hits(path: Path) -> pa.Table:
    t = pq.read_table(path)
    t = t.cast(pa.schema([(c, pa.string()) for c in t.column_names]))
    return t.sort_by([(c, "ascending") for c in ("household_id", "id_number", "rule", "source", "value", "threshold")])


def verify_cmd(data: Path, out: Path, engine: str = "duckdb", extra: list[str] | None = None) -> list[str]:
    return [
        PY, "-m", "doudi.batch.cli", "verify",
        "--households", str(data / "households.parquet"), "--persons", str(data / "persons.parquet"),
        "--sources", str(data / "sources"), "--out", str(out), "--as-of", AS_OF.isoformat(),
        "--engine", engine, *(extra or []),
    ]  # fmt: skip


# --- hand-written SQL ----------------------------------------------------------------------------------------
SQL = """
COPY (
WITH
hh AS (SELECT h.household_id, h.region_code, h.area,
              CAST(h.declared_monthly_income * 100 AS BIGINT) AS declared_fen, p.*
       FROM read_parquet('{data}/households.parquet') h JOIN params p USING (region_code, area)),
persons AS (SELECT trim(household_id) AS household_id, upper(trim(id_number)) AS id_number
            FROM read_parquet('{data}/persons.parquet')),
size AS (SELECT household_id, count(DISTINCT id_number) AS size FROM persons GROUP BY ALL),
members AS (SELECT DISTINCT household_id, id_number FROM persons
            WHERE regexp_matches(id_number, '^[0-9]{{17}}[0-9X]$')
              AND substr(id_number, 18, 1) = substr('10X98765432', 1 + ({checksum}) % 11, 1)),
hhs AS (SELECT hh.*, coalesce(size.size, 0) AS size FROM hh LEFT JOIN size USING (household_id)),
src AS (SELECT 1),
veh AS (SELECT m.household_id, m.id_number, v.plate FROM members m
        JOIN read_parquet('{data}/sources/vehicles.parquet') v ON v.id_number = m.id_number
        WHERE lower(v.vehicle_type) <> 'disabled_mobility'),
veh_f AS (SELECT household_id, count(DISTINCT plate) AS n FROM veh GROUP BY ALL),
bus AS (SELECT m.household_id, m.id_number, b.company_id FROM members m
        JOIN read_parquet('{data}/sources/business.parquet') b ON b.id_number = m.id_number WHERE b.status = 'active'),
bus_f AS (SELECT household_id, count(DISTINCT company_id) AS n FROM bus GROUP BY ALL),
re AS (SELECT m.household_id, m.id_number, r.property_id, r.usage FROM members m
       JOIN read_parquet('{data}/sources/real_estate.parquet') r ON r.id_number = m.id_number
       WHERE r.usage IN ('residential', 'commercial')),
re_f AS (SELECT household_id, usage, count(DISTINCT property_id) AS n FROM re GROUP BY ALL),
dep AS (SELECT id_number, sum(amount) AS amount FROM (
          SELECT id_number, institution, max(CAST(balance * 100 AS BIGINT)) AS amount FROM (
            SELECT *, max(as_of) OVER (PARTITION BY id_number, institution) AS latest
            FROM read_parquet('{data}/sources/deposits.parquet') WHERE as_of <= DATE '{as_of}')
          WHERE as_of = latest GROUP BY ALL) GROUP BY ALL),
sec AS (SELECT id_number, sum(amount) AS amount FROM (
          SELECT id_number, account, max(CAST(market_value * 100 AS BIGINT)) AS amount FROM (
            SELECT *, max(as_of) OVER (PARTITION BY id_number, account) AS latest
            FROM read_parquet('{data}/sources/securities.parquet') WHERE as_of <= DATE '{as_of}')
          WHERE as_of = latest GROUP BY ALL) GROUP BY ALL),
fin AS (SELECT m.household_id, m.id_number, 'deposits' AS source, d.amount FROM members m JOIN dep d USING (id_number)
        WHERE d.amount > 0
        UNION ALL
        SELECT m.household_id, m.id_number, 'securities', s.amount FROM members m JOIN sec s USING (id_number)
        WHERE s.amount > 0),
fin_f AS (SELECT f.household_id, sum(f.amount) AS total, any_value(h.size) AS size,
                 any_value(h.financial_months * h.standard_fen) AS limit_fen
          FROM fin f JOIN hhs h USING (household_id) GROUP BY ALL HAVING sum(f.amount) > any_value(h.financial_months * h.standard_fen * h.size)),
tax AS (SELECT id_number, max(CAST(annual_income * 100 AS BIGINT)) AS annual FROM (
          SELECT *, max(year) OVER (PARTITION BY id_number) AS latest FROM read_parquet('{data}/sources/tax.parquet')
          WHERE year <= {year}) WHERE year = latest GROUP BY ALL),
pen AS (SELECT id_number, max(CAST(monthly_amount * 100 AS BIGINT)) AS amount FROM (
          SELECT *, max(as_of) OVER (PARTITION BY id_number) AS latest FROM read_parquet('{data}/sources/pension.parquet')
          WHERE as_of <= DATE '{as_of}') WHERE as_of = latest GROUP BY ALL),
hf AS (SELECT id_number, max(CAST(monthly_amount * 100 AS BIGINT)) AS amount FROM (
          SELECT *, max(as_of) OVER (PARTITION BY id_number) AS latest FROM read_parquet('{data}/sources/housing_fund.parquet')
          WHERE as_of <= DATE '{as_of}') WHERE as_of = latest GROUP BY ALL),
inc AS (SELECT m.household_id, m.id_number,
               coalesce((t.annual * 2 + 12) // 24, 0) AS tax, coalesce(p.amount, 0) AS pension, coalesce(f.amount, 0) AS fund
        FROM members m LEFT JOIN tax t USING (id_number) LEFT JOIN pen p USING (id_number) LEFT JOIN hf f USING (id_number)
        WHERE t.id_number IS NOT NULL OR p.id_number IS NOT NULL OR f.id_number IS NOT NULL),
inc_p AS (SELECT i.*, greatest(i.tax, (i.fund * 10000 * 2 + h.housing_fund_rate_bp) // (h.housing_fund_rate_bp * 2)) + i.pension AS income,
                 h.declared_fen, h.income_tolerance_bp
          FROM inc i JOIN hhs h USING (household_id) WHERE h.declared_fen IS NOT NULL),
inc_f AS (SELECT household_id, sum(income) AS verified, any_value(declared_fen) AS declared_fen,
                 any_value(income_tolerance_bp) AS tol FROM inc_p GROUP BY ALL
          HAVING sum(income) * 10000 > any_value(declared_fen) * (10000 + any_value(income_tolerance_bp))),
hits AS (
  SELECT m.household_id, m.id_number, 'deaths' AS source, 'death' AS rule, CAST(min(d.death_date) AS VARCHAR) AS value,
         '{as_of}' AS threshold
  FROM members m JOIN read_parquet('{data}/sources/deaths.parquet') d ON d.id_number = m.id_number
  WHERE d.death_date <= DATE '{as_of}' GROUP BY ALL
  UNION ALL
  SELECT DISTINCT v.household_id, v.id_number, 'vehicles', 'vehicle', CAST(f.n AS VARCHAR), CAST(h.max_vehicles AS VARCHAR)
  FROM veh v JOIN veh_f f USING (household_id) JOIN hhs h USING (household_id) WHERE f.n > h.max_vehicles
  UNION ALL
  SELECT DISTINCT b.household_id, b.id_number, 'business', 'business', CAST(f.n AS VARCHAR), CAST(h.max_business AS VARCHAR)
  FROM bus b JOIN bus_f f USING (household_id) JOIN hhs h USING (household_id) WHERE f.n > h.max_business
  UNION ALL
  SELECT DISTINCT r.household_id, r.id_number, 'real_estate',
         CASE r.usage WHEN 'residential' THEN 'housing' ELSE 'commercial_property' END, CAST(f.n AS VARCHAR),
         CAST(CASE r.usage WHEN 'residential' THEN h.max_housing ELSE h.max_commercial END AS VARCHAR)
  FROM re r JOIN re_f f USING (household_id, usage) JOIN hhs h USING (household_id)
  WHERE f.n > CASE r.usage WHEN 'residential' THEN h.max_housing ELSE h.max_commercial END
  UNION ALL
  SELECT f.household_id, f.id_number, f.source, 'financial_assets',
         printf('%d.%02d', (x.total * 2 + x.size) // (x.size * 2) // 100, (x.total * 2 + x.size) // (x.size * 2) % 100),
         printf('%d.%02d', x.limit_fen // 100, x.limit_fen % 100)
  FROM fin f JOIN fin_f x USING (household_id)
  UNION ALL
  SELECT i.household_id, i.id_number, s.source, 'income', printf('%d.%02d', x.verified // 100, x.verified % 100),
         printf('%d.%02d', (x.declared_fen * (10000 + x.tol) * 2 + 10000) // 20000 // 100,
                (x.declared_fen * (10000 + x.tol) * 2 + 10000) // 20000 % 100)
  FROM inc_p i JOIN inc_f x USING (household_id)
  JOIN (VALUES ('tax'), ('pension'), ('housing_fund')) s(source)
    ON (s.source = 'tax' AND i.tax > 0) OR (s.source = 'pension' AND i.pension > 0) OR (s.source = 'housing_fund' AND i.fund > 0)
)
SELECT * FROM hits ORDER BY household_id, id_number, rule, source
) TO '{out}' (FORMAT parquet)
"""


def hand_sql(data: Path, out: Path) -> str:
    terms = " + ".join(f"CAST(substr(id_number, {i + 1}, 1) AS INTEGER) * {w}" for i, w in enumerate(WEIGHTS))
    return SQL.format(data=data, out=out, as_of=AS_OF.isoformat(), year=AS_OF.year, checksum=terms)


SQL_CHILD = r"""
import sys, time, json, datetime as dt
import duckdb, pyarrow as pa
sys.path.insert(0, {src!r})
from doudi.batch.verification import resolve_parameters
from doudi.rules.parameters import load_parameters
con = duckdb.connect()
pairs = con.execute("SELECT DISTINCT region_code, area FROM read_parquet('{data}/households.parquet') ORDER BY ALL").fetchall()
params, _ = resolve_parameters(pairs, dt.date.fromisoformat({as_of!r}), load_parameters())
con.register("params", params)
con.execute({sql!r})
"""


# --- per-household Python loop ----------------------------------------------------------------------------
def python_loop(data: Path, sample: int, seed: int = 7) -> tuple[float, int, pa.Table]:
    """Per-household loop on a random sample: indexed SQLite look-ups and Decimal rules in Python.

    Returns (seconds for the loop, households in the sample, hits).  Loading the sample's rows into SQLite is
    not timed (a real loop would query the registry database directly).
    """
    import duckdb

    from doudi.batch.idnumber import is_valid_id
    from doudi.batch.verification import resolve_parameters
    from doudi.rules.parameters import load_parameters

    con = duckdb.connect()
    hh_all = con.sql(f"SELECT * FROM read_parquet('{data}/households.parquet')").to_arrow_table()
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(hh_all.num_rows, min(sample, hh_all.num_rows), replace=False))
    hh = hh_all.take(pa.array(idx))
    con.register("sample_hh", hh)
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE persons (household_id TEXT, id_number TEXT)")
    db.executemany(
        "INSERT INTO persons VALUES (?, ?)",
        con.execute(
            f"SELECT household_id, id_number FROM read_parquet('{data}/persons.parquet') "
            "WHERE household_id IN (SELECT household_id FROM sample_hh)"
        ).fetchall(),
    )
    db.execute("CREATE INDEX persons_hh ON persons (household_id)")
    con.execute(
        f"CREATE TABLE ids AS SELECT DISTINCT id_number FROM read_parquet('{data}/persons.parquet') "
        "WHERE household_id IN (SELECT household_id FROM sample_hh)"
    )
    for kind in (*MAIN_SOURCES, "deaths"):
        t = con.execute(
            f"SELECT * FROM read_parquet('{data}/sources/{kind}.parquet') WHERE id_number IN (SELECT id_number FROM ids)"
        ).to_arrow_table()
        cols = t.column_names
        db.execute(f"CREATE TABLE {kind} ({', '.join(cols)})")
        rows = [tuple(str(v) if v is not None else None for v in r.values()) for r in t.to_pylist()]
        db.executemany(f"INSERT INTO {kind} VALUES ({', '.join('?' * len(cols))})", rows)
        db.execute(f"CREATE INDEX {kind}_id ON {kind} (id_number)")
    pairs = sorted({(r["region_code"], r["area"]) for r in hh.select(["region_code", "area"]).to_pylist()})
    ptable, _ = resolve_parameters(pairs, AS_OF, load_parameters())
    params = {(r["region_code"], r["area"]): r for r in ptable.to_pylist()}

    def text(fen: int) -> str:
        return f"{fen // 100}.{fen % 100:02d}"

    def half_up(num: int, den: int) -> int:
        return int((Decimal(num) / Decimal(den)).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def fen(v: str) -> int:
        return int(Decimal(v) * 100)

    hits: list[tuple[str, str, str, str, str, str]] = []
    started = time.perf_counter()
    for h in hh.to_pylist():
        hid, p = h["household_id"], params[(h["region_code"], h["area"])]
        ids = [r[0] for r in db.execute("SELECT id_number FROM persons WHERE household_id = ?", (hid,))]
        size = len({i.strip().upper() for i in ids})
        members = sorted({i.strip().upper() for i in ids if is_valid_id(i.strip().upper())})
        if not members:
            continue
        marks = ",".join("?" * len(members))

        def rows(kind: str, _m: str = marks, _ids: list[str] = members) -> list[tuple[Any, ...]]:
            return db.execute(f"SELECT * FROM {kind} WHERE id_number IN ({_m})", _ids).fetchall()

        deaths: dict[str, str] = {}
        for pid, death in rows("deaths"):
            if death <= AS_OF.isoformat():
                deaths[pid] = min(deaths.get(pid, death), death)
        hits.extend((hid, pid, "deaths", "death", d, AS_OF.isoformat()) for pid, d in deaths.items())

        def count_rule(found: list[tuple[str, str]], limit: int, source: str, rule: str, _hid: str = hid) -> None:
            n = len({k for _, k in found})
            if n > limit:
                hits.extend((_hid, pid, source, rule, str(n), str(limit)) for pid in sorted({p for p, _ in found}))

        veh = [(r[0], r[1]) for r in rows("vehicles") if r[2].lower() != "disabled_mobility"]
        count_rule(veh, p["max_vehicles"], "vehicles", "vehicle")
        count_rule(
            [(r[0], r[1]) for r in rows("business") if r[4] == "active"], p["max_business"], "business", "business"
        )
        re_rows = rows("real_estate")
        count_rule([(r[0], r[1]) for r in re_rows if r[2] == "residential"], p["max_housing"], "real_estate", "housing")
        count_rule(
            [(r[0], r[1]) for r in re_rows if r[2] == "commercial"],
            p["max_commercial"],
            "real_estate",
            "commercial_property",
        )

        def latest(found: list[tuple[Any, ...]], key: int | None, amount: int, when: int) -> dict[str, int]:
            best: dict[tuple[str, Any], tuple[str, int]] = {}
            for r in found:
                if r[when] > AS_OF.isoformat():
                    continue
                k = (r[0], r[key] if key is not None else None)
                cand = (r[when], fen(r[amount]))
                if k not in best or cand > best[k]:
                    best[k] = cand
            per: dict[str, int] = defaultdict(int)
            for (pid, _), (_, a) in best.items():
                per[pid] += a
            return per

        dep = latest(rows("deposits"), 1, 2, 3)
        sec = latest(rows("securities"), 1, 2, 3)
        total = sum(dep.values()) + sum(sec.values())
        limit = p["financial_months"] * p["standard_fen"]
        if total > limit * size:
            pc_value = text(half_up(total, size))
            for src_name, per in (("deposits", dep), ("securities", sec)):
                hits.extend(
                    (hid, pid, src_name, "financial_assets", pc_value, text(limit)) for pid, a in per.items() if a > 0
                )
        if h["declared_monthly_income"] is not None:
            tax_best: dict[str, tuple[int, int]] = {}
            for pid, annual, year in rows("tax"):
                if int(year) <= AS_OF.year:
                    cand = (int(year), fen(annual))
                    if pid not in tax_best or cand > tax_best[pid]:
                        tax_best[pid] = cand
            tax = {pid: half_up(a, 12) for pid, (_, a) in tax_best.items()}
            pen = latest(rows("pension"), None, 1, 2)
            fund = latest(rows("housing_fund"), None, 1, 2)
            people = set(tax) | set(pen) | set(fund)
            verified = sum(
                max(tax.get(x, 0), half_up(fund.get(x, 0) * 10000, p["housing_fund_rate_bp"])) + pen.get(x, 0)
                for x in people
            )
            declared = int(Decimal(h["declared_monthly_income"]) * 100)
            tol = p["income_tolerance_bp"]
            if verified * 10000 > declared * (10000 + tol):
                lim = text(half_up(declared * (10000 + tol), 10000))
                for src_name, per in (("tax", tax), ("pension", pen), ("housing_fund", fund)):
                    hits.extend((hid, x, src_name, "income", text(verified), lim) for x, a in per.items() if a > 0)
    seconds = time.perf_counter() - started
    names = ["household_id", "id_number", "source", "rule", "value", "threshold"]
    table = pa.table(
        {k: [h[i] for h in hits] for i, k in enumerate(names)}, schema=pa.schema([(k, pa.string()) for k in names])
    )
    return seconds, len(idx), table


# --- main --------------------------------------------------------------------------------------------------
def bench(
    households: int, *, spark_households: int, sample: int, skip_spark: bool, threads: int | None
) -> dict[str, Any]:
    data = generate(households, DATA / f"hh{households}")
    outdir = ROOT / "bench" / "out"
    outdir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"households": households, "persons": 3 * households, "source_rows": 3 * households}
    extra = ["--threads", str(threads)] if threads else []
    ibis_out = outdir / f"ibis-{households}.parquet"
    secs, rss, stdout = run_child(verify_cmd(data, ibis_out, extra=extra))
    summary = json.loads(stdout)
    results["ibis_duckdb"] = {"seconds": round(secs, 2), "peak_rss_mib": round(rss), "hits": summary["hits"],
                              "flagged": summary["flagged_households"], "rejects": summary["rejects"]}  # fmt: skip
    sql_out = outdir / f"sql-{households}.parquet"
    code = SQL_CHILD.format(src=str(ROOT / "src"), data=data, as_of=AS_OF.isoformat(), sql=hand_sql(data, sql_out))
    secs, rss, _ = run_child([PY, "-c", code])
    results["sql_duckdb"] = {"seconds": round(secs, 2), "peak_rss_mib": round(rss)}
    a, b = sorted_hits(ibis_out), sorted_hits(sql_out)
    results["sql_identical"] = a.equals(b)
    if not results["sql_identical"]:
        print(f"MISMATCH ibis {a.num_rows} rows vs sql {b.num_rows} rows", file=sys.stderr)
    results["ratio_ibis_to_sql"] = round(results["ibis_duckdb"]["seconds"] / results["sql_duckdb"]["seconds"], 2)
    results["load_average_1m"] = os.getloadavg()[0]
    _save(results, outdir)
    if sample:
        loop_secs, n_sample, loop_hits = python_loop(data, sample)
        results["python_loop"] = {
            "sample_households": n_sample,
            "seconds_sample": round(loop_secs, 2),
            "per_household_ms": round(1000 * loop_secs / n_sample, 3),
            "extrapolated_seconds": round(loop_secs / n_sample * households),
            "hits_match_job": _loop_matches(a, loop_hits, data, sample),
        }
        _save(results, outdir)
    if not skip_spark:
        sdata = generate(spark_households, DATA / f"hh{spark_households}")
        s_out = outdir / f"spark-{spark_households}.parquet"
        d_out = outdir / f"ibis-{spark_households}.parquet"
        secs, rss, _ = run_child(verify_cmd(sdata, s_out, "spark"), env={"DOUDI_SPARK_MASTER": "local[*]"})
        dsecs, _drss, _ = run_child(verify_cmd(sdata, d_out, extra=extra))
        results["ibis_spark_local"] = {"households": spark_households, "seconds": round(secs, 2),
                                       "driver_peak_rss_mib": round(rss), "duckdb_seconds_same_data": round(dsecs, 2),
                                       "identical_to_duckdb": sorted_hits(s_out).equals(sorted_hits(d_out))}  # fmt: skip
    return results


def _save(results: dict[str, Any], outdir: Path) -> None:
    """Keep partial results on disk (the Spark phase is long)."""
    (outdir / f"results-{results['households']}.json").write_text(json.dumps(results, indent=2))


def _loop_matches(job_hits: pa.Table, loop_hits: pa.Table, data: Path, sample: int, seed: int = 7) -> bool:
    hh = pq.read_table(data / "households.parquet", columns=["household_id"])
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(hh.num_rows, min(sample, hh.num_rows), replace=False))
    ids = hh.column("household_id").take(pa.array(idx))
    mine = job_hits.filter(pc.is_in(job_hits.column("household_id"), ids))
    order = [(c, "ascending") for c in ("household_id", "id_number", "rule", "source", "value", "threshold")]
    return mine.sort_by(order).equals(loop_hits.sort_by(order))


def scaling(sizes: list[int], threads: int | None) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        data = generate(n, DATA / f"hh{n}")
        out = ROOT / "bench" / "out" / f"ibis-{n}.parquet"
        secs, rss, stdout = run_child(verify_cmd(data, out, extra=["--threads", str(threads)] if threads else []))
        s = json.loads(stdout)
        rows.append({"households": n, "seconds": round(secs, 2), "peak_rss_mib": round(rss), "hits": s["hits"]})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--households", type=int, default=1_000_000)
    ap.add_argument("--spark-households", type=int, default=100_000)
    ap.add_argument("--sample", type=int, default=2_000, help="households in the Python-loop sample (0: skip)")
    ap.add_argument("--skip-spark", action="store_true")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--scaling", default="", help="comma-separated household counts for the scaling run")
    ap.add_argument("--generate-only", action="store_true")
    args = ap.parse_args()
    if args.generate_only:
        t0 = time.perf_counter()
        generate(args.households, DATA / f"hh{args.households}")
        print(f"generated {args.households} households in {time.perf_counter() - t0:.1f}s")
        return
    if args.scaling:
        rows = scaling([int(x) for x in args.scaling.split(",")], args.threads)
        print(json.dumps(rows, indent=2))
        return
    results = bench(
        args.households,
        spark_households=args.spark_households,
        sample=args.sample,
        skip_spark=args.skip_spark,
        threads=args.threads,
    )
    print(json.dumps(results, indent=2, ensure_ascii=False))
    print_table(results)


def print_table(r: dict[str, Any]) -> None:
    rows = [
        ("ibis-duckdb (doudi verify)", r["ibis_duckdb"]["seconds"], r["ibis_duckdb"]["peak_rss_mib"], ""),
        ("hand-written DuckDB SQL", r["sql_duckdb"]["seconds"], r["sql_duckdb"]["peak_rss_mib"],
         f"identical={r['sql_identical']} ratio={r['ratio_ibis_to_sql']}"),
    ]  # fmt: skip
    if "python_loop" in r:
        lp = r["python_loop"]
        rows.append(("python loop (extrapolated)", lp["extrapolated_seconds"], None,
                     f"{lp['per_household_ms']} ms/household on {lp['sample_households']}; match={lp['hits_match_job']}"))  # fmt: skip
    if "ibis_spark_local" in r:
        sp = r["ibis_spark_local"]
        rows.append((f"ibis-spark local ({sp['households']:,} hh)", sp["seconds"], sp["driver_peak_rss_mib"],
                     f"duckdb same data {sp['duckdb_seconds_same_data']}s identical={sp['identical_to_duckdb']}"))  # fmt: skip
    print(f"\n{r['households']:,} households / {r['persons']:,} persons / 8 sources × {r['source_rows']:,} rows")
    print(f"{'measure':<32} {'seconds':>10} {'peak MiB':>9}  note")
    for name, secs, rss, note in rows:
        print(f"{name:<32} {secs:>10} {rss if rss is not None else '-':>9}  {note}")


if __name__ == "__main__":
    main()
