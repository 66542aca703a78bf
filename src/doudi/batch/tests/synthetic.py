"""A small deterministic dataset that exercises every rule and several reject reasons (for engine parity)."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from doudi.batch.idnumber import check_char
from doudi.batch.tests.helpers import write_csv

REGIONS = ["469001000000", "460202000000", "460105000000", "469030000000"]


def make_dataset(root: Path, households: int = 300, seed: int = 11) -> Path:
    rng = random.Random(seed)
    src = root / "sources"
    src.mkdir(parents=True, exist_ok=True)
    counter = iter(range(1, 10**6))

    def new_id() -> str:
        head = f"4600011990{next(counter):07d}"
        return head + check_char(head)

    hh_rows, person_rows, people = [], [], []
    for h in range(households):
        hid = f"H{h:05d}"
        declared = "" if rng.random() < 0.1 else f"{rng.randint(0, 300000) / 100:.2f}"
        hh_rows.append((hid, rng.choice(REGIONS), rng.choice(["urban", "rural"]), declared))
        for _ in range(rng.randint(1, 5)):
            p = new_id()
            people.append(p)
            person_rows.append((hid, p))
    person_rows.append(("H00000", "12345"))  # a malformed member ID
    write_csv(root / "households.csv", ["household_id", "region_code", "area", "declared_monthly_income"], hh_rows)
    write_csv(root / "persons.csv", ["household_id", "id_number"], person_rows)
    outsiders = [new_id() for _ in range(200)]

    def some_id() -> str:
        r = rng.random()
        if r < 0.02:
            return rng.choice(people)[:-1] + "Z"  # malformed
        return rng.choice(people) if r < 0.6 else rng.choice(outsiders)

    def day(start: dt.date, span: int) -> str:
        return (start + dt.timedelta(days=rng.randrange(span))).isoformat()

    def money(lo: int, hi: int) -> str:
        return f"{rng.randint(lo, hi) / 100:.2f}"

    n = households
    write_csv(src / "vehicles.csv", ["id_number", "plate", "vehicle_type", "value"],
              [(some_id(), f"琼A{rng.randint(0, 400)}", rng.choice(["car", "truck", "disabled_mobility"]),
                money(1, 10**7)) for _ in range(n // 3)])  # fmt: skip
    write_csv(src / "real_estate.csv", ["id_number", "property_id", "usage", "area_m2", "value"],
              [(some_id(), f"P{rng.randint(0, n)}", rng.choice(["residential"] * 4 + ["commercial", "other"]),
                money(1000, 20000), money(10**5, 10**8)) for _ in range(n)])  # fmt: skip
    rows = [(some_id(), f"C{rng.randint(0, 50)}", "shareholder", money(0, 10**8), rng.choice(["active", "closed"]))
            for _ in range(n // 5)]  # fmt: skip
    rows.append(rows[0])  # a duplicate row
    rows.append((f"\t{rows[1][0]}\r", f" {rows[1][1]}\r", *rows[1][2:]))  # a padded copy: trimmed, a duplicate
    write_csv(src / "business.csv", ["id_number", "company_id", "role", "registered_capital", "status"], rows)

    def parquet(kind: str, columns: dict[str, pa.Array]) -> None:
        pq.write_table(pa.table(columns), src / f"{kind}.parquet")

    def dec(values: list[str]) -> pa.Array:
        return pa.array(values).cast(pa.decimal128(18, 2))

    def dates(values: list[str]) -> pa.Array:
        return pa.array([dt.date.fromisoformat(v) for v in values], pa.date32())

    k = 2 * n
    parquet("deposits", {"id_number": pa.array([some_id() for _ in range(k)]),
                         "institution": pa.array([rng.choice(["ICBC", "BOC"]) for _ in range(k)]),
                         "balance": dec([money(0, 3 * 10**6) for _ in range(k)]),
                         "as_of": dates([day(dt.date(2023, 6, 1), 500) for _ in range(k)])})  # fmt: skip
    parquet("securities", {"id_number": pa.array([some_id() for _ in range(n)]),
                           "account": pa.array([f"A{rng.randint(0, 99)}" for _ in range(n)]),
                           "market_value": dec([money(0, 2 * 10**6) for _ in range(n)]),
                           "as_of": dates([day(dt.date(2023, 6, 1), 500) for _ in range(n)])})  # fmt: skip
    for kind in ("pension", "housing_fund"):
        parquet(kind, {"id_number": pa.array([some_id() for _ in range(n)]),
                       "monthly_amount": dec([money(0, 300000) for _ in range(n)]),
                       "as_of": dates([day(dt.date(2023, 6, 1), 500) for _ in range(n)])})  # fmt: skip
    parquet("tax", {"id_number": pa.array([some_id() for _ in range(n)]),
                    "annual_income": dec([money(0, 5 * 10**6) for _ in range(n)]),
                    "year": pa.array([rng.randint(2021, 2025) for _ in range(n)], pa.int64())})  # fmt: skip
    write_csv(src / "deaths.csv", ["id_number", "death_date"],
              [(some_id(), day(dt.date(2020, 1, 1), 2000)) for _ in range(n // 10)])  # fmt: skip
    return root
