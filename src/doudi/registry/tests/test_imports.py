"""Registry imports: all rows or none, every error with its row and column, idempotent, bounded."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile

from doudi.core import idnumber
from doudi.core.errors import ApplicationError, PermissionDenied
from doudi.core.models import AuditLog, Region
from doudi.core.scope import scope_for
from doudi.registry import spreadsheet
from doudi.registry.imports import HOUSEHOLD_COLUMNS, REGION_COLUMNS, import_file, import_template, import_upload
from doudi.registry.models import Household, IncomeItem, Membership, Person
from doudi.testing.fixtures import make_household, new_id

HEADERS = [c.header for c in HOUSEHOLD_COLUMNS]
KEYS = [c.key for c in HOUSEHOLD_COLUMNS]


def member(head: str, id_number: str, name: str, relation: str, **extra: Any) -> dict[str, Any]:
    return {"head_id_number": head, "id_number": id_number, "name": name, "relation": relation, **extra}


def head_row(head: str, village: Region, name: str = "王大山", **extra: Any) -> dict[str, Any]:
    household = {"region_code": village.code, "address": f"{village.name}1号", "hukou_type": "农村"}
    return member(head, head, name, "户主", **{**household, **extra})


def table(rows: Iterable[dict[str, Any]], headers: list[str] | None = None) -> list[list[Any]]:
    headers = headers or HEADERS
    by_header = dict(zip(HEADERS, KEYS, strict=True))
    return [headers, *[[row.get(by_header.get(h, h), "") for h in headers] for row in rows]]


def as_csv(rows: list[list[Any]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def as_xlsx(rows: list[list[Any]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def upload(scope, data: bytes, filename: str = "家庭.csv", kind: str = "households"):
    return import_upload(scope=scope, fileobj=io.BytesIO(data), filename=filename, kind=kind)


def counts() -> tuple[int, int, int, int, int]:
    return (
        Household.objects.count(),
        Person.objects.count(),
        Membership.objects.count(),
        IncomeItem.objects.count(),
        AuditLog.objects.count(),
    )


def two_households(tree) -> tuple[list[dict[str, Any]], str, str]:
    head1, head2 = new_id(dt.date(1970, 3, 1)), new_id(dt.date(1965, 7, 9), male=False)
    rows = [
        head_row(head1, tree.village, income_wage="1200.50", phone="13800000001"),
        member(head1, new_id(dt.date(1972, 4, 2), male=False), "李秀英", "配偶", labour_capacity="部分丧失劳动能力"),
        member(head1, new_id(dt.date(2008, 9, 1)), "王小明", "子", student="是"),
        head_row(
            head2,
            tree.village2,
            name="陈阿婆",
            registered_poor="是",
            poverty_status="已脱贫",
            poverty_exit_year="2019",
            disability_category="肢体残疾",
            disability_grade="2",
        ),
    ]
    return rows, head1, head2


# ---- happy paths ------------------------------------------------------------------------------------------


def test_a_small_csv_file_creates_households_members_and_incomes(tree, county_scope):
    # given a UTF-8 file with two households, one of three members
    rows, head1, _ = two_households(tree)
    # when it is imported
    report = upload(county_scope, as_csv(table(rows)))
    # then everything is created, numbered in the village, with the head set and the income recorded
    assert report.ok, report.errors
    assert (report.rows, report.created_households, report.created_persons, report.created_members) == (4, 2, 4, 4)
    assert report.created_incomes == 1 and report.unchanged == 0
    household = Household.objects.get(head__id_number=head1)
    assert household.number == f"{tree.village.code}000001"
    assert household.memberships.filter(end_date__isnull=True).count() == 3
    income = IncomeItem.objects.get(household=household)
    assert str(income.monthly_amount) == "1200.50" and income.kind == "wage"
    poor = Household.objects.get(region=tree.village2)
    assert (poor.registered_poor, poor.poverty_status, poor.poverty_exit_year) == (True, "exited", 2019)
    assert Person.objects.get(name="陈阿婆").disability_grade == 2
    assert "新增家庭2户" in report.summary()


def test_an_import_is_audited_once_with_the_file_hash_and_once_per_created_household(tree, county_scope):
    rows, _, _ = two_households(tree)
    report = upload(county_scope, as_csv(table(rows)))
    entry = AuditLog.objects.get(action="import")
    assert entry.subject_id == report.sha256 and len(report.sha256) == 64
    assert entry.after["created_households"] == 2
    assert AuditLog.objects.filter(action="create", subject_type="household").count() == 2


def test_an_xlsx_file_is_imported_like_a_csv_file(tree, county_scope):
    rows, _, _ = two_households(tree)
    report = upload(county_scope, as_xlsx(table(rows)), filename="家庭.xlsx")
    assert report.ok, report.errors
    assert (report.created_households, report.created_persons) == (2, 4)


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig"])
def test_gbk_and_bom_encoded_csv_files_are_detected(tree, county_scope, encoding):
    rows, _, _ = two_households(tree)
    report = upload(county_scope, as_csv(table(rows), encoding=encoding))
    assert report.ok, report.errors
    assert Person.objects.filter(name="李秀英").exists()


def test_excel_unicode_text_utf16_tab_separated_files_are_read(tree, county_scope):
    rows, _, _ = two_households(tree)
    text = "\r\n".join("\t".join(str(v) for v in row) for row in table(rows))
    report = upload(county_scope, text.encode("utf-16"), filename="家庭.txt")
    assert report.ok, report.errors
    assert report.created_persons == 4


def test_old_15_digit_id_numbers_are_upgraded(tree, county_scope):
    number18 = new_id(dt.date(1960, 5, 5))
    number15 = number18[:6] + number18[8:17]
    report = upload(county_scope, as_csv(table([head_row(number15, tree.village)])))
    assert report.ok, report.errors
    assert Person.objects.get().id_number == number18


def test_xlsx_dates_and_numbers_are_read_as_the_user_typed_them(tree, county_scope):
    head = new_id(dt.date(1970, 3, 1))
    rows = table(
        [
            head_row(
                head,
                tree.village,
                birth_date=dt.datetime(1970, 3, 1),
                start_date=dt.date(2020, 5, 6),
                income_wage=1500.5,
                disability_category=4,
                disability_grade=3,
            )
        ]
    )
    rows[1][HEADERS.index("村（社区）区划代码")] = int(tree.village.code)
    report = upload(county_scope, as_xlsx(rows), filename="a.xlsx")
    assert report.ok, report.errors
    membership = Membership.objects.get(person__id_number=head)
    assert membership.start_date == dt.date(2020, 5, 6)
    assert str(IncomeItem.objects.get().monthly_amount) == "1500.50"


@pytest.mark.parametrize("kind", ["memory", "temporary"])
def test_django_uploaded_files_are_accepted(tree, county_scope, kind):
    rows, _, _ = two_households(tree)
    data = as_xlsx(table(rows))
    if kind == "memory":
        fileobj = SimpleUploadedFile("家庭.xlsx", data)
    else:
        fileobj = TemporaryUploadedFile("家庭.xlsx", "application/octet-stream", len(data), None)
        fileobj.write(data)
        fileobj.seek(0)
    report = import_upload(scope=county_scope, fileobj=fileobj, filename=fileobj.name, kind="households")
    assert report.ok, report.errors
    assert report.created_households == 2
    csv_file = SimpleUploadedFile("家庭.csv", as_csv(table(rows), encoding="gbk"))
    again = import_upload(scope=county_scope, fileobj=csv_file, filename="家庭.csv", kind="households")
    assert again.ok and again.unchanged == 4


def test_import_file_reads_a_local_file(tree, county_scope, tmp_path):
    rows, _, _ = two_households(tree)
    path = tmp_path / "家庭.csv"
    path.write_bytes(as_csv(table(rows)))
    report = import_file(scope=county_scope, path=path, kind="households")
    assert report.ok and report.created_persons == 4


def test_blank_rows_are_ignored_and_optional_columns_may_be_left_out(tree, county_scope):
    head = new_id(dt.date(1970, 3, 1))
    headers = ["户主身份证号", "村（社区）区划代码", "居住地址", "户籍类别", "姓名", "公民身份号码", "与户主关系"]
    rows = table([head_row(head, tree.village)], headers=headers)
    rows.insert(1, ["", "  ", "", "", "", "", ""])
    rows.append(["   "] * 7)
    report = upload(county_scope, as_csv(rows))
    assert report.ok, report.errors
    assert report.rows == 1 and report.created_persons == 1


def test_header_aliases_and_half_width_brackets_are_accepted(tree, county_scope):
    head = new_id(dt.date(1970, 3, 1))
    headers = ["户主公民身份号码", "村(社区)区划代码", "家庭住址", "户籍性质", "姓名", "身份证号码", "家庭关系"]
    rows = [headers, [head, tree.village.code, "甲村5号", "城市", "林一", head, "02"]]
    report = upload(county_scope, as_csv(rows))
    assert report.ok, report.errors
    assert Household.objects.get().hukou_type == "urban"


def test_a_new_member_of_an_existing_household_is_added_without_its_head_row(tree, county_scope):
    household = make_household(county_scope, tree.village, members=1)
    head = household.head.id_number
    child = new_id(dt.date(2015, 1, 1), male=False)
    report = upload(county_scope, as_csv(table([member(head, child, "王新妹", "女")])))
    assert report.ok, report.errors
    assert (report.created_households, report.created_members) == (0, 1)
    household.refresh_from_db()
    assert household.memberships.filter(end_date__isnull=True).count() == 2
    assert AuditLog.objects.filter(action="update", household_id=household.pk).exists()


# ---- atomicity and error reporting ------------------------------------------------------------------------


def test_a_file_with_several_bad_rows_reports_every_error_and_writes_nothing(tree, county_scope):
    # given a file whose rows 3, 5 and 6 are wrong in different ways, and whose rows 2 and 4 are fine
    head1, head2 = new_id(dt.date(1970, 3, 1)), new_id(dt.date(1980, 1, 1))
    bad_id = new_id(dt.date(1990, 1, 1))[:17] + "0"
    bad_id = bad_id if idnumber.check_char(bad_id[:17]) != "0" else bad_id[:17] + "1"
    rows = [
        head_row(head1, tree.village),
        member(head1, bad_id, "李四", "配偶"),
        head_row(head2, tree.village2),
        member(head2, new_id(dt.date(2000, 2, 2)), "张<b>三</b>", "子"),
        member(head2, new_id(dt.date(2001, 2, 2), male=False), "赵六", "女", sex="男", disability_grade="9"),
    ]
    before = counts()
    # when it is imported
    report = upload(county_scope, as_csv(table(rows)))
    # then every bad row is reported with its row number and column, and nothing at all is written
    assert not report.ok
    found = {(e.row, e.column) for e in report.errors}
    assert (3, "公民身份号码") in found
    assert (5, "姓名") in found
    assert (6, "性别") in found
    assert all(e.row in {3, 5, 6} for e in report.errors)
    assert counts() == before
    assert "未写入任何数据" in report.summary()


def test_registry_conflicts_are_reported_together_with_row_errors(tree, county_scope):
    # given a file with a bad name on the head's row and, in another household, a person who lives elsewhere
    existing = make_household(county_scope, tree.village, members=1)
    head1, head2 = new_id(dt.date(1970, 3, 1)), new_id(dt.date(1980, 1, 1))
    rows = [
        head_row(head1, tree.village, name="王1"),
        member(head1, new_id(dt.date(2001, 1, 1)), "王二", "子"),
        head_row(head2, tree.village2),
        member(head2, existing.head.id_number, existing.head.name, "父亲"),
    ]
    report = upload(county_scope, as_csv(table(rows)))
    # then both are in one report, and the head's bad row causes no second error for its household
    assert [(e.row, e.column) for e in report.errors] == [(2, "姓名"), (5, "公民身份号码")]
    assert Household.objects.count() == 1


def test_errors_never_show_a_full_id_number(tree, county_scope):
    household = make_household(county_scope, tree.village, members=1)
    taken = household.head.id_number
    other = new_id(dt.date(1970, 3, 1))
    report = upload(county_scope, as_csv(table([head_row(other, tree.village2), member(other, taken, "王大山", "子")])))
    assert not report.ok
    text = report.error_csv().decode("utf-8-sig") + report.summary()
    assert taken not in text and idnumber.mask(taken) in text


def test_the_error_report_is_a_neutralised_csv_that_excel_opens(tree, county_scope):
    head = new_id(dt.date(1970, 3, 1))
    report = upload(county_scope, as_csv(table([head_row(head, tree.village, name="=HYPERLINK(1)")])))
    data = report.error_csv()
    assert data.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert parsed[0] == ["行号", "列名", "单元格", "单元格内容", "错误原因"]
    assert parsed[1][:3] == ["2", "姓名", "I2"] and parsed[1][3].startswith("'=")


def test_html_in_a_name_gets_the_name_validation_error(tree, county_scope):
    head = new_id(dt.date(1970, 3, 1))
    report = upload(county_scope, as_csv(table([head_row(head, tree.village, name="<script>alert(1)</script>")])))
    assert [(e.row, e.column) for e in report.errors] == [(2, "姓名")]
    assert "网页代码" in report.errors[0].reason
    assert Person.objects.count() == 0


def test_the_same_person_twice_in_a_file_is_refused_naming_the_first_row(tree, county_scope):
    head = new_id(dt.date(1970, 3, 1))
    child = new_id(dt.date(2010, 1, 1))
    rows = [head_row(head, tree.village), member(head, child, "王一", "子"), member(head, child, "王一", "子")]
    report = upload(county_scope, as_csv(table(rows)))
    assert [(e.row, e.column) for e in report.errors] == [(4, "公民身份号码")]
    assert "第3行" in report.errors[0].reason
    assert Household.objects.count() == 0


def test_a_person_in_another_live_household_is_refused_naming_that_household(tree, county_scope):
    existing = make_household(county_scope, tree.village, members=2)
    daughter = existing.memberships.get(relation="30").person
    head = new_id(dt.date(1980, 1, 1))
    rows = [head_row(head, tree.village2), member(head, daughter.id_number, daughter.name, "配偶")]
    before = counts()
    report = upload(county_scope, as_csv(table(rows)))
    assert [(e.row, e.column) for e in report.errors] == [(3, "公民身份号码")]
    assert existing.number in report.errors[0].reason
    assert counts() == before


def test_a_row_that_disagrees_with_the_registry_is_an_error_and_nothing_is_changed(tree, county_scope):
    household = make_household(county_scope, tree.village, members=1)
    head = household.head
    rows = [
        member(
            head.id_number,
            head.id_number,
            head.name,
            "户主",
            region_code=tree.village.code,
            address="另一个地址",
            hukou_type="农村",
            labour_capacity="无劳动能力",
        )
    ]
    report = upload(county_scope, as_csv(table(rows)))
    columns = {e.column: e.reason for e in report.errors}
    assert set(columns) == {"居住地址", "劳动能力"}
    assert "甲村1号" in columns["居住地址"] and "有劳动能力" in columns["劳动能力"]
    household.refresh_from_db()
    assert household.address == "甲村1号"


def test_household_columns_repeated_on_member_rows_must_agree_with_the_head_row(tree, county_scope):
    head = new_id(dt.date(1970, 3, 1))
    rows = [
        head_row(head, tree.village),
        member(
            head,
            new_id(dt.date(2001, 1, 1)),
            "王二",
            "子",
            region_code=tree.village.code,
            address="别处9号",
            hukou_type="农村",
        ),
    ]
    report = upload(county_scope, as_csv(table(rows)))
    assert [(e.row, e.column) for e in report.errors] == [(3, "居住地址")]
    assert "第2行" in report.errors[0].reason


def test_a_household_needs_its_head_row_and_only_the_head_may_be_head(tree, county_scope):
    head = new_id(dt.date(1970, 3, 1))
    rows = [
        member(
            head,
            new_id(dt.date(2001, 1, 1)),
            "王二",
            "户主",
            region_code=tree.village.code,
            address="甲村2号",
            hukou_type="农村",
        )
    ]
    report = upload(county_scope, as_csv(table(rows)))
    assert (2, "与户主关系") in {(e.row, e.column) for e in report.errors}
    rows = [
        member(
            head,
            new_id(dt.date(2001, 1, 1)),
            "王二",
            "子",
            region_code=tree.village.code,
            address="甲村2号",
            hukou_type="农村",
        )
    ]
    report = upload(county_scope, as_csv(table(rows)))
    assert [(e.row, e.column) for e in report.errors] == [(2, "户主身份证号")]


def test_households_must_be_registered_to_a_village(tree, county_scope):
    head = new_id(dt.date(1970, 3, 1))
    report = upload(county_scope, as_csv(table([head_row(head, tree.township)])))
    assert [e.column for e in report.errors] == ["村（社区）区划代码"]
    assert "不是村（社区）级" in report.errors[0].reason


# ---- idempotency ------------------------------------------------------------------------------------------


def test_re_importing_the_same_file_changes_nothing(tree, county_scope):
    rows, _, _ = two_households(tree)
    data = as_csv(table(rows))
    assert upload(county_scope, data).ok
    households, persons, memberships, incomes, _ = counts()
    report = upload(county_scope, data)
    assert report.ok, report.errors
    assert (report.created_households, report.created_persons, report.created_members) == (0, 0, 0)
    assert report.unchanged == 4
    assert counts()[:4] == (households, persons, memberships, incomes)
    assert "未变化4行" in report.summary()


def test_re_importing_with_new_members_adds_only_the_new_rows(tree, county_scope):
    rows, head1, _ = two_households(tree)
    assert upload(county_scope, as_csv(table(rows))).ok
    rows.append(member(head1, new_id(dt.date(2012, 1, 1), male=False), "王小红", "女"))
    report = upload(county_scope, as_csv(table(rows)))
    assert report.ok, report.errors
    assert (report.created_households, report.created_persons, report.unchanged) == (0, 1, 4)


# ---- bad files --------------------------------------------------------------------------------------------


def test_an_unknown_header_is_refused_naming_the_column(tree, county_scope):
    rows = table([], headers=[*HEADERS, "备注栏"])
    with pytest.raises(ApplicationError) as exc:
        upload(county_scope, as_csv(rows))
    assert exc.value.code == "bad_header" and "备注栏" in exc.value.message


def test_a_missing_required_header_is_refused_naming_the_column(tree, county_scope):
    headers = [h for h in HEADERS if h != "公民身份号码"]
    with pytest.raises(ApplicationError) as exc:
        upload(county_scope, as_csv([headers, ["x"] * len(headers)]))
    assert exc.value.code == "bad_header" and "公民身份号码" in exc.value.message
    assert exc.value.field == "公民身份号码"


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\r\n\r\n"])
def test_an_empty_file_is_refused(county_scope, data):
    with pytest.raises(ApplicationError) as exc:
        upload(county_scope, data)
    assert exc.value.code == "empty_file"


def test_a_header_without_rows_is_refused(county_scope):
    with pytest.raises(ApplicationError) as exc:
        upload(county_scope, as_csv([HEADERS]))
    assert exc.value.code == "empty_file" and "没有数据行" in exc.value.message


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(county_scope, tmp_path, monkeypatch):
    # given a 50 MB (sparse) file and the default 20 MB limit
    path = tmp_path / "big.csv"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    # when it is imported, then it is refused by its size alone, without being opened
    with monkeypatch.context() as patch:
        patch.setattr(Path, "open", lambda *a, **k: pytest.fail("the file was opened"))
        with pytest.raises(ApplicationError) as exc:
            import_file(scope=county_scope, path=path, kind="households")
    assert exc.value.code == "file_too_large" and exc.value.status == 413


class _Pipe(io.RawIOBase):
    """A non-seekable endless stream that counts what is read from it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int = -1) -> bytes:
        size = 65536 if size is None or size < 0 else size
        self.read_bytes += size
        return b"a" * size


