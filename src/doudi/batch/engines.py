"""Execution engines for batch jobs: Ibis on DuckDB (default) or on PySpark.

Jobs are written once as Ibis expressions; an :class:`Engine` only knows how to bring files and Arrow tables
into its backend (with a 1-based row number, for provenance) and how to bring results back.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa

ENGINES = ("duckdb", "spark")
ROW_COL = "_source_row"
_names = itertools.count(1)


def _name(prefix: str) -> str:
    return f"doudi_{prefix}_{os.getpid()}_{next(_names)}"


class Engine:
    """One backend connection plus the few operations that differ between backends."""

    name = "base"

    def __init__(self, con: Any) -> None:
        self.con = con

    def read_parquet(self, path: Path) -> ir.Table:
        raise NotImplementedError

    def from_arrow(self, table: pa.Table) -> ir.Table:
        return ibis.memtable(table)

    def to_arrow(self, expr: ir.Table) -> pa.Table:
        result = self.con.to_pyarrow(expr)
        assert isinstance(result, pa.Table)
        return result

    def materialise(self, expr: ir.Table) -> ir.Table:
        """Compute ``expr`` once and return a table reading the result (used for inputs of several rules)."""
        return expr

    def release(self, table: ir.Table) -> None:
        """Free a table made by :meth:`materialise`, or a file or Arrow table brought in (its rows, once read)."""

    def close(self) -> None:
        """Release the connection (a Spark session passed in by the caller is left running)."""

    def size_for(self, households: int) -> None:
        """Adapt resources to a run over ``households`` (called once they are counted; a no-op by default)."""


# DuckDB's own default is 80 % of the machine's memory; the job needs far less, and what does not fit (temporary
# tables, large joins) goes to a temporary directory of its own, removed when the engine closes.
DEFAULT_MEMORY_LIMIT = "2GB"
# Unless a limit is given, a run over more households gets more: the rules step holds per-household figures
# and the larger joins, about 0.8 GB per million households (measured: 10M households ran with 8 GB and
# stopped with "Out of Memory" at 2 GB), never less than the default nor more than this share of the memory.
MIB_PER_MILLION_HOUSEHOLDS = 820
MAX_MEMORY_SHARE = 0.6


def machine_memory_mib() -> int:
    """Physical memory, or the cgroup's limit when the process runs under a lower one (containers)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        cgroup = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if cgroup.isdigit():
            total = min(total, int(cgroup))
    except OSError:
        pass
    return total // (1024 * 1024)


