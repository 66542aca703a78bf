"""Benchmark: dibao reassessment of a whole caseload with the rules engine.

    .venv/bin/python bench/bench_reassess.py                      # 1,000,000 households
    .venv/bin/python bench/bench_reassess.py --households 100000 --cases 50
    .venv/bin/python bench/bench_reassess.py --single-only           # single case + doudi assess only
    .venv/bin/python bench/bench_reassess.py --households 100000 --spark   # and PySpark local mode

Measures, on one generated caseload (deterministic, numpy/pyarrow via ``doudi.rules.synthetic``; written as
Parquet under ``bench/data/reassess-<N>/`` and reused):

1. ``ibis-duckdb``: ``evaluate_caseload("dibao", ...)`` on Ibis tables read from the Parquet files — every
   household-level variable as a trace column (~70 columns) — executed on DuckDB to Arrow;
2. ``sql-duckdb``: one hand-written DuckDB SQL query computing the same monthly amounts from the same Parquet
   files and the same resolved parameter table; amounts asserted identical to (1) for every household;
3. ``evaluate()``: single-case evaluation (one household as a dict), p50/p95 (wall and CPU) of ``--cases`` runs
   after the first call (which compiles the SQL or reads it from the disk cache and prepares it; reported
   separately);
4. ``doudi assess``: wall time of the whole process, with an empty user SQL cache and warm (an empty user
   cache still finds the SQL shipped in the package by ``doudi rules compile``, run by ``make install``;
   without it the first process compiles).

``--single-only`` measures only 3 and 4 (no caseload is generated).

Results are printed as a table and written to ``bench/out/reassess-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from doudi.rules import evaluate, evaluate_caseload, get_program, load_parameters  # noqa: E402
from doudi.rules.evaluation import resolve_parameters  # noqa: E402
from doudi.rules.synthetic import DEFAULT_AS_OF, generate  # noqa: E402

DATA = ROOT / "bench" / "data"
OUT = ROOT / "bench" / "out"
AS_OF = DEFAULT_AS_OF
TABLES = ("households", "members", "incomes", "expenses", "assets")

# The dibao rules written by hand as one DuckDB query (same semantics as programs/dibao.py).
SQL = """
WITH
h AS (
  SELECT hh.household_id, hh.gradual_exit_month AS exit_month,
         CAST(hh.gradual_exit_previous_amount AS DECIMAL(38,6)) AS exit_prev,
         CAST(p.dibao_standard AS DECIMAL(38,6)) AS std, p.*
  FROM households hh JOIN params p USING (region_code, area)
),
m AS (
  SELECT m.household_id, m.member_id, m.serious_illness,
         NOT list_contains(h.dibao_excluded_statuses, m.status) AS counted,
         year(DATE '{as_of}') - year(m.birth_date)
           - CASE WHEN month(DATE '{as_of}') * 100 + day(DATE '{as_of}')
                       < month(m.birth_date) * 100 + day(m.birth_date) THEN 1 ELSE 0 END AS age,
         coalesce(m.disability_grade <= h.dibao_severe_disability_max_grade
                  OR (m.disability_category IN (5, 6)
                      AND m.disability_grade <= h.dibao_intellectual_mental_severe_max_grade), false) AS severe,
         h.std, h.dibao_increment_mode AS mode, h.dibao_elderly_age, h.dibao_minor_age,
         CAST(h.dibao_elderly_rate AS DECIMAL(38,6)) AS r_old, CAST(h.dibao_minor_rate AS DECIMAL(38,6)) AS r_minor,
         CAST(h.dibao_severe_disability_rate AS DECIMAL(38,6)) AS r_severe,
         CAST(h.dibao_serious_illness_rate AS DECIMAL(38,6)) AS r_ill,
         CAST(h.dibao_employment_deduction_rate AS DECIMAL(38,6)) AS emp_rate,
         CAST(h.dibao_employment_deduction_cap_multiple AS DECIMAL(38,6)) AS emp_cap,
         h.dibao_excluded_income_kinds AS excluded_kinds
  FROM members m JOIN h USING (household_id)
),
i AS (
  SELECT i.household_id, i.member_id, i.kind, CAST(i.monthly_amount AS DECIMAL(38,6)) AS amount,
         i.member_id IS NULL OR coalesce(m.counted, false) AS counted,
         list_contains(h.dibao_excluded_income_kinds, i.kind) AS excluded
  FROM incomes i JOIN h USING (household_id)
  LEFT JOIN m ON m.household_id = i.household_id AND m.member_id = i.member_id
),
e AS (
  SELECT e.household_id, e.member_id,
         CASE WHEN e.member_id IS NULL OR coalesce(m.counted, false) THEN
           CAST(e.monthly_amount AS DECIMAL(38,6)) * CAST(CASE e.kind
             WHEN 'medical' THEN h.dibao_medical_expense_share
             WHEN 'education' THEN h.dibao_education_expense_share
             WHEN 'disability_rehabilitation' THEN h.dibao_rehabilitation_expense_share
             WHEN 'rent' THEN h.dibao_rent_expense_share
             ELSE h.dibao_other_expense_share END AS DECIMAL(38,6))
         ELSE 0 END AS deductible
  FROM expenses e JOIN h USING (household_id)
  LEFT JOIN m ON m.household_id = e.household_id AND m.member_id = e.member_id
),
a AS (
  SELECT a.household_id, a.kind, CAST(a.value AS DECIMAL(38,6)) AS value, a."count" AS n,
         list_contains(h.dibao_financial_asset_kinds, a.kind) AS financial,
         list_contains(h.dibao_vehicle_kinds, a.kind) AS vehicle,
         a.member_id IS NULL OR coalesce(m.counted, false) AS counted
  FROM assets a JOIN h USING (household_id)
  LEFT JOIN m ON m.household_id = a.household_id AND m.member_id = a.member_id
),
mi AS (
  SELECT household_id, member_id,
         sum(amount) FILTER (WHERE kind = 'wage') AS wage,
         sum(amount) FILTER (WHERE NOT excluded) AS own
  FROM i WHERE member_id IS NOT NULL GROUP BY ALL
),
me AS (SELECT household_id, member_id, sum(deductible) AS rigid FROM e WHERE member_id IS NOT NULL GROUP BY ALL),
m2 AS (
  SELECT m.*, coalesce(mi.own, 0) AS own, coalesce(me.rigid, 0) AS rigid,
         CASE WHEN m.counted THEN least(m.emp_rate * coalesce(mi.wage, 0), m.emp_cap * m.std) ELSE 0 END AS emp,
         CASE WHEN m.counted THEN m.std * (CASE WHEN m.mode = 'sum' THEN
             (CASE WHEN m.age >= m.dibao_elderly_age THEN m.r_old ELSE 0 END)
           + (CASE WHEN m.age < m.dibao_minor_age THEN m.r_minor ELSE 0 END)
           + (CASE WHEN m.severe THEN m.r_severe ELSE 0 END)
           + (CASE WHEN m.serious_illness THEN m.r_ill ELSE 0 END)
           ELSE greatest(CASE WHEN m.age >= m.dibao_elderly_age THEN m.r_old ELSE 0 END,
                         CASE WHEN m.age < m.dibao_minor_age THEN m.r_minor ELSE 0 END,
                         CASE WHEN m.severe THEN m.r_severe ELSE 0 END,
                         CASE WHEN m.serious_illness THEN m.r_ill ELSE 0 END) END)
         ELSE 0 END AS increment
  FROM m LEFT JOIN mi USING (household_id, member_id) LEFT JOIN me USING (household_id, member_id)
),
hm AS (
  SELECT household_id, count(*) FILTER (WHERE counted) AS size, sum(emp) AS emp, sum(increment) AS incr
  FROM m2 GROUP BY ALL
),
hi AS (
  SELECT household_id, sum(amount) FILTER (WHERE counted) AS gross,
         sum(amount) FILTER (WHERE counted AND excluded) AS excl
  FROM i GROUP BY ALL
),
he AS (SELECT household_id, sum(deductible) AS rigid FROM e GROUP BY ALL),
ha AS (
  SELECT household_id,
         sum(value) FILTER (WHERE counted AND financial) AS fin,
         sum(n) FILTER (WHERE counted AND vehicle) AS vehicles,
         sum(n) FILTER (WHERE counted AND kind = 'housing') AS homes,
         sum(n) FILTER (WHERE counted AND kind = 'non_residential_property') AS nonres,
         sum(n) FILTER (WHERE counted AND kind = 'business_registration') AS biz
  FROM a GROUP BY ALL
),
hh AS (
  SELECT h.*, coalesce(hm.size, 0) AS size, coalesce(hm.incr, 0) AS incr,
         greatest(coalesce(hi.gross, 0) - coalesce(hi.excl, 0) - coalesce(hm.emp, 0) - coalesce(he.rigid, 0), 0)
           AS income,
         h.std * coalesce(hm.size, 0) AS threshold,
         coalesce(ha.fin, 0) <= h.dibao_financial_limit_months * h.std * coalesce(hm.size, 0)
           AND coalesce(ha.vehicles, 0) <= h.dibao_max_vehicles
           AND coalesce(ha.homes, 0) <= h.dibao_max_housing
           AND coalesce(ha.nonres, 0) <= h.dibao_max_non_residential
           AND coalesce(ha.biz, 0) <= h.dibao_max_business_registrations AS assets_ok
  FROM h LEFT JOIN hm USING (household_id) LEFT JOIN hi USING (household_id)
  LEFT JOIN he USING (household_id) LEFT JOIN ha USING (household_id)
),
hh2 AS (
  SELECT *, size >= 1 AND income < threshold AND assets_ok AS regular,
         size >= 1 AND NOT income < threshold AND assets_ok
           AND income < CAST(dibao_edge_income_multiple AS DECIMAL(38,6)) * threshold AS edge,
         CASE WHEN exit_month BETWEEN 1 AND len(dibao_gradual_exit_schedule)
              THEN CAST(dibao_gradual_exit_schedule[exit_month] AS DECIMAL(38,6)) ELSE 0 END AS factor
  FROM hh
),
single AS (
  SELECT m2.household_id, count(*) AS n,
         sum(greatest(greatest(m2.std - greatest(m2.own - m2.emp - m2.rigid, 0), 0),
                      CAST(hh2.dibao_minimum_payment_ratio AS DECIMAL(38,6)) * m2.std) + m2.increment) AS amount
  FROM m2 JOIN hh2 USING (household_id)
  WHERE hh2.dibao_single_person_enabled AND hh2.edge AND m2.counted AND (m2.severe OR m2.serious_illness)
  GROUP BY ALL
)
SELECT hh2.household_id,
       CAST(round(CASE
         WHEN regular THEN greatest(threshold - income,
                                    CAST(dibao_minimum_payment_ratio AS DECIMAL(38,6)) * std * size) + incr
         WHEN size >= 1 AND NOT income < threshold AND assets_ok AND factor > 0 AND exit_prev IS NOT NULL
           THEN exit_prev * factor
         WHEN coalesce(single.n, 0) > 0 THEN single.amount
         ELSE 0 END, 2) AS DECIMAL(18,2)) AS dibao_amount