def test_an_oversized_upload_without_a_known_size_is_read_only_up_to_the_limit(county_scope, settings):
    settings.DOUDI_IMPORT_MAX_BYTES = 3 * 1024 * 1024
    pipe = _Pipe()
    with pytest.raises(ApplicationError) as exc:
        import_upload(scope=county_scope, fileobj=pipe, filename="x.csv", kind="households")
    assert exc.value.code == "file_too_large"
    assert pipe.read_bytes <= settings.DOUDI_IMPORT_MAX_BYTES + spreadsheet.CHUNK


def test_a_small_limit_refuses_an_ordinary_upload(tree, county_scope, settings):
    rows, _, _ = two_households(tree)
    settings.DOUDI_IMPORT_MAX_BYTES = 100
    with pytest.raises(ApplicationError) as exc:
        upload(county_scope, as_csv(table(rows)))
    assert exc.value.code == "file_too_large"


def test_more_rows_than_the_limit_are_refused(tree, county_scope, settings):
    settings.DOUDI_IMPORT_MAX_ROWS = 3
    rows, _, _ = two_households(tree)
    with pytest.raises(ApplicationError) as exc:
        upload(county_scope, as_csv(table(rows)))
    assert exc.value.code == "too_many_rows"
    assert Household.objects.count() == 0


