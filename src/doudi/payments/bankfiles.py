"""Fast streaming writers for bank files (a county's payroll can be a million rows).

openpyxl's write-only mode manages a few thousand rows a second with styled cells, far too slow for the payroll
target, so the .xlsx is written here directly: one sheet as inline-string XML streamed into a deflated zip.
Text cells are neutralised exactly as in doudi.registry.spreadsheet (formula injection, CWE-1236).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import IO, Any
from xml.sax.saxutils import escape

from doudi.registry.spreadsheet import column_letter, neutralise

_ILLEGAL_XML_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CONTENT_TYPES = (
    _HEAD + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>'
)
_ROOT_RELS = (
    _HEAD + f'<Relationships xmlns="{_PKG_REL_NS}"><Relationship Id="rId1" '
    f'Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK_RELS = (
    _HEAD + f'<Relationships xmlns="{_PKG_REL_NS}">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL_NS}/styles" Target="styles.xml"/></Relationships>'
)
# Style 0 default, 1 bold (header), 2 text format "@" (account numbers stay text when edited).
_STYLES = (
    _HEAD + f'<styleSheet xmlns="{_NS}">'
    '<fonts count="2"><font><sz val="11"/><name val="等线"/></font><font><b/><sz val="11"/><name val="等线"/></font>'
    '</fonts><fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


TEXT_STYLE = ' s="2"'
_RISKY_START = frozenset("=+-@\t\r'")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    text = value if isinstance(value, str) else str(value)
    # neutralise() only changes text starting with a trigger or a quote; checking the first character here
    # avoids the call for the other million cells.
    return neutralise(text) if text and text[0] in _RISKY_START else text


def write_csv(out: IO[bytes], header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """UTF-8 with BOM, CRLF, text cells neutralised; numbers (Decimal, int) written as they are."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([_text(h) for h in header])
    count = 0
    numbers = (int, Decimal)
    for row in rows:
        writer.writerow([v if type(v) in numbers else _text(v) for v in row])
        count += 1
    text.flush()
    text.detach()
    return count


def _xml_text(value: Any) -> str:
    text = _text(value)
    if _ILLEGAL_XML_RE.search(text):
        text = _ILLEGAL_XML_RE.sub("", text)
    return escape(text)


def _cell(ref: str, value: Any, style: int) -> str:
    if type(value) in (int, Decimal) and style != 2:
        return f'<c r="{ref}"><v>{value}</v></c>'
    style_attr = f' s="{style}"' if style else ""
    return f'<c r="{ref}"{style_attr} t="inlineStr"><is><t xml:space="preserve">{_xml_text(value)}</t></is></c>'


def write_xlsx(
    out: IO[bytes],
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    sheet_title: str = "数据",
    text_columns: Iterable[int] = (),
    widths: Sequence[int] | None = None,
) -> int:
    """One-sheet workbook, header bold and frozen; `text_columns` are written as text cells in text format."""
    letters = [column_letter(i) for i in range(len(header))]
    text_set = set(text_columns)
    styles = [2 if i in text_set else 0 for i in range(len(header))]
    count = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr(
            "xl/workbook.xml",
            _HEAD + f'<workbook xmlns="{_NS}" xmlns:r="{_REL_NS}"><sheets>'
            f'<sheet name="{escape(sheet_title)}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/styles.xml", _STYLES)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            cols = ""
            if widths:
                cols = (
                    "<cols>"
                    + "".join(
                        f'<col min="{i + 1}" max="{i + 1}" width="{w}" customWidth="1"/>' for i, w in enumerate(widths)
                    )
                    + "</cols>"
                )
            sheet.write(
                (
                    _HEAD + f'<worksheet xmlns="{_NS}"><sheetViews><sheetView workbookViewId="0">'
                    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView>'
                    f"</sheetViews>{cols}<sheetData>"
                    '<row r="1">' + "".join(_cell(f"{letters[i]}1", h, 1) for i, h in enumerate(header)) + "</row>"
                ).encode()
            )
            buffer: list[str] = []
            number = 1
            numbers = (int, Decimal)
            columns = list(zip(letters, styles, strict=True))
            for row in rows:
                number += 1
                count += 1
                parts = [f'<row r="{number}">']
                for (letter, style), value in zip(columns, row, strict=False):
                    if style == 0 and type(value) in numbers:
                        parts.append(f'<c r="{letter}{number}"><v>{value}</v></c>')
                    else:
                        parts.append(
                            f'<c r="{letter}{number}"{TEXT_STYLE if style == 2 else ""} t="inlineStr"><is>'
                            f'<t xml:space="preserve">{_xml_text(value)}</t></is></c>'
                        )
                parts.append("</row>")
                buffer.append("".join(parts))
                if len(buffer) >= 2000:
                    sheet.write("".join(buffer).encode())
                    buffer.clear()
            sheet.write(("".join(buffer) + "</sheetData></worksheet>").encode())
    return count