FROM hh2 LEFT JOIN single USING (household_id)
"""


def dataset(households: int) -> Path:
    directory = DATA / f"reassess-{households}"
    if all((directory / f"{t}.parquet").exists() for t in TABLES):
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tables = generate(households, seed=20180101, as_of=AS_OF)
    for name, table in tables.items():
        pq.write_table(table, directory / f"{name}.parquet")
    rows = {k: v.num_rows for k, v in tables.items()}
    print(f"generated {rows} in {time.perf_counter() - t0:.1f}s -> {directory}")
    return directory


def run_ibis(directory: Path) -> tuple[float, pa.Table]:
    con = ibis.duckdb.connect()
    t0 = time.perf_counter()
    tables = {t: con.read_parquet(directory / f"{t}.parquet", table_name=t) for t in TABLES}
    expr = evaluate_caseload("dibao", tables, AS_OF)
    assert not isinstance(expr, pa.Table)
    result = con.to_pyarrow(expr)
    return time.perf_counter() - t0, result


def run_spark(directory: Path) -> tuple[float, pa.Table]:
    """The same Ibis expressions on PySpark in local mode (all cores), reading the same Parquet files; the
    result is brought back as Arrow so that it can be compared with DuckDB's."""
    from pyspark.sql import SparkSession

    cores = os.cpu_count() or 1
    session = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("doudi-bench-reassess")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(2 * cores))
        .config("spark.driver.memory", "6g")
        .getOrCreate()
    )
    con = ibis.pyspark.connect(session)
    t0 = time.perf_counter()
    tables = {t: con.read_parquet(str(directory / f"{t}.parquet"), table_name=t) for t in TABLES}
    expr = evaluate_caseload("dibao", tables, AS_OF)
    assert not isinstance(expr, pa.Table)
    result = con.to_pyarrow(expr)
    seconds = time.perf_counter() - t0
    session.stop()
    return seconds, result


