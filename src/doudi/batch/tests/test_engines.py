"""The DuckDB engine's memory limit: the default, sizing by households, and an explicit limit kept."""

from __future__ import annotations

import pytest

from doudi.batch.engines import DuckDBEngine, auto_memory_limit_mib


def _limit(engine: DuckDBEngine) -> str:
    return str(engine.con.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0])


@pytest.mark.parametrize(
    ("households", "machine_mib", "expected"),
    [
        (1_000, 24_000, 2048),  # small runs keep the 2 GB default
        (1_000_000, 24_000, 2048),
        (3_000_000, 24_000, 2460),  # 0.82 GB per million households above that
        (10_000_000, 24_000, 8200),  # what the 10M benchmark needed (8 GB)
        (30_000_000, 24_000, 14_400),  # at most 60 % of the machine
        (1_000, 2_000, 1200),  # a small machine: 60 % of it, not the 2 GB default
    ],
)
def test_the_automatic_memory_limit_grows_with_the_households_within_the_machine(households, machine_mib, expected):
    assert auto_memory_limit_mib(households, machine_mib) == expected


def test_an_engine_without_a_limit_is_sized_for_the_run_and_an_explicit_limit_is_kept():
    auto = DuckDBEngine()
    explicit = DuckDBEngine(memory_limit="1GB")
    try:
        before = _limit(auto)
        auto.size_for(100)
        assert _limit(auto) == before  # small run: the default stays
        auto.size_for(10_000_000)
        assert auto.memory_limit.endswith("MiB") and _limit(auto) != before
        explicit.size_for(10_000_000)
        assert explicit.memory_limit == "1GB" and _limit(explicit) != _limit(auto)
        assert _limit(explicit).startswith("953")  # DuckDB shows 1 GB (10^9 bytes) as 953.6 MiB
    finally:
        auto.close()
        explicit.close()


def test_on_a_small_machine_the_engine_takes_the_smaller_limit(monkeypatch):
    monkeypatch.setattr("doudi.batch.engines.machine_memory_mib", lambda: 2_000)
    engine = DuckDBEngine()
    try:
        engine.size_for(100)
        assert engine.memory_limit == "1200MiB" and _limit(engine).startswith("1.1")  # 1200 MiB = 1.1 GiB
    finally:
        engine.close()


def test_released_inputs_are_forgotten_by_duckdb_so_their_rows_can_be_freed(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    engine = DuckDBEngine()
    try:
        arrow = engine.from_arrow(pa.table({"id_number": ["a", "b"]}))
        pq.write_table(pa.table({"id_number": ["c"]}), tmp_path / "deaths.parquet")
        parquet = engine.read_parquet(tmp_path / "deaths.parquet")  # a projection over a view
        kept = engine.materialise(arrow.select("id_number"))
        assert engine.to_arrow(parquet).num_rows == 1 and engine.to_arrow(kept).num_rows == 2

        def names() -> set[str]:
            return {r[0] for r in engine.con.raw_sql("SELECT table_name FROM information_schema.tables").fetchall()}

        before = names()
        engine.release(arrow)
        engine.release(parquet)
        gone = before - names()
        assert len(gone) == 2 and all(n.startswith(("doudi_arrow_", "doudi_pq_")) for n in gone)
        assert engine.to_arrow(kept).num_rows == 2  # what was computed from them stays
    finally:
        engine.close()
