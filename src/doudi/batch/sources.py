"""Other departments' data for household verification (核对): kinds, reading, validation, provenance.

A source file is named after its kind (``vehicles.csv``, ``deposits.parquet``, ``tax.xlsx``) and must hold
that kind's required columns; more columns are allowed and kept.  Reading never silently drops a row:

* a file that cannot be used at all (unknown kind, missing column, empty, unreadable, two files for one
  kind) raises :class:`~doudi.batch.errors.BatchInputError` and the run refuses to start;
* a row that cannot be used is kept aside as a *reject* with its file, row number, reason and column
  (``invalid_id_number``, ``missing_value``, ``bad_value``, ``duplicate_row``, ``encoding_error``,
  ``malformed_row``), and the run completes on the other rows.

CSV files may be UTF-8 (with or without BOM), GBK/GB18030, or a mix of both line by line (files
concatenated from several offices); the encoding found is reported.

Validation is a set of Ibis expressions, so it runs unchanged on DuckDB and on Spark.  Provenance columns
added to every row: ``_source_file``, ``_source_sha256``, ``_ingested_at`` (UTC, ISO 8601) and
``_source_row`` (1-based data row: the header is row 0; blank CSV lines are not counted).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import json
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

from .engines import ROW_COL, Engine
from .errors import BatchInputError
from .idnumber import normalise_id_expr, strip_blanks, with_id_check

ColumnType = Literal["id", "str", "money", "decimal", "date", "int", "enum"]
FORMATS = {".csv": "csv", ".parquet": "parquet", ".xlsx": "xlsx"}
PROVENANCE = ("_source_file", "_source_sha256", "_ingested_at", ROW_COL)
ENCODING_FLAG = "_encoding_error"
# Parquet key-value metadata written by ingest_source: marks a validated, canonical source file.
STAMP_KEY = b"doudi.source"
STAMP_VERSION = 1
MONEY = "decimal(18, 2)"
# At most 15 integer digits so that DECIMAL(18, 2) never overflows (on Spark an overflow is an error).
_MONEY_RE = r"^[0-9]{1,15}(\.[0-9]{1,2})?$"
_DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_INT_RE = r"^[0-9]{1,9}$"

REJECT_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("file", pa.string()),
        ("row", pa.int64()),
        ("reason", pa.string()),
        ("column", pa.string()),
        ("id_number", pa.string()),
        ("raw_value", pa.string()),
    ]
)
REJECT_REASONS = (
    "invalid_id_number",
    "missing_value",
    "bad_value",
    "duplicate_row",
    "encoding_error",
    "malformed_row",
    "unknown_household",
)


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    choices: tuple[str, ...] = ()
    required: bool = True


@dataclass(frozen=True)
class SourceKind:
    name: str
    label: str
    columns: tuple[Column, ...]
    department: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _kind(name: str, label: str, department: str, *columns: Column) -> SourceKind:
    return SourceKind(name, label, (Column("id_number", "id"), *columns), department)


SOURCE_KINDS: dict[str, SourceKind] = {
    k.name: k
    for k in (
        _kind(
            "vehicles",
            "车辆登记",
            "公安交管",
            Column("plate", "str"),
            Column("vehicle_type", "str"),
            Column("value", "money"),
        ),
        _kind(
            "real_estate",
            "不动产登记",
            "自然资源和规划",
            Column("property_id", "str"),
            Column("usage", "enum", ("residential", "commercial", "other")),
            Column("area_m2", "decimal"),
            Column("value", "money"),
        ),
        _kind(
            "business",
            "市场主体登记",
            "市场监督管理",
            Column("company_id", "str"),
            Column("role", "str"),
            Column("registered_capital", "money"),
            Column("status", "enum", ("active", "closed")),
        ),
        _kind(
            "deposits",
            "银行存款",
            "银行",
            Column("institution", "str"),
            Column("balance", "money"),
            Column("as_of", "date"),
        ),
        _kind(
            "securities",
            "证券",
            "证券",
            Column("account", "str"),
            Column("market_value", "money"),
            Column("as_of", "date"),
        ),
        _kind("pension", "养老金", "社会保险经办", Column("monthly_amount", "money"), Column("as_of", "date")),
        _kind("housing_fund", "住房公积金", "住房公积金", Column("monthly_amount", "money"), Column("as_of", "date")),
        _kind("tax", "纳税记录", "税务", Column("annual_income", "money"), Column("year", "int")),
        _kind("deaths", "死亡（殡葬、户籍注销）", "公安、民政", Column("death_date", "date")),
    )
}


# --- files ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceFile:
    kind: str
    path: Path

    @property
    def format(self) -> str:
        return FORMATS[self.path.suffix.lower()]


def discover_sources(sources_dir: Path) -> tuple[dict[str, SourceFile], list[str]]:
    """Map each kind to its file in ``sources_dir``; returns (files, ignored file names).

    Refuses (BatchInputError) a data file for an unknown kind and two files for one kind.  Hidden files,
    other extensions and the ``*.rejects.*`` files written by :func:`ingest_source` are ignored.
    """
    if not sources_dir.is_dir():
        raise BatchInputError("not_a_directory", "sources must be a directory of <kind>.csv|parquet|xlsx", "sources")
    found: dict[str, SourceFile] = {}
    ignored: list[str] = []
    for path in sorted(sources_dir.iterdir()):
        if path.name.startswith(".") or path.is_dir():
            ignored.append(path.name)
            continue
        suffix = path.suffix.lower()
        if suffix not in FORMATS or path.stem.endswith(".rejects"):
            ignored.append(path.name)
            continue
        kind = path.stem
        if kind not in SOURCE_KINDS:
            raise BatchInputError(
                "unknown_source_kind",
                f"no source kind {kind!r}; file names must be one of {', '.join(SOURCE_KINDS)} "
                "with the extension .csv, .parquet or .xlsx",
                f"sources/{path.name}",
            )
        if kind in found:
            raise BatchInputError(
                "duplicate_source",
                f"two files for source {kind!r}: {found[kind].path.name} and {path.name}; keep one",
                f"sources/{path.name}",
            )
        found[kind] = SourceFile(kind, path)
    return found, ignored


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class RawTable:
    """A file brought into an engine: all its columns plus ``_source_row`` (and the encoding flag for CSV)."""

    table: ir.Table
    file: str
    format: str
    sha256: str
    encoding: str | None = None
    load_rejects: list[dict[str, Any]] = field(default_factory=list)
    rows: int | None = None
    ingested_kind: str | None = None  # set when the file was written by ingest_source
    stored_rejects: pa.Table | None = None  # the rejects file written next to it, if any


_CHUNK = 1 << 22  # bytes read at a time when checking and transcoding CSV files
BOM = b"\xef\xbb\xbf"


def _is_utf8(path: Path) -> bool:
    """Whether the whole file is UTF-8 (read in chunks: the file is never held in memory)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _decode_line(line: bytes) -> tuple[str, bool]:
    """One line of a CSV file as text, and whether it was UTF-8 with non-ASCII characters.

    UTF-8, else GB18030; bytes that are neither become U+FFFD and the row is rejected later (``encoding_error``).
    """
    try:
        return line.decode("utf-8"), not line.isascii()
    except UnicodeDecodeError:
        return line.decode("gb18030", errors="replace"), False