def test_formula_cells_in_excel_are_refused_naming_the_cell(tree, county_scope):
    head = new_id(dt.date(1970, 3, 1))
    rows = table([head_row(head, tree.village)])
    rows[1][HEADERS.index("居住地址")] = '=HYPERLINK("http://x","甲村")'
    rows[1][HEADERS.index("月工资性收入（元）")] = "=100*12"
    report = upload(county_scope, as_xlsx(rows), filename="a.xlsx")
    cells = {e.cell: e for e in report.errors}
    assert set(cells) == {"D2", "X2"}
    assert "公式" in cells["D2"].reason and cells["D2"].column == "居住地址"
    assert Household.objects.count() == 0


def test_a_csv_cell_starting_with_an_equals_sign_is_refused(tree, county_scope):
    head = new_id(dt.date(1970, 3, 1))
    report = upload(county_scope, as_csv(table([head_row(head, tree.village, address="=cmd|' /C calc'!A0")])))
    assert [(e.row, e.column, e.cell) for e in report.errors] == [(2, "居住地址", "D2")]


def test_an_id_number_stored_as_an_excel_number_is_refused(tree, county_scope):
    head = new_id(dt.date(1970, 3, 1))
    rows = table([head_row(head, tree.village)])
    rows[1][HEADERS.index("公民身份号码")] = int(head[:17] + "1")  # what Excel keeps of a number typed as a number
    report = upload(county_scope, as_xlsx(rows), filename="a.xlsx")
    assert [e.column for e in report.errors] == ["公民身份号码"]
    assert "文本" in report.errors[0].reason


