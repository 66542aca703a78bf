"""Builders for tiny verification fixtures: valid ID numbers and input files in a temporary directory."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from doudi.batch.idnumber import check_char
from doudi.batch.sources import SOURCE_KINDS

AS_OF = dt.date(2024, 6, 30)
HAINAN = "469001000000"  # 五指山市: rural standard 640 from 2023-09-01 (provincial value)


def pid(n: int, birth: str = "19800101") -> str:
    """A valid 18-character ID number; different ``n`` give different IDs."""
    head = f"469001{birth}{n:03d}"
    assert len(head) == 17
    return head + check_char(head)


def bad_check(valid: str) -> str:
    """The same ID with a wrong check character."""
    wrong = "0" if valid[-1] != "0" else "1"
    return valid[:-1] + wrong


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for row in rows:
            w.writerow(["" if v is None else v for v in row])
    return path


class Case:
    """A verification case on disk: households.csv, persons.csv and sources/."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sources = root / "sources"
        self.sources.mkdir(parents=True, exist_ok=True)
        self.households_path = root / "households.csv"
        self.persons_path = root / "persons.csv"

    def households(self, rows: Iterable[Sequence[Any]], declared: bool = True) -> Case:
        header = ["household_id", "region_code", "area"] + (["declared_monthly_income"] if declared else [])
        write_csv(self.households_path, header, rows)
        return self

    def persons(self, rows: Iterable[Sequence[Any]]) -> Case:
        write_csv(self.persons_path, ["household_id", "id_number"], rows)
        return self

    def source(
        self, kind: str, rows: Iterable[Sequence[Any]], encoding: str = "utf-8", header: Sequence[str] | None = None
    ) -> Path:
        cols = header or SOURCE_KINDS[kind].column_names
        return write_csv(self.sources / f"{kind}.csv", cols, rows, encoding=encoding)

    def parquet_source(self, kind: str, columns: Mapping[str, pa.Array | list[Any]]) -> Path:
        path = self.sources / f"{kind}.parquet"
        pq.write_table(pa.table(dict(columns)), path)
        return path

    def run(self, **kwargs: Any) -> Any:
        from doudi.batch.verification import run_verification

        kwargs.setdefault("as_of", AS_OF)
        return run_verification(self.households_path, self.persons_path, self.sources, **kwargs)


def hits_of(result: Any) -> list[tuple[str, ...]]:
    return [tuple(r.values()) for r in result.hits.to_pylist()]