def run_arrow(directory: Path) -> tuple[float, pa.Table]:
    """``evaluate_caseload`` on Arrow tables read from the same Parquet files: on DuckDB it runs the cached
    caseload statement (compiled from the same expressions; ``doudi rules compile`` ships it) instead of
    building and compiling the Ibis expression again."""
    t0 = time.perf_counter()
    tables = {t: pq.read_table(directory / f"{t}.parquet") for t in TABLES}
    result = evaluate_caseload("dibao", tables, AS_OF)
    assert isinstance(result, pa.Table)
    return time.perf_counter() - t0, result


def run_sql(directory: Path) -> tuple[float, pa.Table]:
    import duckdb

    con = duckdb.connect()
    t0 = time.perf_counter()
    for t in TABLES:
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{directory / f'{t}.parquet'}')")
    keys = con.sql("SELECT DISTINCT region_code, area FROM households").fetchall()
    params, _ = resolve_parameters(get_program("dibao"), load_parameters(), keys, AS_OF)
    con.register("params", params)
    result = con.sql(SQL.format(as_of=AS_OF.isoformat())).to_arrow_table()
    return time.perf_counter() - t0, result


SINGLE_CASE: dict[str, Any] = {
    "as_of": AS_OF.isoformat(),
    "region_code": "469001",
    "area": "rural",
    "household": {
        "members": [
            {"id": "a", "birth_date": "1948-03-02", "relation": "head"},
            {
                "id": "b",
                "birth_date": "1980-01-01",
                "relation": "child",
                "disability_category": 4,
                "disability_grade": 1,
            },
            {"id": "c", "birth_date": "2010-05-05", "relation": "grandchild"},
        ],
        "incomes": [
            {"member": "b", "kind": "wage", "monthly_amount": "500"},
            {"kind": "business", "monthly_amount": "100"},
        ],
        "expenses": [{"member": "a", "kind": "medical", "monthly_amount": "50"}],
        "assets": [{"kind": "deposit", "value": "3000"}, {"kind": "housing"}],
    },
}