def test_an_old_xls_file_is_refused_with_advice(county_scope):
    with pytest.raises(ApplicationError) as exc:
        upload(county_scope, spreadsheet.OLE_MAGIC + b"\x00" * 100, filename="a.xls")
    assert ".xlsx" in exc.value.message


def test_a_corrupt_xlsx_is_refused(county_scope):
    with pytest.raises(ApplicationError) as exc:
        upload(county_scope, b"PK\x03\x04not really a zip", filename="a.xlsx")
    assert exc.value.code == "unreadable_file"


def test_a_cell_outside_any_column_is_reported(tree, county_scope):
    head = new_id(dt.date(1970, 3, 1))
    rows = table([head_row(head, tree.village)])
    rows[1].append("多出来的")
    report = upload(county_scope, as_csv(rows))
    assert [(e.row, e.column) for e in report.errors] == [(2, "")]


# ---- who may import ---------------------------------------------------------------------------------------


def test_an_official_of_another_county_cannot_import_into_this_county(tree, users):
    outsider = scope_for(users.outsider)
    head = new_id(dt.date(1970, 3, 1))
    report = upload(outsider, as_csv(table([head_row(head, tree.village)])))
    assert [e.column for e in report.errors] == ["村（社区）区划代码"]
    assert "管辖范围" in report.errors[0].reason
    assert Household.objects.count() == 0