def _transcode(path: Path, target: Path) -> str:
    """Write ``path`` as UTF-8 to ``target`` line by line; returns the encoding found: gbk or mixed(utf-8+gbk).

    Each line is decoded by :func:`_decode_line`.
    """
    utf8_lines = 0
    with path.open("rb") as src, target.open("wb") as dst:
        for n, line in enumerate(src):
            text, utf8 = _decode_line(line[3:] if n == 0 and line.startswith(BOM) else line)
            utf8_lines += utf8
            dst.write(text.encode("utf-8"))
    return "mixed(utf-8+gbk)" if utf8_lines else "gbk"


def _only_blanks(path: Path) -> bool:
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            if chunk.strip():
                return False
    return True


def _header(text: str, where: str) -> list[str]:
    first = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
    names = [n.strip().lstrip("\ufeff") for n in first]
    _check_names(names, where)
    return names


def _check_names(names: list[str], where: str) -> None:
    if not names or all(n == "" for n in names):
        raise BatchInputError("empty_file", "the file has no header row", where)
    blank = [i + 1 for i, n in enumerate(names) if n == ""]
    if blank:
        raise BatchInputError("bad_header", f"header cell(s) {blank} are empty", where)
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise BatchInputError("bad_header", f"duplicate column name(s) {dupes}", f"{where}:{dupes[0]}")


