"""Reading and validating a staff or cadre list (CSV or .xlsx) into clean rows; no writes (services.staff_import).

Columns (header in the first non-empty row; aliases accepted): 姓名, 公民身份号码, 人员类别, 区划代码, 职务 (optional),
任职开始日期, 任职结束日期 (optional). Every problem is collected with its row (as the user sees it in the file, the
header being row 1 in a template), the column header and a Chinese reason; ID numbers are masked in the report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from doudi.core import idnumber
from doudi.core.errors import ApplicationError
from doudi.core.models import Region
from doudi.core.scope import Scope
from doudi.integrity.choices import StaffKind
from doudi.registry import spreadsheet

MAX_ERRORS = 1000
HEADER_SEARCH_ROWS = 10


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    aliases: tuple[str, ...]
    required: bool


COLUMNS: tuple[Column, ...] = (
    Column("name", "姓名", ("人员姓名",), True),
    Column("id_number", "公民身份号码", ("身份证号", "身份证号码", "证件号码", "公民身份证号码"), True),
    Column("kind", "人员类别", ("类别", "人员类型"), True),
    Column("region_code", "区划代码", ("任职区划代码", "所在区划代码", "行政区划代码", "村（社区）区划代码"), True),
    Column("position", "职务", ("岗位",), False),
    Column("from_date", "任职开始日期", ("任职日期", "开始日期", "起始日期"), True),
    Column("to_date", "任职结束日期", ("离任日期", "结束日期", "终止日期"), False),
)
KIND_WORDS = {
    "assistance_staff": StaffKind.ASSISTANCE_STAFF,
    "民政经办人员": StaffKind.ASSISTANCE_STAFF,
    "经办人员": StaffKind.ASSISTANCE_STAFF,
    "低保经办人员": StaffKind.ASSISTANCE_STAFF,
    "village_cadre": StaffKind.VILLAGE_CADRE,
    "村委会成员": StaffKind.VILLAGE_CADRE,
    "村（居）委会成员": StaffKind.VILLAGE_CADRE,
    "村(居)委会成员": StaffKind.VILLAGE_CADRE,
    "居委会成员": StaffKind.VILLAGE_CADRE,
    "村干部": StaffKind.VILLAGE_CADRE,
}


@dataclass(frozen=True)
class RowError:
    row: int | None
    column: str
    value: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "value": self.value, "message": self.message}


@dataclass(frozen=True)
class StaffRow:
    row: int
    name: str
    id_number: str
    kind: str
    region: Region
    position: str
    from_date: dt.date
    to_date: dt.date | None

    @property
    def key(self) -> tuple[str, str, str, dt.date]:
        return (self.id_number, self.kind, self.region.code, self.from_date)


@dataclass
class Parsed:
    filename: str
    sha256: str
    rows: list[StaffRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0

    def error(self, row: int | None, column: str, value: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(row, column, value, message))


def _date(text: str) -> dt.date | None:
    text = text.strip()
    for pattern in ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d"):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def _find_header(rows: list[tuple[int, Sequence[spreadsheet.Cell]]]) -> tuple[int, dict[str, int]] | None:
    names = {c.key: {c.header, *c.aliases} for c in COLUMNS}
    for number, cells in rows:
        texts = [spreadsheet.cell_text(cell) for cell in cells]
        found = {key: i for key, options in names.items() for i, text in enumerate(texts) if text in options}
        if "id_number" in found and "name" in found:
            return number, found
    return None


def parse(source: spreadsheet.Source, *, scope: Scope, address_known: Callable[[str], bool], today: dt.date) -> Parsed:
    source = spreadsheet.inspect(source)
    parsed = Parsed(filename=source.filename, sha256=source.sha256)
    iterator = spreadsheet.iter_rows(source)
    head: list[tuple[int, Sequence[spreadsheet.Cell]]] = []
    for item in iterator:
        head.append(item)
        if len(head) >= HEADER_SEARCH_ROWS:
            break
    header = _find_header(head)
    if header is None:
        raise ApplicationError("missing_column", "找不到表头：须含“姓名”和“公民身份号码”等列", "姓名", row=1)
    header_row, positions = header
    for column in COLUMNS:
        if column.required and column.key not in positions:
            raise ApplicationError("missing_column", f"缺少必填列“{column.header}”", column.header, row=header_row)
    regions = {r.code: r for r in Region.objects.filter(path__startswith=scope.region_path)}
    seen: dict[tuple[str, str, str, dt.date], int] = {}
    limit = spreadsheet.max_import_rows()

    def rows() -> list[tuple[int, Sequence[spreadsheet.Cell]]]:
        return [item for item in head if item[0] > header_row]

    count = 0
    for number, cells in [*rows(), *iterator]:
        texts = {key: spreadsheet.cell_text(cells[i]) if i < len(cells) else "" for key, i in positions.items()}
        if not any(texts.values()):
            continue
        count += 1
        if count > limit:
            raise ApplicationError("too_many_rows", f"文件超过{limit}行，请拆分后分别导入", "file", row=number)
        row = _clean_row(parsed, number, texts, regions, address_known, today)
        if row is None:
            continue
        if row.key in seen:
            parsed.error(
                number, "公民身份号码", idnumber.mask(row.id_number), f"与第{seen[row.key]}行重复（同一人员同一任职）"
            )
            continue
        seen[row.key] = number
        parsed.rows.append(row)
    if count == 0 and not parsed.errors:
        raise ApplicationError("empty_file", "文件中没有数据行", "file")
    return parsed


def _clean_row(
    parsed: Parsed,
    number: int,
    texts: dict[str, str],
    regions: dict[str, Region],
    address_known: Callable[[str], bool],
    today: dt.date,
) -> StaffRow | None:
    before = parsed.error_count
    name = spreadsheet.unneutralise(texts.get("name", ""))
    if not name:
        parsed.error(number, "姓名", "", "姓名不能为空")
    elif len(name) > 40:
        parsed.error(number, "姓名", name[:20], "姓名不能超过40个字")
    raw_id = texts.get("id_number", "")
    number_text = ""
    if spreadsheet.is_scientific(raw_id):
        parsed.error(
            number, "公民身份号码", raw_id, "身份证号码被Excel显示为科学计数法，请将该列设为文本格式后重新填写"
        )
    else:
        try:
            number_text = idnumber.parse(raw_id, address_known=address_known, today=today).number
        except idnumber.IdNumberError as exc:
            parsed.error(number, "公民身份号码", idnumber.mask(raw_id.strip()), exc.message)
    kind_text = texts.get("kind", "")
    kind = KIND_WORDS.get(kind_text.replace(" ", ""))
    if kind is None:
        parsed.error(number, "人员类别", kind_text, "人员类别应为“民政经办人员”或“村（居）委会成员”")
    code = texts.get("region_code", "")
    region = regions.get(code)
    if region is None:
        message = (
            "区划代码应为12位数字" if len(code) != 12 or not code.isdigit() else "区划代码不存在或不在您的管辖范围内"
        )
        parsed.error(number, "区划代码", code, message)
    elif kind == StaffKind.VILLAGE_CADRE and region.level != "village":
        parsed.error(number, "区划代码", code, "村（居）委会成员的区划代码应为村（社区）级")
    position = texts.get("position", "")
    if len(position) > 64:
        parsed.error(number, "职务", position[:20], "职务不能超过64个字")
    from_text, to_text = texts.get("from_date", ""), texts.get("to_date", "")
    from_date = _date(from_text)
    if from_date is None:
        parsed.error(number, "任职开始日期", from_text, "任职开始日期应为YYYY-MM-DD格式的有效日期")
    elif from_date > today:
        parsed.error(number, "任职开始日期", from_text, "任职开始日期不能晚于今天")
    to_date = _date(to_text) if to_text else None
    if to_text and to_date is None:
        parsed.error(number, "任职结束日期", to_text, "任职结束日期应为YYYY-MM-DD格式的有效日期")
    elif to_date is not None and from_date is not None and to_date < from_date:
        parsed.error(number, "任职结束日期", to_text, "任职结束日期不能早于开始日期")
    if parsed.error_count > before or region is None or kind is None or from_date is None:
        return None
    return StaffRow(number, name, number_text, kind, region, position, from_date, to_date)