def test_an_official_of_another_county_cannot_add_members_to_households_here(tree, users, county_scope):
    household = make_household(county_scope, tree.village, members=1)
    outsider = scope_for(users.outsider)
    rows = [member(household.head.id_number, new_id(dt.date(2015, 1, 1)), "外人", "子")]
    report = upload(outsider, as_csv(table(rows)))
    assert [e.column for e in report.errors] == ["户主身份证号"]
    assert Membership.objects.count() == 1


@pytest.mark.parametrize("role", ["supervisor", "village_worker", "county_verifier"])
def test_roles_without_bulk_rights_cannot_import(tree, users, role):
    with pytest.raises(PermissionDenied):
        upload(scope_for(getattr(users, role)), as_csv([HEADERS]))


# ---- regions ----------------------------------------------------------------------------------------------


def region_csv(rows: list[list[str]]) -> bytes:
    return as_csv([[c.header for c in REGION_COLUMNS], *rows])


def test_a_township_and_village_list_is_created_under_a_county(tree, admin_scope):
    data = region_csv(
        [
            ["469001101201", "新村", "村", "469001101000"],  # a child before its parent: order does not matter
            ["469001101000", "新镇", "镇", tree.county.code],
            ["469001101202", "新社区", "村（社区）", "469001101000"],
        ]
    )
    report = upload(admin_scope, data, kind="regions")
    assert report.ok, report.errors
    assert report.created_regions == 3
    village = Region.objects.get(code="469001101201")
    assert village.level == "village" and village.path == f"{tree.county.path}469001101000/469001101201/"
    assert AuditLog.objects.filter(action="import", subject_type="import").count() == 1
    again = upload(admin_scope, data, kind="regions")
    assert again.ok and (again.created_regions, again.unchanged) == (0, 3)


