"""Registry imports from CSV and Excel: households with their members, and the township/village list.

All rows or none: every row is validated in memory first with the same rules as the forms (validation.py),
every error is collected with its row, column and reason, and only a file without errors is written, in one
transaction. Re-importing a file changes nothing: households are matched by the head's ID number (and 户编号
when given), persons by ID number, and rows identical to what is stored count as "unchanged". An import never
modifies a stored record: a row that disagrees with the registry is an error saying what is stored.
See docs/import-export.md for the template.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from django.db import IntegrityError, transaction
from django.db.models import F, Max, Sum
from django.utils import translation

from doudi.core import idnumber
from doudi.core.choices import LEVEL_DEPTH, AuditAction, RegionLevel
from doudi.core.errors import ApplicationError
from doudi.core.models import Region
from doudi.core.scope import Scope
from doudi.core.selectors import address_code_checker
from doudi.core.services import audit_log_create, region_create
from doudi.registry import spreadsheet
from doudi.registry.choices import (
    ETHNIC_GROUPS,
    DisabilityCategory,
    HouseholdStatus,
    HukouType,
    IncomeKind,
    LabourCapacity,
    LeftBehind,
    PovertyStatus,
    Relation,
    Sex,
)
from doudi.registry.models import Household, IncomeItem, Membership, Person
from doudi.registry.validation import clean_date, clean_household, clean_money, clean_person, clean_relation

KINDS = {"households": "家庭及成员", "regions": "乡镇（街道）和村（社区）区划"}
MAX_REPORTED_ERRORS = 10_000
EXAMPLE_MARK = "【示例】"
QUERY_CHUNK = 500
BULK_BATCH = 1000
HEADER_SEARCH_ROWS = 10


# ---- columns ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    meaning: str
    allowed: str
    required: str  # as shown in the template notes
    example: str = ""
    aliases: tuple[str, ...] = ()
    header_required: bool = False
    id_like: bool = False  # must be text in Excel; masked in error reports
    width: int = 14


def _labels(choices: Any, skip_blank: bool = False) -> str:
    return "、".join(str(label) for value, label in choices.choices if not (skip_blank and value == ""))


HOUSEHOLD_COLUMNS: tuple[Column, ...] = (
    Column(
        "household_number",
        "户编号",
        "系统中的户编号（村级区划代码+6位序号）。新家庭留空由系统生成；导出文件中已填写",
        "18位数字或留空",
        "否",
        "",
        ("家庭编号", "户号"),
        width=20,
        id_like=False,
    ),
    Column(
        "head_id_number",
        "户主身份证号",
        "本户户主的公民身份号码；同一户的每一行都填写同一户主身份证号，用于把成员归为一户",
        "18位公民身份号码（旧15位也可）",
        "是",
        "",
        ("户主公民身份号码", "户主身份证号码", "户主证件号码"),
        header_required=True,
        id_like=True,
        width=22,
    ),
    Column(
        "region_code",
        "村（社区）区划代码",
        "家庭所在村（社区）的12位统计用区划代码",
        "12位数字，须为村（社区）级且在您的管辖范围内",
        "新家庭的户主行必填",
        "469001100201",
        ("村(社区)区划代码", "村区划代码", "社区区划代码", "区划代码", "行政区划代码"),
        header_required=True,
        width=16,
    ),
    Column(
        "address",
        "居住地址",
        "家庭实际居住地址",
        "最多200字，不能含<>{}\\",
        "新家庭的户主行必填",
        "甲村3组12号",
        ("家庭住址", "现居住地址", "住址"),
        header_required=True,
        width=24,
    ),
    Column(
        "hukou_type",
        "户籍类别",
        "户籍性质",
        _labels(HukouType),
        "新家庭的户主行必填",
        "农村",
        ("户籍性质", "户口性质"),
        header_required=True,
    ),
    Column(
        "registered_poor",
        "建档立卡户",
        "是否为脱贫攻坚建档立卡户",
        "是、否（空白为否）",
        "否",
        "否",
        ("是否建档立卡户",),
    ),
    Column(
        "poverty_status",
        "脱贫状态",
        "建档立卡户的脱贫状态",
        f"{_labels(PovertyStatus)}（或“未脱贫”“已脱贫”）",
        "否（建档立卡户空白视为未脱贫）",
        "非建档立卡",
        ("贫困状态",),
    ),
    Column("poverty_exit_year", "脱贫年度", "已脱贫户的脱贫年份", "2014年以后的4位年份", "否", ""),
    Column("name", "姓名", "成员姓名", "汉字、字母、间隔号“·”", "是", "王大山", ("成员姓名",), header_required=True),
    Column(
        "id_number",
        "公民身份号码",
        "成员的公民身份号码（GB 11643）；性别和出生日期由号码决定",
        "18位（末位可为X），旧15位自动升位；Excel中请设为文本格式",
        "是",
        "",
        ("身份证号", "身份证号码", "成员身份证号", "证件号码", "公民身份证号码"),
        header_required=True,
        id_like=True,
        width=22,
    ),
    Column("sex", "性别", "可不填；填写时须与身份证号码一致", "男、女", "否", "男"),
    Column("birth_date", "出生日期", "可不填；填写时须与身份证号码一致", "YYYY-MM-DD 或 YYYYMMDD", "否", "1970-03-01"),
    Column("ethnicity", "民族", "GB/T 3304 民族", "民族名称（如汉族、黎族）或两位代码；空白为汉族", "否", "汉族"),
    Column(
        "relation",
        "与户主关系",
        "GB/T 4761 家庭关系；户主本人所在行填“户主”",
        f"{_labels(Relation)}，或两位代码",
        "是",
        "户主",
        ("家庭关系", "与户主的关系"),
        header_required=True,
    ),
    Column(
        "start_date", "加入日期", "成为本户成员的日期", "YYYY-MM-DD；空白为导入当天", "否", "2020-01-01", ("入户日期",)
    ),
    Column(
        "labour_capacity",
        "劳动能力",
        "劳动能力状况",
        f"{_labels(LabourCapacity)}；空白为有劳动能力",
        "否",
        "有劳动能力",
    ),
    Column(
        "disability_category",
        "残疾类别",
        "第二代残疾人证上的残疾类别（GB/T 26341）",
        f"{_labels(DisabilityCategory)}，或代码1-7",
        "有残疾时必填",
        "",
    ),
    Column("disability_grade", "残疾等级", "残疾等级（一级最重）", "1-4 或 一级至四级", "有残疾时必填", ""),
    Column(
        "disability_cert_no",
        "残疾人证号",
        "20位：身份证号码+类别代码+等级代码",
        "20位或留空",
        "否",
        "",
        id_like=True,
        width=24,
    ),
    Column("serious_illness", "重病患者", "是否患重特大疾病", "是、否（空白为否）", "否", "否"),
    Column("student", "在校学生", "是否为在校学生", "是、否（空白为否）", "否", "否"),
    Column("left_behind", "留守情况", "留守老年人、儿童、妇女", f"{_labels(LeftBehind)}（空白为否）", "否", "否"),
    Column(
        "phone", "联系电话", "手机或固定电话", "数字、空格、+、-", "否", "13800000000", ("电话", "手机号码", "手机")
    ),
    Column(
        "income_wage",
        "月工资性收入（元）",
        "该成员当前每月工资性收入",
        "金额，最多两位小数；空白表示不登记",
        "否",
        "",
        ("月工资性收入",),
    ),
    Column(
        "income_business",
        "月家庭经营净收入（元）",
        "该成员当前每月家庭经营净收入",
        "金额，最多两位小数；空白表示不登记",
        "否",
        "",
        ("月经营净收入（元）", "月家庭经营净收入"),
    ),
    Column(
        "income_pension",
        "月养老金（元）",
        "该成员当前每月其他养老金、离退休金",
        "金额，最多两位小数；空白表示不登记",
        "否",
        "",
        ("月养老金", "月离退休金（元）"),
    ),
)

REGION_COLUMNS: tuple[Column, ...] = (
    Column(
        "code",
        "区划代码",
        "12位统计用区划代码",
        "乡镇（街道）：县级6位+3位+000；村（社区）：乡镇前9位+3位",
        "是",
        "469001100201",
        ("行政区划代码", "统计用区划代码"),
        header_required=True,
        width=16,
    ),
    Column("name", "名称", "区划名称", "最多64字", "是", "甲村委会", ("区划名称",), header_required=True, width=20),
    Column(
        "level",
        "层级",
        "区划层级",
        "乡镇（街道）、村（社区）（也可写乡、镇、街道、村、社区）",
        "是",
        "村（社区）",
        ("区划层级", "级别"),
        header_required=True,
    ),
    Column(
        "parent_code",
        "上级区划代码",
        "上一级区划的12位代码：乡镇填县（市、区），村（社区）填乡镇（街道）",
        "12位数字",
        "是",
        "469001100000",
        ("上级代码", "上级区划"),
        header_required=True,
        width=16,
    ),
)

COLUMNS = {"households": HOUSEHOLD_COLUMNS, "regions": REGION_COLUMNS}

INCOME_COLUMNS: tuple[tuple[str, str], ...] = (
    ("income_wage", IncomeKind.WAGE),
    ("income_business", IncomeKind.BUSINESS),
    ("income_pension", IncomeKind.PENSION),
)
HOUSEHOLD_KEYS = ("region_code", "address", "hukou_type", "registered_poor", "poverty_status", "poverty_exit_year")
PERSON_FIELDS = (
    "id_number",
    "name",
    "sex",
    "birth_date",
    "ethnicity",
    "phone",
    "labour_capacity",
    "disability_category",
    "disability_grade",
    "disability_cert_no",
    "serious_illness",
    "student",
    "left_behind",
)
# Person fields compared with the registry when their column is in the file (sex and birth date come from the ID).
COMPARED_PERSON_FIELDS = (
    "name",
    "ethnicity",
    "phone",
    "labour_capacity",
    "disability_category",
    "disability_grade",
    "disability_cert_no",
    "serious_illness",
    "student",
    "left_behind",
)

# Spellings found in other systems' exports, mapped to what validation.py accepts.
VALUE_ALIASES: dict[str, dict[str, str]] = {
    "hukou_type": {
        "城镇": "urban",
        "非农业": "urban",
        "非农业户口": "urban",
        "城市户口": "urban",
        "农业": "rural",
        "农业户口": "rural",
        "农村户口": "rural",
    },
    "poverty_status": {"未脱贫": "poor", "已脱贫": "exited", "否": "not_poor", "无": "not_poor"},
    "sex": {"男性": "1", "女性": "2"},
    "labour_capacity": {
        "有": "full",
        "健全": "full",
        "部分丧失": "partial",
        "完全丧失劳动能力": "none",
        "丧失劳动能力": "none",
        "无": "none",
    },
    "disability_category": {str(label).removesuffix("残疾"): str(value) for value, label in DisabilityCategory.choices},
    "disability_grade": {"一级": "1", "二级": "2", "三级": "3", "四级": "4"},
    "left_behind": {"无": "", "留守老人": "elderly"},
    "relation": {
        "本人": "02",
        "01": "02",
        "妻子": "12",
        "丈夫": "11",
        "儿子": "20",
        "女儿": "30",
        "长子": "20",
        "次子": "20",
        "长女": "30",
        "次女": "30",
        "独生子": "20",
        "独生女": "30",
        "外孙子": "40",
        "外孙女": "40",
        "父亲": "51",
        "母亲": "52",
        "公公": "50",
        "婆婆": "50",
        "岳父": "50",
        "岳母": "50",
        "祖父": "60",
        "祖母": "60",
        "外祖父": "60",
        "外祖母": "60",
        "兄弟": "70",
        "姐妹": "70",
        "哥哥": "70",
        "姐姐": "70",
        "弟弟": "70",
        "妹妹": "70",
        "兄": "70",
        "姐": "70",
        "弟": "70",
        "妹": "70",
    },
    "level": {
        "乡镇（街道）": "township",
        "乡镇": "township",
        "乡": "township",
        "镇": "township",
        "街道": "township",
        "苏木": "township",
        "township": "township",
        "村（社区）": "village",
        "村": "village",
        "社区": "village",
        "村委会": "village",
        "居委会": "village",
        "嘎查": "village",
        "village": "village",
    },
}


def _norm_header(text: str) -> str:
    return (
        text.replace("\ufeff", "")
        .replace("(", "（")
        .replace(")", "）")
        .replace("*", "")
        .replace("＊", "")
        .replace(" ", "")
        .replace("\u3000", "")
        .strip()
        .lower()
    )


# ---- report -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    row: int | None  # as the user sees it in the file (header = row 1 in a template)
    column: str  # the column header, or "" for the whole row
    value: str  # the cell content (ID numbers masked)
    reason: str
    cell: str = ""  # Excel reference, e.g. "J5"

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "cell": self.cell, "value": self.value, "reason": self.reason}


@dataclass
class ImportReport:
    kind: str
    filename: str = ""
    sha256: str = ""
    rows: int = 0
    created_households: int = 0
    created_persons: int = 0
    created_members: int = 0
    created_incomes: int = 0
    created_regions: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add_error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)

    def summary(self) -> str:
        label = KINDS.get(self.kind, self.kind)
        if not self.ok:
            lines = [
                f"导入失败（{label}）：共{self.rows}行数据，发现{self.error_count}处错误，未写入任何数据。"
                "请按错误报告逐条修改后重新导入整个文件。"
            ]
            for error in self.errors[:10]:
                where = f"第{error.row}行" if error.row else "文件"
                column = f"【{error.column}】" if error.column else ""
                lines.append(f"  {where}{column}：{error.reason}")
            if self.error_count > 10:
                lines.append(f"  ……其余{self.error_count - 10}处错误见错误报告")
            return "\n".join(lines)
        if self.kind == "regions":
            return f"导入成功（{label}）：共{self.rows}行，新增区划{self.created_regions}个，未变化{self.unchanged}行。"
        return (
            f"导入成功（{label}）：共{self.rows}行，新增家庭{self.created_households}户、人员{self.created_persons}人、"
            f"家庭成员关系{self.created_members}条、收入记录{self.created_incomes}条，未变化{self.unchanged}行。"
        )

    def error_csv(self) -> bytes:
        """The errors as a CSV that Excel opens (UTF-8 with BOM), every cell neutralised."""
        out = io.BytesIO()
        rows = [(e.row or "", e.column, e.cell, e.value, e.reason) for e in self.errors]
        if self.error_count > len(self.errors):
            rows.append(("", "", "", "", f"错误过多，仅列出前{len(self.errors)}处（共{self.error_count}处）"))
        spreadsheet.write_csv(out, ["行号", "列名", "单元格", "单元格内容", "错误原因"], rows)
        return out.getvalue()


# ---- entry points -----------------------------------------------------------------------------------------


def import_file(*, scope: Scope, path: Path, kind: str) -> ImportReport:
    """Import a local CSV or .xlsx file (the command line)."""
    _check_kind(kind)
    scope.require_bulk()
    source = spreadsheet.source_from_path(Path(path))
    try:
        return _run(scope, source, kind)
    finally:
        source.stream.close()


def import_upload(*, scope: Scope, fileobj: BinaryIO | Any, filename: str, kind: str) -> ImportReport:
    """Import an uploaded file (a Django UploadedFile or any binary file object)."""
    _check_kind(kind)
    scope.require_bulk()
    source = spreadsheet.source_from_upload(fileobj, filename)
    return _run(scope, source, kind)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ApplicationError("invalid_kind", f"未知的导入类型“{kind}”，应为 households 或 regions", "kind")


def _run(scope: Scope, source: spreadsheet.Source, kind: str) -> ImportReport:
    spreadsheet.inspect(source)
    report = ImportReport(kind=kind, filename=source.filename, sha256=source.sha256)
    table = _Table(source, COLUMNS[kind], report)
    # Choice labels are matched in Chinese whatever language the request runs in.
    with translation.override("zh-hans"):
        if kind == "households":
            _HouseholdImport(scope, table, report).run()
        else:
            _RegionImport(scope, table, report).run()
    report.errors.sort(key=lambda e: e.row or 0)  # passes find errors in different orders; show them in file order
    return report


# ---- reading the table ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Raw:
    row: int
    values: dict[str, str]


class _Table:
    """The header and data rows of a file, with cell-level problems (formulas, stray cells) reported."""

    def __init__(self, source: spreadsheet.Source, columns: Sequence[Column], report: ImportReport) -> None:
        self.source = source
        self.columns = columns
        self.report = report
        self.by_key = {c.key: c for c in columns}
        self.index: dict[int, Column] = {}
        self.present: set[str] = set()
        self._interned: dict[str, str] = {}
        # Cells already reported (a formula, a number in an ID column): no second error for what follows from it.
        self._bad_cells: dict[int, set[str]] = {}

    def header(self, key: str) -> str:
        return self.by_key[key].header

    def cell_ref(self, key: str, row: int) -> str:
        for index, column in self.index.items():
            if column.key == key:
                return f"{spreadsheet.column_letter(index)}{row}"
        return ""

    def error(self, row: int | None, key: str, value: str, reason: str) -> None:
        if row is not None and key in self._bad_cells.get(row, ()):
            return
        column = self.by_key.get(key)
        shown = value
        if column is not None and column.id_like and value:
            shown = idnumber.mask(value)
        self.report.add_error(
            RowError(
                row=row,
                column=column.header if column else key,
                value=shown[:200],
                reason=reason,
                cell=self.cell_ref(key, row) if row else "",
            )
        )

    def _read_header(self, cells: Sequence[spreadsheet.Cell], row: int) -> None:
        lookup: dict[str, Column] = {}
        for column in self.columns:
            for name in (column.header, *column.aliases):
                lookup[_norm_header(name)] = column
        seen: dict[str, str] = {}
        unknown: list[str] = []
        for index, value in enumerate(cells):
            text = spreadsheet.cell_text(value)
            if not text:
                continue
            found = lookup.get(_norm_header(text))
            if found is None:
                unknown.append(text)
                continue
            column = found
            if column.key in seen:
                raise ApplicationError(
                    "bad_header",
                    f"表头第{row}行中“{text}”与“{seen[column.key]}”是同一列，请删除重复的列",
                    column.header,
                )
            seen[column.key] = text
            self.index[index] = column
        if unknown:
            names = "”“".join(unknown[:5])
            raise ApplicationError(
                "bad_header",
                f"表头中有无法识别的列“{names}”，请使用导入模板的列名（第{row}行应为表头）",
                unknown[0],
            )
        missing = [c.header for c in self.columns if c.header_required and c.key not in seen]
        if missing:
            names = "”“".join(missing)
            raise ApplicationError(
                "bad_header", f"缺少必需的列“{names}”，请使用导入模板（第{row}行应为表头）", missing[0]
            )
        self.present = set(seen)

    def rows(self) -> Iterator[_Raw]:
        """Data rows; blank rows are skipped; the row limit is enforced while reading."""
        limit = spreadsheet.max_import_rows()
        have_header = False
        count = 0
        for number, cells in spreadsheet.iter_rows(self.source):
            if not have_header:
                if all(spreadsheet.cell_text(c) == "" for c in cells):
                    if number >= HEADER_SEARCH_ROWS:
                        break
                    continue
                self._read_header(cells, number)
                have_header = True
                continue
            raw = self._row(number, cells)
            if raw is None:
                continue
            count += 1
            if count > limit:
                raise ApplicationError(
                    "too_many_rows", f"文件超过{limit:,}行数据的上限，请拆分为多个文件后分别导入", "file", status=413
                )
            self.report.rows = count
            yield raw
        if not have_header:
            raise ApplicationError("empty_file", "文件中没有表头和数据，请使用导入模板填写", "file")

    def _row(self, number: int, cells: Sequence[spreadsheet.Cell]) -> _Raw | None:
        values: dict[str, str] = {}
        blank = True
        for index, value in enumerate(cells):
            if value is None or value == "":
                continue
            text = spreadsheet.cell_text(value)
            if not text:
                continue
            blank = False
            column = self.index.get(index)
            ref = f"{spreadsheet.column_letter(index)}{number}"
            if column is None:
                self.report.add_error(
                    RowError(number, "", text[:200], "该单元格所在列没有表头，请检查是否错列或多填", ref)
                )
                continue
            if isinstance(value, spreadsheet.Formula) or text.startswith("="):
                self.report.add_error(
                    RowError(
                        number,
                        column.header,
                        text[:200],
                        f"单元格{ref}是公式，不能导入：请复制后“选择性粘贴→数值”；如内容确实以“=”开头，请在前面加单引号'",
                        ref,
                    )
                )
                self._bad_cells.setdefault(number, set()).add(column.key)
                continue
            if column.id_like and (isinstance(value, int | float | decimal.Decimal) or spreadsheet.is_scientific(text)):
                self.report.add_error(
                    RowError(
                        number,
                        column.header,
                        "（数字）",
                        f"单元格{ref}的号码被存成了数字，末几位可能已丢失：请把该列设为“文本”格式后重新填写",
                        ref,
                    )
                )
                self._bad_cells.setdefault(number, set()).add(column.key)
                continue
            text = spreadsheet.unneutralise(text)
            if column.id_like:
                text = text.lstrip("'").replace(" ", "").upper()
            if len(text) <= 16:
                text = self._interned.setdefault(text, text)
            values[column.key] = text
        if blank:
            return None
        if any(v.startswith(EXAMPLE_MARK) for v in values.values()):
            self.report.add_error(RowError(number, "", EXAMPLE_MARK, "这是导入模板中的示例行，请删除后再导入"))
            return None
        return _Raw(number, values)


_LABEL_CHOICES: dict[str, Any] = {
    "hukou_type": HukouType,
    "poverty_status": PovertyStatus,
    "sex": Sex,
    "labour_capacity": LabourCapacity,
    "disability_category": DisabilityCategory,
    "left_behind": LeftBehind,
    "relation": Relation,
}
_CODES: dict[str, dict[str, str]] = {}


def _codes(key: str) -> dict[str, str]:
    """Label and alias → code, built once per import run (labels are lazy translations: build them in zh-hans).

    validation.clean_choice accepts labels too, but rebuilds the choice lists on every call, which dominates
    the time of a 200,000-row import; codes take its fast path. It still validates every value.
    """
    mapping = _CODES.get(key)
    if mapping is None:
        mapping = {}
        choices = _LABEL_CHOICES.get(key)
        if choices is not None:
            with translation.override("zh-hans"):
                mapping = {str(label): str(value) for value, label in choices.choices}
        if key == "ethnicity":
            mapping = {name: code for code, name in ETHNIC_GROUPS.items()}
        mapping.update(VALUE_ALIASES.get(key, {}))
        _CODES[key] = mapping
    return mapping


def _aliased(key: str, text: str) -> str:
    return _codes(key).get(text, text)


def _relation_code(text: str) -> str:
    text = _aliased("relation", text)
    if text.isdigit() and len(text) == 1:
        text = text.zfill(2)
    if text.isdigit() and len(text) == 2 and text not in Relation.values:
        group = text[0] + "0"  # GB/T 4761 detail codes (21 长子…) fall back to their group heading (20 子)
        if group in Relation.values:
            return group
    return text


# ---- households -------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Row:
    row: int
    head_key: str
    number: str
    household: tuple[Any, ...] | None
    person: tuple[Any, ...]
    relation: str
    start_date: dt.date | None
    incomes: tuple[decimal.Decimal | None, ...]
    # resolved against the database
    person_pk: int | None = None
    action: str = ""  # "new_person", "add_member", "unchanged"


@dataclass(slots=True)
class _Group:
    head_key: str
    rows: list[_Row] = field(default_factory=list)
    household: tuple[Any, ...] | None = None
    household_row: int = 0
    number: str = ""
    existing: dict[str, Any] | None = None
    new_number: str = ""
    pk: int | None = None


def _chunks(items: Sequence[Any], size: int = QUERY_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _display(key: str, value: Any) -> str:
    """A stored or cleaned value as the template spells it (for 'stored: …' messages)."""
    if value is None or value == "":
        return "空白"
    if isinstance(value, bool):
        return "是" if value else "否"
    choices = {
        "hukou_type": HukouType,
        "poverty_status": PovertyStatus,
        "labour_capacity": LabourCapacity,
        "disability_category": DisabilityCategory,
        "left_behind": LeftBehind,
        "relation": Relation,
        "sex": Sex,
    }.get(key)
    if choices is not None:
        return str(dict(choices.choices).get(value, value))
    if key == "ethnicity":
        return ETHNIC_GROUPS.get(str(value), str(value))
    if key == "disability_cert_no":
        return idnumber.mask(str(value))
    return str(value)


class _HouseholdImport:
    def __init__(self, scope: Scope, table: _Table, report: ImportReport) -> None:
        self.scope = scope
        self.table = table
        self.report = report
        self.today = dt.date.today()
        self.address_known: Callable[[str], bool] = address_code_checker()
        self.groups: dict[str, _Group] = {}
        self.first_row_of_person: dict[str, int] = {}
        self.relations: dict[str, str] = {}
        self.incomplete: set[str] = set()  # households with a row that failed validation

    def error(self, row: int | None, key: str, value: Any, reason: str) -> None:
        self.table.error(row, key, "" if value is None else str(value), reason)

    # -- pass 1: each row on its own
    def run(self) -> None:
        for raw in self.table.rows():
            self._clean_row(raw)
        if self.report.rows == 0 and self.report.ok:
            raise ApplicationError("empty_file", "文件中只有表头，没有数据行", "file")
        # The later passes run even after row errors, so that one report lists everything to fix; rows that
        # failed are left out of them, and households missing such a row skip the checks that need it.
        self._check_groups()
        self._resolve()
        if self.report.ok:
            self._write()

    def _clean_row(self, raw: _Raw) -> None:
        v = raw.values
        row = raw.row
        bad = False

        def fail(exc: ApplicationError, fallback: str) -> None:
            nonlocal bad
            bad = True
            key = exc.field if exc.field in self.table.by_key else fallback
            self.error(row, key, v.get(key, ""), exc.message)

        head_key = ""
        try:
            head_key = idnumber.parse(
                v.get("head_id_number", ""), address_known=self.address_known, today=self.today
            ).number
        except idnumber.IdNumberError as exc:
            bad = True
            self.error(row, "head_id_number", v.get("head_id_number", ""), f"户主身份证号：{exc.message}")
        person_data = {key: _aliased(key, v[key]) for key in PERSON_FIELDS if key in v}
        person: dict[str, Any] = {}
        try:
            person = clean_person(person_data, address_known=self.address_known, today=self.today)
        except ApplicationError as exc:
            fail(exc, "id_number")
        relation = ""
        relation_text = v.get("relation", "")
        cached = self.relations.get(relation_text)
        try:
            relation = cached if cached is not None else clean_relation(_relation_code(relation_text))
            self.relations[relation_text] = relation
        except ApplicationError as exc:
            fail(exc, "relation")
        start: dt.date | None = None
        try:
            start = clean_date(
                v.get("start_date"), "start_date", label="加入日期", required=False, not_after=self.today
            )
        except ApplicationError as exc:
            fail(exc, "start_date")
        incomes: list[decimal.Decimal | None] = []
        for key, _kind in INCOME_COLUMNS:
            text = v.get(key, "")
            try:
                incomes.append(clean_money(text, key, label=self.table.header(key)) if text else None)
            except ApplicationError as exc:
                incomes.append(None)
                fail(exc, key)
        household: tuple[Any, ...] | None = None
        if any(v.get(key) for key in HOUSEHOLD_KEYS):
            household = self._clean_household(row, v)
            bad = bad or household is None
        number = v.get("household_number", "")
        if number and not (number.isdigit() and len(number) <= 20):
            bad = True
            self.error(row, "household_number", number, "户编号只能是数字（最多20位）")
        if person:
            first = self.first_row_of_person.setdefault(person["id_number"], row)
            if first != row:
                bad = True
                self.error(
                    row,
                    "id_number",
                    person["id_number"],
                    f"与第{first}行是同一人（公民身份号码重复），同一人只能出现一次",
                )
        if bad:
            if head_key:
                self.incomplete.add(head_key)
            return
        group = self.groups.get(head_key)
        if group is None:
            group = self.groups[head_key] = _Group(head_key=head_key)
        group.rows.append(
            _Row(
                row=row,
                head_key=head_key,
                number=number,
                household=household,
                person=tuple(person[f] for f in PERSON_FIELDS),
                relation=relation,
                start_date=start,
                incomes=tuple(incomes),
            )
        )

    def _clean_household(self, row: int, v: dict[str, str]) -> tuple[Any, ...] | None:
        ok = True
        code = v.get("region_code", "")
        if not code:
            ok = False
            self.error(row, "region_code", code, "填写户信息时须填写村（社区）区划代码")
        elif not (len(code) == 12 and code.isdigit()):
            ok = False
            self.error(row, "region_code", code, "村（社区）区划代码应为12位数字")
        try:
            fields = clean_household({key: _aliased(key, v.get(key, "")) for key in HOUSEHOLD_KEYS[1:]})
        except ApplicationError as exc:
            key = exc.field if exc.field in self.table.by_key else "address"
            self.error(row, key, v.get(key, ""), exc.message)
            return None
        if not ok:
            return None
        return (code, *(fields[key] for key in HOUSEHOLD_KEYS[1:]))

    # -- pass 2: rows of one household together
    def _check_groups(self) -> None:
        numbers: dict[str, str] = {}
        for group in self.groups.values():
            head_rows = [r for r in group.rows if r.person[0] == group.head_key]
            for r in group.rows:
                if r.person[0] != group.head_key and r.relation == Relation.HEAD:
                    self.error(
                        r.row,
                        "relation",
                        "户主",
                        "只有公民身份号码与户主身份证号相同的成员才能填“户主”，请核对户主身份证号或与户主关系",
                    )
            for r in head_rows:
                if r.relation != Relation.HEAD:
                    self.error(
                        r.row,
                        "relation",
                        _display("relation", r.relation),
                        "公民身份号码与户主身份证号相同，此行是户主本人，与户主关系应填“户主”",
                    )
            carriers = [r for r in group.rows if r.household is not None]
            if carriers:
                first = next((r for r in carriers if r in head_rows), carriers[0])
                group.household, group.household_row = first.household, first.row
                for r in carriers:
                    if r is first or r.household == first.household:
                        continue
                    assert r.household is not None and first.household is not None
                    for key, mine, theirs in zip(HOUSEHOLD_KEYS, r.household, first.household, strict=True):
                        if mine != theirs:
                            self.error(
                                r.row,
                                key,
                                _display(key, mine),
                                f"同一户的户信息应一致，与第{first.row}行填写的“{_display(key, theirs)}”不同",
                            )
            given = {r.number for r in group.rows if r.number}
            if len(given) > 1:
                for r in group.rows:
                    if r.number:
                        self.error(r.row, "household_number", r.number, "同一户主的各行户编号不一致")
            elif given:
                group.number = given.pop()
                other = numbers.setdefault(group.number, group.head_key)
                if other != group.head_key:
                    self.error(
                        group.rows[0].row, "household_number", group.number, "该户编号在文件中已用于另一位户主的家庭"
                    )

    # -- pass 3: against the registry
    def _resolve(self) -> None:
        """Households first (one dict per household), then persons chunk by chunk, so memory stays flat."""
        household_values = (
            "pk",
            "number",
            "head_id",
            "region_id",
            "region__path",
            "address",
            "hukou_type",
            "registered_poor",
            "poverty_status",
            "poverty_exit_year",
        )
        by_head: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(list(self.groups)):
            for h in Household.objects.filter(head__id_number__in=chunk, status=HouseholdStatus.ACTIVE).values(
                "head__id_number", *household_values
            ):
                by_head[h["head__id_number"]] = h
        by_number: dict[str, dict[str, Any]] = {}
        for chunk in _chunks([g.number for g in self.groups.values() if g.number]):
            for h in Household.objects.filter(number__in=chunk).values(*household_values):
                by_number[h["number"]] = h
        regions: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(sorted({g.household[0] for g in self.groups.values() if g.household})):
            for region in Region.objects.filter(code__in=chunk).values("code", "name", "level", "path"):
                regions[region["code"]] = dict(region)
        pending: list[tuple[_Row, int | None]] = []
        for group in self.groups.values():
            checked = self._resolve_group(group, by_head, by_number, regions)
            if checked is not None:
                pending.extend((r, checked or None) for r in group.rows)
        del by_head, by_number
        for chunk in _chunks(pending):
            persons = {
                p["id_number"]: p
                for p in Person.objects.filter(id_number__in=[r.person[0] for r, _ in chunk]).values(
                    "pk", *PERSON_FIELDS
                )
            }
            pks = [p["pk"] for p in persons.values()]
            live: dict[int, dict[str, Any]] = {
                m["person_id"]: dict(m)
                for m in Membership.objects.filter(person_id__in=pks, end_date__isnull=True).values(
                    "person_id", "household_id", "relation", "start_date", "household__number"
                )
            }
            incomes = {
                (item["household_id"], item["person_id"], item["kind"]): item["total"]
                for item in IncomeItem.objects.filter(
                    person_id__in=pks, end_date__isnull=True, kind__in=[k for _, k in INCOME_COLUMNS]
                )
                .values("household_id", "person_id", "kind")
                .annotate(total=Sum("monthly_amount"))
            }
            for r, household_pk in chunk:
                self._resolve_row(r, household_pk, persons, live, incomes)

    def _resolve_group(
        self,
        group: _Group,
        by_head: dict[str, dict[str, Any]],
        by_number: dict[str, dict[str, Any]],
        regions: dict[str, dict[str, Any]],
    ) -> int | None:
        """Match or check the household: its pk (0 if new) when its rows are to be checked, else None."""
        first_row = group.rows[0].row
        existing = by_head.get(group.head_key)
        numbered = by_number.get(group.number) if group.number else None
        if numbered is not None and (existing is None or numbered["pk"] != existing["pk"]):
            self.error(
                first_row,
                "household_number",
                group.number,
                "系统中该户编号的家庭户主不是本行的户主身份证号，请核对户编号（新家庭请留空）",
            )
            return None
        if existing is not None and group.number and group.number != existing["number"]:
            self.error(
                first_row,
                "household_number",
                group.number,
                f"该户主在系统中的家庭户编号为{existing['number']}，与所填户编号不一致",
            )
            return None
        if existing is not None:
            group.existing = {k: existing[k] for k in ("pk", "number", "region_id")}
            if not existing["region__path"].startswith(self.scope.region_path):
                self.error(
                    first_row, "head_id_number", group.head_key, f"该户主所在家庭{existing['number']}不在您的管辖范围内"
                )
                return None
            if group.household is not None:
                stored = (
                    existing["region_id"],
                    existing["address"],
                    existing["hukou_type"],
                    existing["registered_poor"],
                    existing["poverty_status"],
                    existing["poverty_exit_year"],
                )
                for key, mine, theirs in zip(HOUSEHOLD_KEYS, group.household, stored, strict=True):
                    if mine != theirs:
                        self.error(
                            group.household_row,
                            key,
                            _display(key, mine),
                            f"与系统中家庭{existing['number']}登记的“{_display(key, theirs)}”不一致；"
                            "导入不修改已有记录，请在系统中修改",
                        )
            return int(existing["pk"])
        if group.head_key in self.incomplete and (
            group.household is None or not any(r.person[0] == group.head_key for r in group.rows)
        ):
            # The head's row failed validation: its own error is reported; still check the other members.
            return 0
        if not any(r.person[0] == group.head_key for r in group.rows):
            self.error(
                first_row,
                "head_id_number",
                group.head_key,
                "系统中没有以此人为户主的家庭，文件中也没有户主本人所在的行（公民身份号码与户主身份证号相同）",
            )
            return None
        if group.household is None:
            self.error(first_row, "region_code", "", "新家庭须在户主所在行填写村（社区）区划代码、居住地址和户籍类别")
            return None
        code = group.household[0]
        region = regions.get(code)
        if region is None:
            self.error(group.household_row, "region_code", code, f"区划代码{code}不存在")
            return None
        if not region["path"].startswith(self.scope.region_path):
            self.error(group.household_row, "region_code", code, f"“{region['name']}”不在您的管辖范围内")
            return None
        if region["level"] != RegionLevel.VILLAGE:
            self.error(
                group.household_row,
                "region_code",
                code,
                f"“{region['name']}”不是村（社区）级区划，家庭须登记到村（社区）",
            )
            return None
        if group.number and not (len(group.number) == 18 and group.number.startswith(code)):
            self.error(
                first_row,
                "household_number",
                group.number,
                "新家庭的户编号应为村（社区）区划代码加6位序号，或留空由系统生成",
            )
            return None
        group.new_number = group.number
        return 0

    def _resolve_row(
        self,
        r: _Row,
        household_pk: int | None,
        persons: dict[str, dict[str, Any]],
        live: dict[int, dict[str, Any]],
        incomes: dict[tuple[int, int, str], decimal.Decimal],
    ) -> None:
        stored = persons.get(r.person[0])
        if stored is None:
            r.action = "new_person"
            return
        r.person_pk = stored["pk"]
        membership = live.get(stored["pk"])
        if membership is not None and membership["household_id"] != household_pk:
            self.error(
                r.row,
                "id_number",
                r.person[0],
                f"该人员已是家庭{membership['household__number']}的成员，须先在系统中办理迁出，再加入本户",
            )
            return
        mine = dict(zip(PERSON_FIELDS, r.person, strict=True))
        differs = False
        for key in COMPARED_PERSON_FIELDS:
            if key != "name" and key not in self.table.present:
                continue
            if mine[key] != stored[key]:
                differs = True
                self.error(
                    r.row,
                    key,
                    _display(key, mine[key]),
                    f"与系统中该人员登记的“{_display(key, stored[key])}”不一致；导入不修改已有记录，请在系统中修改",
                )
        if membership is None:
            r.action = "add_member"
            return
        if membership["relation"] != r.relation:
            differs = True
            self.error(
                r.row,
                "relation",
                _display("relation", r.relation),
                f"与系统中登记的“{_display('relation', membership['relation'])}”不一致；导入不修改已有记录",
            )
        if r.start_date is not None and r.start_date != membership["start_date"]:
            differs = True
            self.error(
                r.row,
                "start_date",
                r.start_date.isoformat(),
                f"与系统中登记的加入日期{membership['start_date'].isoformat()}不一致；导入不修改已有记录",
            )
        for (key, kind), amount in zip(INCOME_COLUMNS, r.incomes, strict=True):
            if amount is None:
                continue
            have = incomes.get((membership["household_id"], stored["pk"], kind), decimal.Decimal("0.00"))
            if have != amount:
                differs = True
                self.error(
                    r.row, key, str(amount), f"与系统中登记的当前金额{have}元不一致；导入不修改已有记录，请在系统中修改"
                )
        if not differs:
            r.action = "unchanged"

    # -- pass 4: write
    def _write(self) -> None:
        try:
            with transaction.atomic():
                self._write_all()
        except IntegrityError:
            self.report.created_households = self.report.created_persons = self.report.created_members = 0
            self.report.created_incomes = 0
            raise ApplicationError(
                "import_conflict",
                "导入期间相关记录已被其他用户修改（例如同一人员被同时登记），未写入任何数据，请重新导入",
                "file",
                status=409,
            ) from None

    def _write_all(self) -> None:
        # Model instances are built and inserted one batch at a time: 200,000 Person objects at once would
        # take gigabytes.
        rows = [r for g in self.groups.values() for r in g.rows]
        self.report.unchanged = sum(1 for r in rows if r.action == "unchanged")
        # persons
        new_rows = [r for r in rows if r.action == "new_person"]
        for batch in _chunks(new_rows, BULK_BATCH):
            persons = [Person(**dict(zip(PERSON_FIELDS, r.person, strict=True))) for r in batch]
            Person.objects.bulk_create(persons)
            pk_by_id = _pks(persons, Person, "id_number")
            for r in batch:
                r.person_pk = pk_by_id[r.person[0]]
        self.report.created_persons = len(new_rows)
        # households (the head person exists now, so head_id is set on insert)
        new_groups = [g for g in self.groups.values() if g.existing is None]
        self._number(new_groups)
        for group_batch in _chunks(new_groups, BULK_BATCH):
            households = [self._household(g) for g in group_batch]
            Household.objects.bulk_create(households)
            pk_by_number = _pks(households, Household, "number")
            for g in group_batch:
                g.pk = pk_by_number[g.new_number]
        for g in self.groups.values():
            if g.existing is not None:
                g.pk = g.existing["pk"]
        self.report.created_households = len(new_groups)
        # memberships and incomes
        added: dict[int, list[list[Any]]] = defaultdict(list)
        memberships: list[Membership] = []
        items: list[IncomeItem] = []
        for g in self.groups.values():
            assert g.pk is not None
            for r in g.rows:
                if r.action == "unchanged":
                    continue
                assert r.person_pk is not None
                memberships.append(
                    Membership(
                        household_id=g.pk,
                        person_id=r.person_pk,
                        relation=r.relation,
                        start_date=r.start_date or self.today,
                    )
                )
                added[g.pk].append([r.person_pk, r.relation])
                for (_key, kind), amount in zip(INCOME_COLUMNS, r.incomes, strict=True):
                    if amount:
                        items.append(
                            IncomeItem(
                                household_id=g.pk,
                                person_id=r.person_pk,
                                kind=kind,
                                monthly_amount=amount,
                                start_date=self.today,
                                note="批量导入",
                            )
                        )
                if len(memberships) >= BULK_BATCH:
                    self._flush(memberships, items)
        self._flush(memberships, items)
        grown = [g.pk for g in self.groups.values() if g.existing is not None and g.pk in added]
        for chunk in _chunks(grown):
            Household.objects.filter(pk__in=chunk).update(version=F("version") + 1)
        # audit: the import itself, then one entry per household created or given new members
        note = f"批量导入 {self.report.filename}（SHA-256 {self.report.sha256[:16]}…）"
        audit_log_create(
            scope=self.scope,
            action=AuditAction.IMPORT,
            subject_type="import",
            subject_id=self.report.sha256,
            region_code=self.scope.region_code,
            note=note,
            after={
                "kind": "households",
                "filename": self.report.filename,
                "sha256": self.report.sha256,
                "rows": self.report.rows,
                "created_households": self.report.created_households,
                "created_persons": self.report.created_persons,
                "created_members": self.report.created_members,
                "created_incomes": self.report.created_incomes,
                "unchanged": self.report.unchanged,
            },
        )
        for g in self.groups.values():
            if g.pk not in added:
                continue
            if g.existing is None:
                assert g.household is not None
                after: dict[str, Any] = {
                    "number": g.new_number,
                    **dict(zip(HOUSEHOLD_KEYS, g.household, strict=True)),
                    "members": added[g.pk],
                }
                action, region_code = AuditAction.CREATE, g.household[0]
            else:
                after = {"added_members": added[g.pk]}
                action, region_code = AuditAction.UPDATE, g.existing["region_id"]
            audit_log_create(
                scope=self.scope,
                action=action,
                subject_type="household",
                subject_id=g.pk,
                region_code=region_code,
                household_id=g.pk,
                after=after,
                note=note,
            )

    def _household(self, g: _Group) -> Household:
        assert g.household is not None
        head = next(r for r in g.rows if r.person[0] == g.head_key)
        return Household(
            number=g.new_number,
            region_id=g.household[0],
            address=g.household[1],
            hukou_type=g.household[2],
            registered_poor=g.household[3],
            poverty_status=g.household[4],
            poverty_exit_year=g.household[5],
            head_id=head.person_pk,
        )

    def _flush(self, memberships: list[Membership], items: list[IncomeItem]) -> None:
        Membership.objects.bulk_create(memberships)
        IncomeItem.objects.bulk_create(items)
        self.report.created_members += len(memberships)
        self.report.created_incomes += len(items)
        memberships.clear()
        items.clear()

    def _number(self, groups: list[_Group]) -> None:
        """户编号 = village code + 6-digit sequence, continuing after the highest number in the village."""
        need = sorted({g.household[0] for g in groups if not g.new_number and g.household})
        if not need:
            return
        last: dict[str, int] = {}
        for chunk in _chunks(need):
            for row in Household.objects.filter(region_id__in=chunk).values("region_id").annotate(m=Max("number")):
                number = row["m"] or ""
                if number.startswith(row["region_id"]) and number[12:].isdigit():
                    last[row["region_id"]] = int(number[12:])
        for g in groups:
            if g.new_number and g.household:
                code = g.household[0]
                last[code] = max(last.get(code, 0), int(g.new_number[12:]))
        for g in groups:
            if not g.new_number and g.household:
                code = g.household[0]
                last[code] = last.get(code, 0) + 1
                if last[code] > 999_999:
                    raise ApplicationError("numbering_exhausted", f"村（社区）{code}的户编号已用完", "region_code")
                g.new_number = f"{code}{last[code]:06d}"


def _pks(objects: Sequence[Any], model: Any, key: str) -> dict[str, int]:
    """Primary keys of bulk-created rows: returned by PostgreSQL and SQLite ≥ 3.35, else read back by key."""
    result = {getattr(o, key): o.pk for o in objects if o.pk is not None}
    missing = [getattr(o, key) for o in objects if o.pk is None]
    for chunk in _chunks(missing):
        result.update(model.objects.filter(**{f"{key}__in": chunk}).values_list(key, "pk"))
    return result


# ---- regions ----------------------------------------------------------------------------------------------

ALLOWED_PARENT_LEVELS: dict[str, set[str]] = {
    RegionLevel.TOWNSHIP: {RegionLevel.COUNTY, RegionLevel.CITY},
    RegionLevel.VILLAGE: {RegionLevel.TOWNSHIP},
}
REGION_NAME_RE = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0002ebef·（）()A-Za-z0-9\-]{1,64}$")


@dataclass(slots=True)
class _RegionRow:
    row: int
    code: str
    name: str
    level: str
    parent_code: str


class _RegionImport:
    def __init__(self, scope: Scope, table: _Table, report: ImportReport) -> None:
        self.scope = scope
        self.table = table
        self.report = report
        self.rows: list[_RegionRow] = []

    def error(self, row: int, key: str, value: str, reason: str) -> None:
        self.table.error(row, key, value, reason)

    def run(self) -> None:
        seen: dict[str, int] = {}
        for raw in self.table.rows():
            self._clean(raw, seen)
        if self.report.rows == 0 and self.report.ok:
            raise ApplicationError("empty_file", "文件中只有表头，没有数据行", "file")
        if not self.report.ok:
            return
        self._resolve()
        if self.report.ok:
            self._write()

    def _clean(self, raw: _Raw, seen: dict[str, int]) -> None:
        v, row, ok = raw.values, raw.row, True
        code, name = v.get("code", ""), v.get("name", "")
        level = _aliased("level", v.get("level", ""))
        parent = v.get("parent_code", "")
        if not (len(code) == 12 and code.isdigit()):
            ok = False
            self.error(row, "code", code, "区划代码应为12位数字" if code else "区划代码不能为空")
        if not name:
            ok = False
            self.error(row, "name", name, "名称不能为空")
        elif not REGION_NAME_RE.match(name):
            ok = False
            self.error(row, "name", name, "名称最多64字，只能包含汉字、字母、数字、括号、间隔号和连字符")
        if level not in ALLOWED_PARENT_LEVELS:
            ok = False
            self.error(row, "level", v.get("level", ""), "层级应为“乡镇（街道）”或“村（社区）”")
        if not (len(parent) == 12 and parent.isdigit()):
            ok = False
            self.error(row, "parent_code", parent, "上级区划代码应为12位数字" if parent else "上级区划代码不能为空")
        if ok and level == RegionLevel.TOWNSHIP and (code[9:] != "000" or code[6:9] == "000"):
            ok = False
            self.error(row, "code", code, "乡镇（街道）代码应为县级6位+3位乡镇码（非000）+000")
        if ok and level == RegionLevel.VILLAGE and code[9:] == "000":
            ok = False
            self.error(row, "code", code, "村（社区）代码的最后3位不能是000")
        if code in seen:
            ok = False
            self.error(row, "code", code, f"与第{seen[code]}行的区划代码重复")
        elif code:
            seen[code] = row
        if ok:
            self.rows.append(_RegionRow(row, code, name, level, parent))

    def _resolve(self) -> None:
        codes = sorted({r.code for r in self.rows} | {r.parent_code for r in self.rows})
        stored: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(codes):
            for region in Region.objects.filter(code__in=chunk).values("code", "name", "level", "parent_id", "path"):
                stored[region["code"]] = dict(region)
        in_file = {r.code: r for r in self.rows}
        for r in self.rows:
            parent = stored.get(r.parent_code)
            parent_level = (
                parent["level"] if parent else (in_file[r.parent_code].level if r.parent_code in in_file else None)
            )
            if parent_level is None:
                self.error(r.row, "parent_code", r.parent_code, "上级区划不存在（系统和文件中都没有）")
                continue
            if parent_level not in ALLOWED_PARENT_LEVELS[r.level]:
                self.error(
                    r.row,
                    "parent_code",
                    r.parent_code,
                    "乡镇（街道）的上级应为县（市、区），村（社区）的上级应为乡镇（街道）",
                )
                continue
            prefix = 9 if r.level == RegionLevel.VILLAGE else 6
            if r.code[:prefix] != r.parent_code[:prefix]:
                self.error(r.row, "code", r.code, f"区划代码的前{prefix}位应与上级区划代码相同")
                continue
            if parent is not None and not parent["path"].startswith(self.scope.region_path):
                self.error(r.row, "parent_code", r.parent_code, "上级区划不在您的管辖范围内")
                continue
            existing = stored.get(r.code)
            if existing is not None:
                if (existing["name"], existing["level"], existing["parent_id"]) == (r.name, r.level, r.parent_code):
                    self.report.unchanged += 1
                    r.code = ""  # nothing to write
                else:
                    self.error(
                        r.row,
                        "code",
                        r.code,
                        f"区划代码已存在（{existing['name']}，上级{existing['parent_id']}），与本行不一致；"
                        "导入不修改已有区划",
                    )

    def _write(self) -> None:
        todo = sorted((r for r in self.rows if r.code), key=lambda r: (LEVEL_DEPTH[r.level], r.code))
        with transaction.atomic():
            for r in todo:
                try:
                    region_create(scope=self.scope, code=r.code, name=r.name, level=r.level, parent_code=r.parent_code)
                except ApplicationError as exc:
                    # A concurrent change since validation: report it on its row; nothing is kept.
                    raise ApplicationError(
                        exc.code, f"第{r.row}行：{exc.message}", exc.field, row=r.row, status=exc.status
                    ) from None
            self.report.created_regions = len(todo)
            audit_log_create(
                scope=self.scope,
                action=AuditAction.IMPORT,
                subject_type="import",
                subject_id=self.report.sha256,
                region_code=self.scope.region_code,
                note=f"区划导入 {self.report.filename}（SHA-256 {self.report.sha256[:16]}…）",
                after={
                    "kind": "regions",
                    "filename": self.report.filename,
                    "sha256": self.report.sha256,
                    "rows": self.report.rows,
                    "created_regions": len(todo),
                    "unchanged": self.report.unchanged,
                },
            )


# ---- templates --------------------------------------------------------------------------------------------


def _example_row(kind: str) -> list[str]:
    if kind == "regions":
        return [c.example for c in REGION_COLUMNS]
    head_id = idnumber.make("469001", dt.date(1970, 3, 1), 11)
    values = {c.key: c.example for c in HOUSEHOLD_COLUMNS}
    values.update(head_id_number=head_id, id_number=head_id)
    return [values[c.key] for c in HOUSEHOLD_COLUMNS]


NOTES = (
    "填写说明：",
    "1. 每个成员一行；同一户的各行填写同一个“户主身份证号”。户信息（区划代码、地址、户籍类别等）可只在户主行填写，"
    "其他行留空或完整重复（须一致）。",
    "2. 身份证号码列请设置为“文本”格式，否则Excel会把18位号码变成科学计数法并丢失末尾数字。",
    "3. 不要使用公式；以“=”开头的单元格会被拒绝。",
    "4. 导入要么全部成功，要么一行也不写入；有错误时请下载错误报告，按行号和列名修改后重新导入整个文件。",
    "5. 重复导入同一文件不会产生重复记录：已登记且内容相同的行计为“未变化”；导入不修改已有记录，不一致处报错。",
    "6. 支持 .xlsx 和 .csv（UTF-8 或 GBK 编码）；文件大小和行数有上限（默认20 MB、20万行）。",
)


def import_template(kind: str, fmt: str) -> bytes:
    """The downloadable template: headers (and, for CSV, a marked example row the importer refuses)."""
    _check_kind(kind)
    columns = COLUMNS[kind]
    header = [c.header for c in columns]
    example = _example_row(kind)
    out = io.BytesIO()
    if fmt == "csv":
        marked = [f"{EXAMPLE_MARK}{example[0]}（导入前请删除本行）", *example[1:]]
        spreadsheet.write_csv(out, header, [marked])
        return out.getvalue()
    if fmt != "xlsx":
        raise ApplicationError("invalid_format", "模板格式应为 xlsx 或 csv", "fmt")
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "家庭成员" if kind == "households" else "区划"
    sheet.append(header)
    for index, column in enumerate(columns):
        letter = spreadsheet.column_letter(index)
        sheet.column_dimensions[letter].width = column.width
        sheet.cell(row=1, column=index + 1).font = Font(bold=True)
        if column.id_like or column.key in {"household_number", "region_code", "code", "parent_code", "phone"}:
            # Pre-format whole columns as text so long numbers stay exact when typed or pasted.
            for row in range(2, 2001):
                sheet.cell(row=row, column=index + 1).number_format = "@"
    sheet.freeze_panes = "A2"
    notes = workbook.create_sheet("填写说明")
    notes.append(["列名", "含义", "取值或格式", "是否必填", "示例"])
    for column, value in zip(columns, example, strict=True):
        notes.append([column.header, column.meaning, column.allowed, column.required, spreadsheet.neutralise(value)])
    notes.append([])
    notes.append(["示例行（仅供参考，请在第一个工作表中填写）："])
    notes.append(header)
    notes.append([spreadsheet.neutralise(v) for v in example])
    notes.append([])
    for line in NOTES if kind == "households" else NOTES[2:]:
        notes.append([line])
    for letter, width in zip("ABCDE", (22, 48, 48, 18, 22), strict=True):
        notes.column_dimensions[letter].width = width
    for row_cells in notes.iter_rows(min_row=2, max_row=len(columns) + 1):
        for cell in row_cells:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for cell in notes[1]:
        cell.font = Font(bold=True)
    workbook.save(out)
    return out.getvalue()


def template_filename(kind: str, fmt: str) -> str:
    _check_kind(kind)
    return f"{'家庭成员' if kind == 'households' else '区划'}导入模板.{fmt}"


def errors_as_rows(report: ImportReport) -> list[list[str]]:
    """The error list for display (e.g. a table on the upload page)."""
    return [[str(e.row or ""), e.column, e.cell, e.value, e.reason] for e in report.errors]