def auto_memory_limit_mib(households: int, machine_mib: int | None = None) -> int:
    """The DuckDB memory limit (MiB) for a run over ``households`` when none was given."""
    machine = machine_memory_mib() if machine_mib is None else machine_mib
    wanted = max(2048, -(-households * MIB_PER_MILLION_HOUSEHOLDS // 1_000_000))
    return max(min(wanted, int(machine * MAX_MEMORY_SHARE)), min(2048, machine // 2))


class DuckDBEngine(Engine):
    name = "duckdb"

    def __init__(
        self, *, threads: int | None = None, memory_limit: str | None = None, temp_directory: str | None = None
    ) -> None:
        con = ibis.duckdb.connect()
        if threads:
            con.raw_sql(f"SET threads = {int(threads)}")
        self._auto_memory = memory_limit is None
        limit = (memory_limit or DEFAULT_MEMORY_LIMIT).replace("'", "")
        con.raw_sql(f"SET memory_limit = '{limit}'")
        self.memory_limit = limit
        self._own_temp = temp_directory is None
        # Named, not created: DuckDB creates it only if it has to write there.
        self.temp_directory = temp_directory or os.path.join(tempfile.gettempdir(), _name("spill"))
        con.raw_sql(f"SET temp_directory = '{self.temp_directory.replace(chr(39), '')}'")
        # Insertion order is irrelevant (results are sorted) and keeping it costs memory.
        con.raw_sql("SET preserve_insertion_order = false")
        self._views: set[str] = set()
        super().__init__(con)

    def size_for(self, households: int) -> None:
        if not self._auto_memory:
            return  # an explicit limit is kept as given
        mib = auto_memory_limit_mib(households)
        if mib != 2048:  # the default stays as set; larger runs get more, a small machine less
            self.memory_limit = f"{mib}MiB"
            self.con.raw_sql(f"SET memory_limit = '{self.memory_limit}'")

    def from_arrow(self, table: pa.Table) -> ir.Table:
        # Registered under a name of our own (zero-copy), so that :meth:`release` can unregister it: Ibis keeps a
        # memtable registered until the process exits, which holds every CSV file read in a run in memory.
        name = _name("arrow")
        self.con.con.register(name, table)
        self._views.add(name)
        return self.con.table(name)

    def read_parquet(self, path: Path) -> ir.Table:
        name = _name("pq")
        self._views.add(name)
        t = self.con.read_parquet(str(path), table_name=name, file_row_number=True)
        if ROW_COL in t.columns:
            return t.drop("file_row_number")
        return t.rename({ROW_COL: "file_row_number"}).mutate(**{ROW_COL: ibis._[ROW_COL] + 1})

    def to_arrow(self, expr: ir.Table) -> pa.Table:
        # Streamed in batches: a result collected whole inside DuckDB (tens of millions of hits at 10M
        # households) must fit in the memory limit, whereas streamed batches leave it as soon as they are read.
        # (``_to_duckdb_relation`` is what Ibis's own ``to_pyarrow`` uses; its ``to_pyarrow_batches`` calls a
        # DuckDB method that DuckDB 2 no longer has.)
        relation = self.con._to_duckdb_relation(expr)
        result = relation.to_arrow_reader(1_000_000).read_all()
        assert isinstance(result, pa.Table)
        return result

    def materialise(self, expr: ir.Table) -> ir.Table:
        return self.con.create_table(_name("tmp"), expr, temp=True)

    def release(self, table: ir.Table) -> None:
        try:
            name = table.get_name()
        except AttributeError:  # a file read with a projection on top (read_parquet): the view beneath it
            for op in table.op().find(ops.DatabaseTable):
                self._drop_view(op.name)
            return
        if name in self._views:
            self._drop_view(name)
        else:
            self.con.drop_table(name, force=True)

    def _drop_view(self, name: str) -> None:
        """Forget a file or an Arrow table brought in (only its name: the file stays; Arrow rows are freed)."""
        if name not in self._views:
            return
        self._views.discard(name)
        if name.startswith("doudi_arrow_"):
            self.con.con.unregister(name)
        else:
            self.con.raw_sql(f'DROP VIEW IF EXISTS "{name}"')

    def close(self) -> None:
        self.con.disconnect()
        if self._own_temp:
            shutil.rmtree(self.temp_directory, ignore_errors=True)


class SparkEngine(Engine):
    name = "spark"

    def __init__(self, session: Any | None = None) -> None:
        self._own = session is None
        if session is None:
            from pyspark.sql import SparkSession

            builder = SparkSession.builder.appName("doudi-verify")
            master = os.environ.get("DOUDI_SPARK_MASTER")
            if master:
                builder = builder.master(master)
            session = builder.getOrCreate()
        self.session = session
        self._cached: dict[str, Any] = {}
        super().__init__(ibis.pyspark.connect(session))

    def read_parquet(self, path: Path) -> ir.Table:
        df = self.session.read.parquet(str(path))
        if ROW_COL not in df.columns:
            # Spark's hidden per-file row index (0-based, in file order): exact and computed by the scan.
            df = df.selectExpr("*", f"_metadata.row_index + 1 AS {ROW_COL}")
        name = _name("pq")
        df.createOrReplaceTempView(name)
        return self.con.table(name)

    def from_arrow(self, table: pa.Table) -> ir.Table:
        df = self.session.createDataFrame(table)
        name = _name("arrow")
        df.createOrReplaceTempView(name)
        return self.con.table(name)

    def to_arrow(self, expr: ir.Table) -> pa.Table:
        sql = self.con.compile(expr)
        df = self.session.sql(sql)
        table = df.toArrow()
        assert isinstance(table, pa.Table)
        return table

    def materialise(self, expr: ir.Table) -> ir.Table:
        df = self.session.sql(self.con.compile(expr)).cache()
        name = _name("tmp")
        df.createOrReplaceTempView(name)
        self._cached[name] = df
        return self.con.table(name)

    def release(self, table: ir.Table) -> None:
        name = table.get_name()
        df = self._cached.pop(name, None)
        if df is not None:
            df.unpersist()
        self.session.catalog.dropTempView(name)

    def close(self) -> None:
        if self._own and os.environ.get("DOUDI_SPARK_KEEP") != "1":
            self.session.stop()


def connect(engine: str = "duckdb", *, spark_session: Any | None = None, **options: Any) -> Engine:
    """Open an engine by name; ``options`` go to the DuckDB engine (threads, memory_limit, temp_directory)."""
    if engine == "duckdb":
        return DuckDBEngine(**options)
    if engine == "spark":
        return SparkEngine(spark_session)
    raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