def test_a_region_with_an_unknown_parent_is_refused_and_nothing_is_created(tree, admin_scope):
    data = region_csv(
        [
            ["469001101000", "新镇", "乡镇（街道）", tree.county.code],
            ["469001102201", "孤村", "村（社区）", "469001102000"],
        ]
    )
    report = upload(admin_scope, data, kind="regions")
    assert [(e.row, e.column) for e in report.errors] == [(3, "上级区划代码")]
    assert not Region.objects.filter(code="469001101000").exists()


def test_region_codes_must_fit_under_their_parent(tree, admin_scope):
    data = region_csv(
        [
            ["469002101000", "错镇", "乡镇（街道）", tree.county.code],
            ["469001100301", "错村", "村（社区）", tree.county.code],
            [tree.village.code, "改名村", "村（社区）", tree.township.code],
        ]
    )
    report = upload(admin_scope, data, kind="regions")
    assert [(e.row, e.column) for e in report.errors] == [(2, "区划代码"), (3, "上级区划代码"), (4, "区划代码")]


def test_a_county_official_cannot_add_regions_to_another_county(tree, county_scope):
    data = region_csv([["469002101000", "外镇", "乡镇（街道）", tree.other_county.code]])
    report = upload(county_scope, data, kind="regions")
    assert [e.column for e in report.errors] == ["上级区划代码"]
    assert not Region.objects.filter(code="469002101000").exists()


# ---- templates --------------------------------------------------------------------------------------------


def test_the_xlsx_template_has_the_headers_and_an_explained_example(county_scope):
    workbook = openpyxl.load_workbook(io.BytesIO(import_template("households", "xlsx")))
    data, notes = workbook.worksheets
    assert [c.value for c in data[1]] == HEADERS
    assert data.max_row == 1 or all(c.value is None for row in data.iter_rows(min_row=2) for c in row)
    assert notes.title == "填写说明"
    explained = {row[0].value for row in notes.iter_rows(min_row=2)}
    assert set(HEADERS) <= explained


def test_importing_the_csv_template_unchanged_refuses_its_example_row(tree, county_scope):
    report = upload(county_scope, import_template("households", "csv"))
    assert not report.ok and "示例行" in report.errors[0].reason
    assert Household.objects.count() == 0


def test_the_region_templates_match_the_region_importer(admin_scope):
    workbook = openpyxl.load_workbook(io.BytesIO(import_template("regions", "xlsx")))
    assert [c.value for c in workbook.worksheets[0][1]] == [c.header for c in REGION_COLUMNS]
    with pytest.raises(ApplicationError):
        import_template("regions", "pdf")
