"""Reading and writing CSV and Excel files safely: size and row limits, encoding detection, formula cells.

Shared by registry imports and exports (and usable by other apps' file exchanges). Plain helpers, no ORM.

Formula injection (CWE-1236): a text cell that begins with = + - @, a tab or a carriage return is executed by
spreadsheet programs. Every exported text cell goes through `neutralise()`, which prefixes a single quote; the
importer reverses it with `unneutralise()`, so an export re-imports to exactly the stored value.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import decimal
import hashlib
import io
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings

from doudi.core.errors import ApplicationError

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 1024 * 1024
MAX_COLUMNS = 200
# An .xlsx is a zip; its parts are inflated while reading (shared strings entirely in memory), so the
# inflated size is capped as a multiple of the upload limit to refuse zip bombs before openpyxl sees them.
XLSX_INFLATE_RATIO = 25
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # old binary .xls / WPS .et
SCIENTIFIC_RE = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")
_ILLEGAL_XML_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def max_import_bytes() -> int:
    return int(getattr(settings, "DOUDI_IMPORT_MAX_BYTES", 20 * 1024 * 1024))


def max_import_rows() -> int:
    return int(getattr(settings, "DOUDI_IMPORT_MAX_ROWS", 200_000))


def _needs_quote(text: str) -> bool:
    if text.startswith(FORMULA_TRIGGERS):
        return True
    # A value that already looks neutralised gets one more quote, so unneutralise() is an exact inverse.
    return text.startswith("'") and _needs_quote(text[1:])


def neutralise(value: str) -> str:
    """Make a text cell inert in spreadsheet programs (prefix a single quote)."""
    return "'" + value if _needs_quote(value) else value


def unneutralise(value: str) -> str:
    """Inverse of neutralise(): drop the one quote an export added."""
    if value.startswith("'") and _needs_quote(value[1:]):
        return value[1:]
    return value


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB" if size >= 1024 * 1024 else f"{size} 字节"


def too_large(limit: int) -> ApplicationError:
    return ApplicationError(
        "file_too_large", f"文件超过大小上限（{megabytes(limit)}），请拆分为多个文件后分别导入", "file", status=413
    )


@dataclass
class Source:
    """A seekable binary stream of an uploaded or local file, its size, name and SHA-256."""

    stream: IO[bytes]
    size: int
    filename: str
    sha256: str = ""
    format: str = ""
    encoding: str = ""


def source_from_path(path: Path) -> Source:
    limit = max_import_bytes()
    size = path.stat().st_size  # refuse by size before reading a byte
    if size > limit:
        raise too_large(limit)
    return Source(stream=path.open("rb"), size=size, filename=path.name)


def source_from_upload(fileobj: Any, filename: str) -> Source:
    """Accept a Django UploadedFile or any binary file object; the size is checked before reading it."""
    limit = max_import_bytes()
    size = getattr(fileobj, "size", None)
    stream: IO[bytes] = fileobj
    if size is None:
        seekable = getattr(stream, "seekable", lambda: False)()
        if seekable:
            size = stream.seek(0, io.SEEK_END)
            stream.seek(0)
        else:
            # A pipe or socket: copy at most limit + 1 bytes, then stop.
            spool = tempfile.SpooledTemporaryFile(max_size=4 * CHUNK)  # noqa: SIM115 - returned to the caller
            size = 0
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    spool.close()
                    raise too_large(limit)
                spool.write(chunk)
            spool.seek(0)
            stream = spool
    if size > limit:
        raise too_large(limit)
    if hasattr(stream, "seek"):
        stream.seek(0)
    return Source(stream=stream, size=int(size), filename=filename or "")


def inspect(source: Source) -> Source:
    """One pass over the bytes: hash, file type and (for CSV) encoding. Memory stays at one chunk."""
    if source.size == 0:
        raise ApplicationError("empty_file", "文件为空，请选择填写好的导入文件", "file")
    stream = source.stream
    stream.seek(0)
    head = stream.read(8)
    suffix = Path(source.filename).suffix.lower()
    if head.startswith(OLE_MAGIC):
        raise ApplicationError(
            "unsupported_format", "不支持旧版Excel（.xls）或WPS（.et）格式，请另存为.xlsx或CSV后再导入", "file"
        )
    if head.startswith(ZIP_MAGIC):
        source.format = "xlsx"
    elif suffix in {".xlsx", ".xlsm"}:
        raise ApplicationError("unsupported_format", "文件不是有效的Excel（.xlsx）文件，可能已损坏或扩展名有误", "file")
    elif suffix in {".csv", ".txt", ""}:
        source.format = "csv"
    else:
        raise ApplicationError("unsupported_format", "只支持CSV（.csv）和Excel（.xlsx）文件", "file")
    stream.seek(0)
    digest = hashlib.sha256()
    decoders: dict[str, Any] = {}
    if source.format == "csv":
        if head.startswith(codecs.BOM_UTF8):
            decoders = {"utf-8-sig": codecs.getincrementaldecoder("utf-8-sig")()}
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            decoders = {"utf-16": codecs.getincrementaldecoder("utf-16")()}
        else:
            # Government systems export either UTF-8 or GBK; GB18030 decodes every GBK file.
            decoders = {name: codecs.getincrementaldecoder(name)() for name in ("utf-8", "gb18030")}
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        for name in list(decoders):
            try:
                decoders[name].decode(chunk)
            except UnicodeDecodeError:
                del decoders[name]
    for name in list(decoders):
        try:
            decoders[name].decode(b"", final=True)
        except UnicodeDecodeError:
            del decoders[name]
    source.sha256 = digest.hexdigest()
    stream.seek(0)
    if source.format == "csv":
        if not decoders:
            raise ApplicationError(
                "unknown_encoding", "无法识别文件编码，请将CSV另存为“UTF-8”或“GBK（ANSI）”编码后再导入", "file"
            )
        source.encoding = next(iter(decoders))
    return source


# ---- reading ----------------------------------------------------------------------------------------------


class Formula:
    """A cell that holds a formula (or an object openpyxl could not reduce to a plain value)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


