"""The ``doudi verify`` command (batch household verification); the main CLI adds it with :func:`register`.

Also runnable on its own, e.g. under ``spark-submit``: ``python -m doudi.batch.cli verify ...``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.csv as pv
import pyarrow.parquet as pq
import typer

from .errors import BatchInputError

OUT_FORMATS = {".csv": "csv", ".parquet": "parquet"}
MEMORY_HELP = "DuckDB 内存上限（默认按户数：2GB 起，每百万户约 0.8GB，至多本机内存的 60%；超出部分写入临时目录）"


def _fail(code: str, message: str, field: str) -> None:
    typer.echo(json.dumps({"code": code, "message": message, "field": field}, ensure_ascii=False), err=True)
    raise typer.Exit(2)


def _parse_params(specs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for spec in specs:
        path, sep, value = spec.partition("=")
        if not sep or not path.strip() or not value.strip():
            _fail("invalid_option", f"expected PATH=VALUE, got {spec!r}", "--param")
        out[path.strip()] = value.strip()
    return out


def rejects_path_for(out: Path) -> Path:
    """Default rejects file: ``hits.csv`` → ``hits.rejects.csv``."""
    return out.with_name(f"{out.stem}.rejects{out.suffix}")


def write_table(table: pa.Table, path: Path) -> None:
    """Write CSV (UTF-8 with BOM, so Excel opens Chinese text correctly) or Parquet by the extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        pq.write_table(table, path)
        return
    with path.open("wb") as fh:
        fh.write(b"\xef\xbb\xbf")
        pv.write_csv(table, fh)


def verify(
    households: Annotated[
        Path, typer.Option(help="家庭文件 households (CSV/Parquet/Excel): household_id, region_code, area")
    ],
    persons: Annotated[Path, typer.Option(help="成员文件 persons (CSV/Parquet/Excel): household_id, id_number")],
    sources: Annotated[Path, typer.Option(help="数据源目录：<kind>.csv|parquet|xlsx")],
    out: Annotated[Path, typer.Option(help="命中结果输出文件（.csv 或 .parquet）")],
    engine: Annotated[str, typer.Option(help="duckdb（默认）或 spark")] = "duckdb",
    as_of: Annotated[str | None, typer.Option("--as-of", help="核对基准日 YYYY-MM-DD（默认今天）")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", help="参数覆盖 PATH=VALUE，可重复")] = None,
    rejects: Annotated[Path | None, typer.Option(help="拒收行输出文件（默认：<out>.rejects.<ext>）")] = None,
    threads: Annotated[int | None, typer.Option(help="DuckDB 线程数（默认：全部核心）")] = None,
    memory_limit: Annotated[str | None, typer.Option(help=MEMORY_HELP)] = None,
) -> None:
    """核对 Verify households against other departments' data; one output row per hit, JSON summary on stdout."""
    if out.suffix.lower() not in OUT_FORMATS:
        _fail("invalid_option", "the output file must end in .csv or .parquet", "--out")
    rejects_out = rejects or rejects_path_for(out)
    if rejects_out.suffix.lower() not in OUT_FORMATS:
        _fail("invalid_option", "the rejects file must end in .csv or .parquet", "--rejects")
    if engine not in ("duckdb", "spark"):
        _fail("invalid_option", "engine must be duckdb or spark", "--engine")
    try:
        day = dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    except ValueError:
        _fail("invalid_option", f"not a date YYYY-MM-DD: {as_of!r}", "--as-of")
        return
    overrides = _parse_params(param or [])
    for path, name in ((households, "--households"), (persons, "--persons")):
        if not path.is_file():
            _fail("file_not_found", f"no such file: {path}", name)
    if not sources.is_dir():
        _fail("not_a_directory", f"no such directory: {sources}", "--sources")

    from .verification import run_verification

    options: dict[str, Any] = {}
    if engine == "duckdb":
        options = {"threads": threads, "memory_limit": memory_limit}
    with _progress() as progress:
        try:
            result = run_verification(
                households,
                persons,
                sources,
                as_of=day,
                engine=engine,
                overrides=overrides,
                progress=progress,
                engine_options=options,
            )
        except BatchInputError as exc:
            progress_stop = getattr(progress, "stop", None)
            if progress_stop:
                progress_stop()
            _fail(exc.code, exc.message, exc.field)
            return
    write_table(result.hits, out)
    write_table(result.rejects, rejects_out)
    summary = dict(result.summary)
    summary["out"] = str(out)
    summary["rejects_file"] = str(rejects_out)
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))


class _progress:
    """A rich progress bar on stderr when it is a terminal; otherwise a no-op callback."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _progress:
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("[bold]核对[/bold] {task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()
        return self

    def __call__(self, message: str, done: int, total: int) -> None:
        if self._bar is None:
            return
        if self._task is None:
            self._task = self._bar.add_task(message, total=total)
        self._bar.update(self._task, description=message, completed=done)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __exit__(self, *exc: object) -> None:
        self.stop()


def verify_ingest(
    sources: Annotated[Path, typer.Option(help="原始数据源目录：<kind>.csv|parquet|xlsx")],
    store: Annotated[Path, typer.Option(help="校验后的 Parquet 存放目录")],
) -> None:
    """数据源入库 Validate source files and store them as Parquet with provenance (rejects beside them)."""
    from .engines import connect
    from .sources import discover_sources, ingest_source

    try:
        files, ignored = discover_sources(sources)
        eng = connect("duckdb")
        try:
            reports = [ingest_source(eng, sf.path, store, kind=kind).to_json() for kind, sf in files.items()]
        finally:
            eng.close()
    except BatchInputError as exc:
        _fail(exc.code, exc.message, exc.field)
        return
    typer.echo(json.dumps({"sources": reports, "files_ignored": ignored}, ensure_ascii=False, indent=2))


def register(app: typer.Typer) -> None:
    """Add ``verify`` (and ``verify-ingest``) to the main ``doudi`` CLI."""
    app.command("verify")(verify)
    app.command("verify-ingest")(verify_ingest)


def main() -> None:
    app = typer.Typer(add_completion=False, no_args_is_help=True)
    register(app)

    @app.callback()
    def _root() -> None:
        """doudi batch commands."""

    app(prog_name="doudi")


if __name__ == "__main__":
    main()