def read_csv_arrow(path: Path, where: str) -> tuple[pa.Table, str, list[dict[str, Any]]]:
    """Read a CSV file as all-string columns with ``_source_row``; returns (table, encoding, malformed rows).

    A UTF-8 file (the common case) is parsed by pyarrow straight from the file; a GBK or mixed file is first
    transcoded to UTF-8 in a temporary file, line by line. Either way the file is never held in memory as text.
    """
    if _only_blanks(path):
        raise BatchInputError("empty_file", "the file is empty (not even a header row)", where)
    with path.open("rb") as fh:
        first = fh.readline()
    if first.startswith(BOM):
        first = first[3:]
    names = _header(_decode_line(first)[0], where)
    bad: list[tuple[int | None, str]] = []

    def on_invalid(row: Any) -> str:
        bad.append((row.number, row.text))
        return "skip"

    def parse(source: Path, threads: bool) -> pa.Table:
        bad.clear()
        return pv.read_csv(
            source,
            read_options=pv.ReadOptions(column_names=names, skip_rows=1, use_threads=threads),
            convert_options=pv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
            ),
            parse_options=pv.ParseOptions(invalid_row_handler=on_invalid),
        )

    def read(source: Path) -> pa.Table:
        try:
            table = parse(source, True)
            if bad:  # row numbers of malformed rows are only known when parsing on one thread
                table = parse(source, False)
        except pa.ArrowInvalid as exc:
            raise BatchInputError("unreadable_file", f"not a readable CSV file: {exc}", where) from None
        return table

    if _is_utf8(path):
        encoding, table = "utf-8", read(path)
    else:
        with tempfile.TemporaryDirectory(prefix="doudi-csv-") as tmp:
            utf8_copy = Path(tmp) / "utf8.csv"
            encoding = _transcode(path, utf8_copy)
            table = read(utf8_copy)
    # pyarrow numbers records from the header (= 1); a data row's number is that minus one.
    skipped = np.array(sorted(int(n) - 1 for n, _ in bad if n is not None), dtype=np.int64)
    total = table.num_rows + len(bad)
    rows = np.setdiff1d(np.arange(1, total + 1, dtype=np.int64), skipped) if len(skipped) else None
    row_col = pa.array(rows if rows is not None else np.arange(1, total + 1, dtype=np.int64))
    flag = None
    for name in names:
        has = pc.fill_null(pc.match_substring(table[name], "\ufffd"), False)
        flag = has if flag is None else pc.or_(flag, has)
    table = table.append_column(ROW_COL, row_col).append_column(ENCODING_FLAG, flag)
    malformed = [
        {"row": (int(n) - 1) if n is not None else None, "reason": "malformed_row", "raw_value": text[:200]}
        for n, text in bad
    ]
    return table, encoding, malformed