def _percentile(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_single(cases: int) -> dict[str, float]:
    """In-process: the first call (compiles the SQL or reads it from the disk cache, prepares it), then
    ``cases`` calls with the wall and CPU time of each (CPU time is the steadier figure on a busy host)."""
    t0 = time.perf_counter()
    evaluate("dibao", SINGLE_CASE)
    first = time.perf_counter() - t0
    times, cpu = [], []
    for _ in range(cases):
        t0, c0 = time.perf_counter(), time.process_time()
        evaluate("dibao", SINGLE_CASE)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {
        "first_call_s": first,
        "median_s": statistics.median(times),
        "p95_s": _percentile(times, 0.95),
        "cpu_median_s": statistics.median(cpu),
        "cpu_p95_s": _percentile(cpu, 0.95),
    }


def run_process(runs: int = 3) -> dict[str, float]:
    """Wall time of a whole ``doudi assess dibao`` process: once with an empty SQL cache, then warm."""
    import subprocess
    import tempfile

    doudi = Path(sys.executable).with_name("doudi")
    with tempfile.TemporaryDirectory() as tmp:
        case = Path(tmp) / "case.json"
        case.write_text(json.dumps(SINGLE_CASE), encoding="utf-8")
        env = {**os.environ, "DOUDI_CACHE_DIR": str(Path(tmp) / "cache")}
        walls = []
        for _ in range(runs + 1):
            t0 = time.perf_counter()
            subprocess.run(
                [str(doudi), "assess", "dibao", "--input", str(case)], env=env, check=True, capture_output=True
            )
            walls.append(time.perf_counter() - t0)
    return {"assess_cold_s": walls[0], "assess_warm_s": statistics.median(walls[1:])}


def print_single(single: dict[str, float], process: dict[str, float]) -> None:
    print(f"{'evaluate() one case, first call':<34} {single['first_call_s']:>9.3f}")
    print(f"{'evaluate() one case, p50 / p95':<34} {single['median_s']:>9.3f} / {single['p95_s']:.3f}")
    print(f"{'  (CPU time p50 / p95)':<34} {single['cpu_median_s']:>9.3f} / {single['cpu_p95_s']:.3f}")
    print(f"{'doudi assess, empty user cache':<34} {process['assess_cold_s']:>9.3f}")
    print(f"{'doudi assess, warm':<34} {process['assess_warm_s']:>9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=200, help="single-case evaluate() repetitions")
    parser.add_argument("--single-only", action="store_true", help="only the single-case and process timings")
    parser.add_argument("--spark", action="store_true", help="also run the same expressions on PySpark (local mode)")
    args = parser.parse_args()

    if args.single_only:
        single = run_single(args.cases)
        process = run_process()
        OUT.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        record = {
            "cpus": os.cpu_count(),
            "cases": args.cases,
            **{k: round(v, 4) for k, v in {**single, **process}.items()},
        }
        (OUT / f"single-{stamp}.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
        print_single(single, process)
        return

    directory = dataset(args.households)
    sizes = {t: pq.ParquetFile(directory / f"{t}.parquet").metadata.num_rows for t in TABLES}
    ibis_s, ibis_result = run_ibis(directory)
    arrow_s, arrow_result = run_arrow(directory)
    sql_s, sql_result = run_sql(directory)

    ibis_amounts = ibis_result.select(["household_id", "dibao_amount"]).sort_by("household_id")
    sql_amounts = sql_result.sort_by("household_id")
    assert ibis_amounts.num_rows == sql_amounts.num_rows == args.households
    assert ibis_amounts.column("household_id").equals(sql_amounts.column("household_id"))
    assert ibis_amounts.column("dibao_amount").equals(sql_amounts.column("dibao_amount")), "amounts differ"
    arrow_sorted = arrow_result.sort_by("household_id")
    assert arrow_sorted.equals(ibis_result.sort_by("household_id")), "cached-SQL result differs"
    spark_s = None
    if args.spark:
        spark_s, spark_result = run_spark(directory)
        spark_amounts = spark_result.select(["household_id", "dibao_amount"]).sort_by("household_id")
        assert spark_amounts.column("dibao_amount").equals(ibis_amounts.column("dibao_amount")), "Spark differs"
    eligible = sum(1 for x in ibis_result.column("dibao_eligible").to_pylist() if x)
    total = sum(ibis_result.column("dibao_amount").to_pylist())

    single = run_single(args.cases)
    process = run_process()
    results = {
        "as_of": AS_OF.isoformat(),
        "households": args.households,
        "rows": sizes,
        "cpus": os.cpu_count(),
        "ibis_duckdb_s": round(ibis_s, 2),
        "ibis_trace_columns": ibis_result.num_columns,
        "arrow_duckdb_cached_sql_s": round(arrow_s, 2),
        "sql_duckdb_s": round(sql_s, 2),
        "ibis_pyspark_local_s": round(spark_s, 2) if spark_s is not None else None,
        "amounts_identical": True,
        "eligible_households": eligible,
        "monthly_cost_yuan": str(total),
        "single_case": {k: round(v, 4) for k, v in single.items()},
        "process": {k: round(v, 3) for k, v in process.items()},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    (OUT / f"reassess-{stamp}.json").write_text(json.dumps(results, indent=2), encoding="utf-8")

    print(f"\ndibao reassessment, {args.households:,} households ({sizes['members']:,} members), as of {AS_OF}")
    print(f"{'engine':<34} {'seconds':>9}")
    print(f"{'ibis → duckdb (' + str(ibis_result.num_columns) + ' trace columns)':<34} {ibis_s:>9.2f}")
    print(f"{'arrow → cached SQL on duckdb':<34} {arrow_s:>9.2f}")
    print(f"{'hand-written duckdb SQL (amounts)':<34} {sql_s:>9.2f}")
    if spark_s is not None:
        print(f"{'ibis → pyspark local (same trace)':<34} {spark_s:>9.2f}")
    print_single(single, process)
    print(f"amounts identical for all households; eligible {eligible:,}; monthly cost {total:,} yuan")


if __name__ == "__main__":
    main()