Cell = str | int | float | decimal.Decimal | dt.date | dt.datetime | bool | Formula | None


def column_letter(index: int) -> str:
    """0-based column index to the letter users see in Excel (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def iter_rows(source: Source) -> Iterator[tuple[int, Sequence[Cell]]]:
    """(row number as the user sees it, cells) for every row of the first sheet or the CSV file."""
    if source.format == "xlsx":
        return _iter_xlsx(source)
    return _iter_csv(source)


def _iter_csv(source: Source) -> Iterator[tuple[int, Sequence[Cell]]]:
    text = io.TextIOWrapper(source.stream, encoding=source.encoding, newline="")
    first_line = text.readline()
    text.seek(0)
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(text, delimiter=delimiter)
    number = 0
    try:
        for record in reader:
            # One record is one row in Excel even when a quoted cell spans lines.
            number += 1
            yield number, record
    except csv.Error as exc:
        raise ApplicationError(
            "malformed_csv", f"第{number + 1}行CSV格式错误（{exc}），请检查引号或特殊字符", "file", row=number + 1
        ) from None
    finally:
        text.detach()


_PLAIN = (str, int, float, decimal.Decimal, dt.date, dt.datetime, bool, type(None))


def _iter_xlsx(source: Source) -> Iterator[tuple[int, Sequence[Cell]]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with zipfile.ZipFile(source.stream) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise ApplicationError("unreadable_file", "无法读取Excel文件，文件可能已损坏", "file") from None
    if inflated > max_import_bytes() * XLSX_INFLATE_RATIO:
        raise too_large(max_import_bytes())
    source.stream.seek(0)
    try:
        workbook = openpyxl.load_workbook(source.stream, read_only=True, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ApplicationError("unreadable_file", "无法读取Excel文件，文件可能已损坏或不是.xlsx格式", "file") from None
    try:
        if not workbook.worksheets:
            return
        sheet = workbook.worksheets[0]
        declared = getattr(sheet, "max_column", None)
        width = declared if isinstance(declared, int) and 0 < declared <= MAX_COLUMNS else MAX_COLUMNS
        # values_only is several times faster; with data_only=False a formula still arrives as its "=…" text,
        # and array or data-table formulas as objects, so both are recognised below.
        for number, row in enumerate(sheet.iter_rows(min_row=1, max_col=width, values_only=True), start=1):
            yield (
                number,
                [value if isinstance(value, _PLAIN) else Formula(str(getattr(value, "text", value))) for value in row],
            )
    finally:
        workbook.close()


def cell_text(value: Cell) -> str:
    """A cell as the text a user typed; numbers without a spurious '.0', dates as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return str(decimal.Decimal(repr(value)))
    if isinstance(value, Formula):
        return value.text
    return str(value)


def is_scientific(text: str) -> bool:
    """True for '4.69001E+17': what Excel makes of a long number typed into a cell not formatted as text."""
    return bool(SCIENTIFIC_RE.match(text))


# ---- writing ----------------------------------------------------------------------------------------------


def _safe(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, str):
        return neutralise(_ILLEGAL_XML_RE.sub("", value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def write_csv(out: IO[bytes], header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """UTF-8 with BOM (Excel opens it as UTF-8 only with the BOM), every text cell neutralised."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([_safe(h) for h in header])
    count = 0
    for row in rows:
        writer.writerow([_safe(v) for v in row])
        count += 1
    text.flush()
    text.detach()
    return count


def write_xlsx(
    out: IO[bytes],
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    sheet_title: str = "数据",
    text_columns: Iterable[int] = (),
    widths: Sequence[int] | None = None,
    extra_sheets: Sequence[tuple[str, Sequence[Sequence[Any]]]] = (),
) -> int:
    """A streamed (write-only) workbook; text cells neutralised, long-number columns stored as text."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title)
    if widths:
        for index, width in enumerate(widths):
            sheet.column_dimensions[column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for title in header:
        cell = WriteOnlyCell(sheet, value=_safe(title))
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    text_set = set(text_columns)
    count = 0
    for row in rows:
        values: list[Any] = []
        for index, value in enumerate(row):
            safe = _safe(value)
            if safe == "":
                values.append(None)  # no cell at all: smaller files, faster to read back
            elif index in text_set:
                # Stored as a string cell with the text format, so Excel never turns an ID number into 4.69E+17.
                cell = WriteOnlyCell(sheet, value=str(safe))
                cell.number_format = "@"
                values.append(cell)
            else:
                values.append(safe)
        sheet.append(values)
        count += 1
    for title, sheet_rows in extra_sheets:
        extra = workbook.create_sheet(title)
        for sheet_row in sheet_rows:
            extra.append([_safe(v) for v in sheet_row])
    workbook.save(out)
    return count