def read_excel_arrow(path: Path, where: str) -> pa.Table:
    """Read the first sheet of an .xlsx file as all-string columns with ``_source_row``."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a bad file
        raise BatchInputError("unreadable_file", f"not a readable .xlsx file: {exc}", where) from None
    try:
        rows = wb.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise BatchInputError("empty_file", "the sheet is empty (not even a header row)", where)
        names = [("" if v is None else str(v)).strip() for v in header]
        while names and names[-1] == "":
            names.pop()
        _check_names(names, where)
        columns: list[list[str | None]] = [[] for _ in names]
        numbers: list[int] = []
        for n, row in enumerate(rows, start=1):
            cells = list(row[: len(names)]) + [None] * max(0, len(names) - len(row))
            if all(v is None or str(v).strip() == "" for v in cells):
                continue
            numbers.append(n)
            for i, v in enumerate(cells):
                columns[i].append(_excel_text(v))
    finally:
        wb.close()
    arrays: dict[str, pa.Array] = {name: pa.array(col, pa.string()) for name, col in zip(names, columns, strict=True)}
    arrays[ROW_COL] = pa.array(numbers, pa.int64())
    return pa.table(arrays)


def _excel_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def load_raw(engine: Engine, path: Path, where: str, *, sha256: str | None = None) -> RawTable:
    """Bring one file (CSV, Excel or Parquet) into ``engine`` without interpreting its values."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise BatchInputError("unsupported_format", "expected a .csv, .parquet or .xlsx file", where)
    if not path.is_file():
        raise BatchInputError("file_not_found", f"no such file: {path}", where)
    if path.stat().st_size == 0:
        raise BatchInputError("empty_file", "the file is empty (0 bytes)", where)
    digest = sha256 or file_sha256(path)
    if fmt == "csv":
        table, encoding, malformed = read_csv_arrow(path, where)
        return RawTable(engine.from_arrow(table), path.name, fmt, digest, encoding, malformed, table.num_rows)
    if fmt == "xlsx":
        table = read_excel_arrow(path, where)
        return RawTable(engine.from_arrow(table), path.name, fmt, digest, None, [], table.num_rows)
    try:
        meta = pq.read_metadata(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise BatchInputError("unreadable_file", f"not a readable Parquet file: {exc}", where) from None
    stamp = json.loads((meta.metadata or {}).get(STAMP_KEY, b"{}") or b"{}")
    ingested_kind = stamp.get("kind") if stamp.get("version") == STAMP_VERSION else None
    stored_rejects = None
    sidecar = path.with_name(f"{path.stem}.rejects.parquet")
    if ingested_kind and sidecar.is_file():
        stored_rejects = pq.read_table(sidecar).cast(REJECT_SCHEMA)
    return RawTable(
        engine.read_parquet(path), stamp.get("file", path.name) if ingested_kind else path.name, fmt,
        stamp.get("sha256", digest) if ingested_kind else digest, stamp.get("encoding") if ingested_kind else None,
        [], meta.num_rows, ingested_kind, stored_rejects,
    )  # fmt: skip


def require_columns(raw: ir.Table, columns: Iterable[str], where: str) -> None:
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise BatchInputError(
            "missing_column",
            f"required column(s) missing: {', '.join(missing)} "
            f"(found: {', '.join(c for c in raw.columns if not c.startswith('_'))})",
            f"{where}:{missing[0]}",
        )


# --- validation ------------------------------------------------------------------------------------------
def _text(raw: ir.Value) -> ir.StringValue:
    value = raw if raw.type().is_string() else raw.cast("string")
    return cast(ir.StringValue, strip_blanks(cast(ir.StringValue, value)).nullif(""))


ParseFn = Callable[[ir.Value], ir.Value]


def parse_parts(raw: ir.Value, col: Column) -> tuple[ir.Value, ParseFn, bool]:
    """How one column is read, in two steps: (text, parse, can_be_bad).

    ``text`` is the trimmed value (NULL when empty; a typed Parquet value as it is), ``parse(text)`` the typed
    value (NULL when it does not parse). A value is missing when ``text`` is NULL, and bad when ``text`` is
    not NULL but the parsed value is (only possible when ``can_be_bad``).  The steps are separate so that a job
    can compute each once per row in its own projection (backends do not share repeated sub-expressions).
    """
    dtype = raw.type()
    if col.type == "id":
        return normalise_id_expr(raw), lambda text: text, False
    if dtype.is_string() or col.type in ("str", "enum"):
        if col.type == "str":
            return _text(raw), lambda text: text, False
        if col.type == "enum":
            choices = list(col.choices)

            def enum(text: ir.Value) -> ir.Value:
                low = cast(ir.StringValue, text).lower()
                return ibis.ifelse(low.isin(choices), low, ibis.null("string"))

            return _text(raw), enum, True
        pattern = {"money": _MONEY_RE, "decimal": _MONEY_RE, "date": _DATE_RE, "int": _INT_RE}[col.type]
        target = {"money": MONEY, "decimal": MONEY, "date": "date", "int": "int64"}[col.type]

        def parse(text: ir.Value) -> ir.Value:
            shaped = cast(ir.StringValue, text).re_search(pattern).fill_null(False)
            return ibis.ifelse(shaped, text, ibis.null("string")).try_cast(target)

        return _text(raw), parse, True
    # Typed input (Parquet): cast, never fail the whole query on one value.
    if col.type in ("money", "decimal"):
        if dtype.is_decimal() or dtype.is_integer() or dtype.is_floating():

            def money(value: ir.Value) -> ir.Value:
                parsed = value.try_cast(MONEY)
                return ibis.ifelse(parsed < 0, ibis.null(MONEY), parsed)

            return raw, money, True
    elif col.type == "date":
        if dtype.is_date():
            return raw, lambda value: value, False
        if dtype.is_timestamp():
            return raw, lambda value: value.cast("date"), False
    elif col.type == "int" and dtype.is_integer():
        return raw, lambda value: value.cast("int64"), False
    # Any other type: not what the column needs.
    return raw, lambda value: ibis.null(value.type()), True


def parse_column(raw: ir.Value, col: Column) -> tuple[ir.Value, ir.BooleanValue, ir.BooleanValue]:
    """(parsed value, is missing, is bad) for one column; parsed is NULL when missing or bad."""
    text, parse, can_be_bad = parse_parts(raw, col)
    value = parse(text)
    missing = text.isnull()
    bad = (text.notnull() & value.isnull()) if can_be_bad else ibis.literal(False)
    return value, missing, bad


@dataclass
class Checked:
    """Validation results for one source, as lazy expressions."""

    kind: str
    usable: ir.Table  # rows without value problems (ID checksum and duplicates not checked: see below)
    valid: ir.Table  # rows without any problem, duplicates removed, with provenance: what ingestion stores
    rejects: ir.Table  # REJECT_SCHEMA rows
    trusted: bool = False  # the file was written by ingest_source: values are not checked again


Materialise = Callable[[ir.Table], ir.Table]


def check_source(
    kind: SourceKind,
    raw: RawTable,
    *,
    ingested_at: str,
    where: str,
    materialise: Materialise | None = None,
    keep_extra: bool = True,
) -> Checked:
    """Validate and normalise a raw source table.

    ``usable`` skips the two checks that cannot change verification results: an ID that matches a (valid)
    registry ID is itself valid, and every rule aggregates idempotently (distinct counts, latest/maximum
    values), so exact duplicate rows count once.  ``valid`` and ``rejects`` apply every check.

    ``materialise`` computes the checked rows once (the rejects, the duplicate search and the caller's match
    all read them) and the two small tables of the duplicate search; ``keep_extra=False`` drops the columns
    the rules do not need.  A file written by :func:`ingest_source` is trusted: it was validated when
    it was stored, so its rows are used as they are and its rejects come from the stored rejects file.
    """
    t = raw.table
    require_columns(t, kind.column_names, where)
    if raw.ingested_kind == kind.name and _has_canonical_types(kind, t):
        canonical = t.select(*kind.column_names, ROW_COL)
        empty = t.filter(ibis.literal(False))
        rejects = empty.select(
            source=ibis.literal(kind.name),
            file=ibis.literal(raw.file),
            row=empty[ROW_COL].cast("int64"),
            reason=ibis.null("string"),
            column=ibis.null("string"),
            id_number=ibis.null("string"),
            raw_value=ibis.null("string"),
        )
        return Checked(kind.name, canonical if not keep_extra else t, t, rejects, trusted=True)
    # Staged projections, each computing its values once per row: the trimmed text of every column, then
    # the parsed values, then the first problem of the row as a small integer, then its reason and column.
    keys = list(kind.column_names)
    parts = {col.name: parse_parts(t[col.name], col) for col in kind.columns}
    extra = [c for c in t.columns if c not in keys and c not in (ROW_COL, ENCODING_FLAG)] if keep_extra else []
    texts = {f"_t{i}": parts[name][0] for i, name in enumerate(keys)}
    flag = t[ENCODING_FLAG].fill_null(False) if ENCODING_FLAG in t.columns else ibis.literal(False)
    # ``_raw_id`` (the ID as written, for the rejects list) is kept only where it differs from the normalised
    # ID (a lower-case x, say): a column that is nearly all NULL costs next to nothing.
    s1 = t.select(*extra, ROW_COL, _enc=flag, _raw_id=_text(t["id_number"]), **texts)
    s1 = s1.mutate(_raw_id=s1._raw_id.nullif(s1._t0))
    s2 = s1.mutate(**{name: parts[name][1](s1[f"_t{i}"]) for i, name in enumerate(keys)})
    # In order of precedence; "bad" is tested after "missing" of the same column, so it means "does not parse".
    problems: list[tuple[ir.BooleanValue, str, str]] = [(s2._enc, "encoding_error", "")]
    for i, col in enumerate(kind.columns):
        problems.append((s2[f"_t{i}"].isnull(), "missing_value", col.name))
        if parts[col.name][2]:
            problems.append((s2[col.name].isnull(), "bad_value", col.name))
    code = ibis.cases(*[(cond, k) for k, (cond, _, _) in enumerate(problems)], else_=ibis.null("int8"))
    s3 = s2.mutate(_code=code.cast("int8"))
    null = ibis.null("string")

    def by_code(values: list[ir.Value | str | None]) -> ir.Value:
        return ibis.cases(
            *[
                (s3._code == k, v if isinstance(v, ir.Value) else ibis.literal(v, "string"))
                for k, v in enumerate(values)
            ],
            else_=null,
        )

    raw_values: list[ir.Value | str | None] = [
        _text(s3[f"_t{keys.index(c)}"]) if c and c != "id_number" else None for _, _, c in problems
    ]
    typed = s3.mutate(
        _reason=by_code([r for _, r, _ in problems]),
        _column=by_code([c or None for _, _, c in problems]),
        _raw_value=by_code(raw_values),
    )
    order = [c for c in t.columns if c in keys or c in extra or c == ROW_COL]
    typed = typed.select(*order, "_reason", "_column", "_raw_id", "_raw_value")
    internal = ("_reason", "_column", "_raw_id", "_raw_value")
    # One pass over the file computes everything per row: parsed values, the first value problem, the ID
    # check and a hash of the required columns (for duplicates); the three uses below read that result.
    typed = with_id_check(typed, "id_number", "_id_ok")
    typed = typed.mutate(_h=ibis.struct({k: typed[k] for k in keys}).hash())
    if materialise is not None:
        typed = materialise(typed)
    keep = materialise or (lambda expr: expr)
    usable = typed.filter(typed._reason.isnull())
    # Exact duplicates among rows without value problems: hashes seen more than once give the (few)
    # candidate rows; only those are grouped on the values themselves (a hash collision is no duplicate).
    # Every row of a repeated group except the first is a duplicate.  The two small intermediate results are
    # materialised so that no query reads the parsed rows twice.
    repeated = keep(usable.group_by("_h").aggregate(_n=usable.count()).filter(ibis._._n > 1).select("_h"))
    candidates = keep(usable.semi_join(repeated, "_h"))
    groups = candidates.group_by(keys).aggregate(_first=candidates[ROW_COL].min(), _n=candidates.count())
    groups = groups.filter(groups._n > 1).drop("_n")
    dup_rows = candidates.join(groups, keys)
    dup_rows = dup_rows.filter(dup_rows[ROW_COL] != dup_rows._first)
    # Precedence: value problems, then the ID check, then duplicates (so copies of a bad row share its reason).
    bad = typed.filter(typed._reason.notnull() | ~typed._id_ok)
    value_ok = bad._reason.isnull()
    bad_rejects = bad.select(
        row=bad[ROW_COL],
        reason=value_ok.ifelse(ibis.literal("invalid_id_number"), bad._reason),
        column=value_ok.ifelse(ibis.literal("id_number"), bad._column),
        id_number=bad._raw_id.fill_null(bad.id_number),
        raw_value=value_ok.ifelse(bad._raw_id.fill_null(bad.id_number), bad._raw_value),
    )
    dups = dup_rows.filter(dup_rows._id_ok)
    dup_rejects = dups.select(
        row=dups[ROW_COL],
        reason=ibis.literal("duplicate_row"),
        column=ibis.null("string"),
        id_number=dups._raw_id.fill_null(dups.id_number),
        raw_value=ibis.null("string"),
    )
    both = bad_rejects.union(dup_rejects)
    rejects = both.select(
        source=ibis.literal(kind.name),
        file=ibis.literal(raw.file),
        row=both.row.cast("int64"),
        reason=both.reason,
        column=both.column,
        id_number=both.id_number,
        raw_value=both.raw_value,
    )
    provenance = {
        "_source_file": ibis.literal(raw.file),
        "_source_sha256": ibis.literal(raw.sha256),
        "_ingested_at": ibis.literal(ingested_at),
    }
    provenance = {k: v for k, v in provenance.items() if k not in typed.columns}
    clean = typed.filter(typed._reason.isnull() & typed._id_ok)
    clean = clean.anti_join(dup_rows.select(ROW_COL), ROW_COL)
    valid = clean.drop(*internal, "_id_ok", "_h").mutate(**provenance)
    return Checked(kind.name, usable.drop(*internal, "_id_ok", "_h"), valid, rejects)


_CANONICAL_TYPES = {"id": "string", "str": "string", "enum": "string", "money": MONEY, "decimal": MONEY,
                    "date": "date", "int": "int64"}  # fmt: skip


def _has_canonical_types(kind: SourceKind, t: ir.Table) -> bool:
    import ibis.expr.datatypes as dt_

    schema = t.schema()
    for col in kind.columns:
        want = dt_.dtype(_CANONICAL_TYPES[col.type])
        have = schema[col.name]
        if have.copy(nullable=True) != want.copy(nullable=True):
            return False
    return ROW_COL in schema


def load_rejects_table(kind: str, raw: RawTable) -> pa.Table:
    """Rows rejected while reading the file (malformed CSV rows), as a REJECT_SCHEMA table."""
    rows = raw.load_rejects
    return pa.table(
        {
            "source": [kind] * len(rows),
            "file": [raw.file] * len(rows),
            "row": [r.get("row") for r in rows],
            "reason": [r["reason"] for r in rows],
            "column": [r.get("column") for r in rows],
            "id_number": [r.get("id_number") for r in rows],
            "raw_value": [r.get("raw_value") for r in rows],
        },
        schema=REJECT_SCHEMA,
    )


# --- ingestion (validated Parquet with provenance) ----------------------------------------------------------
@dataclass
class IngestReport:
    kind: str
    file: str
    format: str
    encoding: str | None
    sha256: str
    rows: int
    stored: int
    rejected: int
    rejects_by_reason: dict[str, int]
    parquet: str
    rejects_parquet: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def ingest_source(
    engine: Engine, path: Path, out_dir: Path, *, kind: str | None = None, ingested_at: str | None = None
) -> IngestReport:
    """Validate one source file and store it as ``out_dir/<kind>.parquet`` (valid rows, duplicates removed,
    canonical types, provenance columns) plus ``out_dir/<kind>.rejects.parquet``.

    The stored file is itself a valid source: verification keeps its provenance columns.
    """
    kind = kind or path.stem
    where = f"sources/{path.name}"
    if kind not in SOURCE_KINDS:
        raise BatchInputError(
            "unknown_source_kind", f"no source kind {kind!r}; expected one of {', '.join(SOURCE_KINDS)}", where
        )
    when = ingested_at or dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    raw = load_raw(engine, path, where)
    made: list[ir.Table] = []

    def keep(expr: ir.Table) -> ir.Table:
        made.append(engine.materialise(expr))
        return made[-1]

    checked = check_source(SOURCE_KINDS[kind], raw, ingested_at=when, where=where, materialise=keep)
    out_dir.mkdir(parents=True, exist_ok=True)
    valid = engine.to_arrow(checked.valid.order_by(ROW_COL))
    stamp = {"version": STAMP_VERSION, "kind": kind, "file": raw.file, "sha256": raw.sha256,
             "encoding": raw.encoding, "ingested_at": when}  # fmt: skip
    valid = valid.replace_schema_metadata({**(valid.schema.metadata or {}), STAMP_KEY: json.dumps(stamp).encode()})
    target = out_dir / f"{kind}.parquet"
    tmp = target.with_suffix(".parquet.tmp")
    pq.write_table(valid, tmp)
    tmp.replace(target)
    rejects = engine.to_arrow(checked.rejects.order_by("row")).cast(REJECT_SCHEMA)
    if raw.stored_rejects is not None:
        rejects = pa.concat_tables([raw.stored_rejects, rejects])
    if raw.load_rejects:
        rejects = pa.concat_tables([rejects, load_rejects_table(kind, raw)]).sort_by("row")
    for table in made:
        engine.release(table)
    engine.release(raw.table)  # an engine ingesting several files keeps only one file's rows at a time
    rejects_path = out_dir / f"{kind}.rejects.parquet"
    pq.write_table(rejects, rejects_path)
    reasons: dict[str, int] = {}
    for reason in rejects.column("reason").to_pylist():
        reasons[reason] = reasons.get(reason, 0) + 1
    return IngestReport(
        kind=kind,
        file=raw.file,
        format=raw.format,
        encoding=raw.encoding,
        sha256=raw.sha256,
        rows=(raw.rows or 0) + len(raw.load_rejects),
        stored=valid.num_rows,
        rejected=rejects.num_rows,
        rejects_by_reason=dict(sorted(reasons.items())),
        parquet=str(target),
        rejects_parquet=str(rejects_path),
    )
