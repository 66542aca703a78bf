"""Importing the assistance-staff and village-cadre list: all rows or none, a row-level report, the CLI."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from typer.testing import CliRunner

from doudi.core.errors import PermissionDenied
from doudi.core.models import AuditLog
from doudi.core.scope import scope_for
from doudi.integrity.models import StaffMember
from doudi.integrity.services import StaffImportInvalid, staff_import_upload
from doudi.integrity.tests.conftest import TODAY
from doudi.testing.fixtures import new_id

HEADER = "姓名,公民身份号码,人员类别,区划代码,职务,任职开始日期,任职结束日期\n"


def upload(scope, text: str, name: str = "名单.csv"):
    return staff_import_upload(scope=scope, fileobj=io.BytesIO(text.encode("utf-8")), filename=name, today=TODAY)


def good_rows(tree) -> str:
    return (
        f"张村官,{new_id()},村委会成员,{tree.village.code},村主任,2021-01-01,\n"
        f"李经办,{new_id(male=False)},民政经办人员,{tree.township.code},低保专干,2019-03-01,2023-12-31\n"
    )


def test_a_valid_list_is_imported_once_and_a_reimport_changes_nothing(tree, ca):
    text = HEADER + good_rows(tree)
    result = upload(ca, text)
    assert (result.rows, result.created, result.updated, result.unchanged) == (2, 2, 0, 0)
    cadre = StaffMember.objects.get(kind="village_cadre")
    assert cadre.region_id == tree.village.code and cadre.region_path == tree.village.path
    assert cadre.source_file == "名单.csv" and len(cadre.source_sha256) == 64
    again = upload(ca, text)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert StaffMember.objects.count() == 2
    assert AuditLog.objects.filter(subject_type="staff_list").count() == 2


def test_a_file_with_one_bad_row_writes_nothing_and_names_the_row_and_column(tree, ca):
    valid = new_id()
    wrong = valid[:17] + ("0" if valid[17] != "0" else "1")  # a wrong check character
    text = HEADER + good_rows(tree) + f"王错号,{wrong},村委会成员,{tree.village.code},委员,2021-01-01,\n"
    with pytest.raises(StaffImportInvalid) as err:
        upload(ca, text)
    assert err.value.row == 4 and err.value.field == "公民身份号码"
    assert err.value.extra["error_count"] == 1
    assert wrong not in json.dumps(err.value.as_dict(), ensure_ascii=False)
    assert StaffMember.objects.count() == 0


def test_regions_outside_scope_cadres_outside_villages_and_bad_dates_are_reported(tree, ca):
    text = HEADER + (
        f"甲,{new_id()},村委会成员,{tree.other_village.code},委员,2021-01-01,\n"
        f"乙,{new_id()},村委会成员,{tree.township.code},委员,2021-01-01,\n"
        f"丙,{new_id()},会计,{tree.village.code},委员,2021-13-01,2020-01-01\n"
    )
    with pytest.raises(StaffImportInvalid) as err:
        upload(ca, text)
    problems = {(e.row, e.column) for e in err.value.errors}
    assert problems == {(2, "区划代码"), (3, "区划代码"), (4, "人员类别"), (4, "任职开始日期")}


def test_only_county_approvers_and_administrators_import_staff_lists(tree, users):
    with pytest.raises(PermissionDenied):
        upload(scope_for(users.township_reviewer), HEADER + good_rows(tree))


def test_an_excel_list_is_imported(tree, ca):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["姓名", "身份证号", "人员类别", "区划代码", "任职开始日期"])
    sheet.append(["赵村官", new_id(), "村委会成员", tree.village.code, dt.datetime(2022, 1, 1)])
    out = io.BytesIO()
    book.save(out)
    result = staff_import_upload(scope=ca, fileobj=io.BytesIO(out.getvalue()), filename="名单.xlsx", today=TODAY)
    assert result.created == 1
    assert StaffMember.objects.get().from_date == dt.date(2022, 1, 1)


def test_the_command_exits_2_with_a_json_error_naming_the_row_and_column(tree, users, tmp_path):
    from doudi.cli import app

    path = tmp_path / "staff.csv"
    path.write_text(HEADER + f"王,{new_id()},村委会成员,{tree.village.code},委员,2021-02-30,\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["integrity", "import-staff", str(path)])
    assert result.exit_code == 2
    error = json.loads(result.stderr.strip().splitlines()[-1])
    assert (error["code"], error["row"], error["field"]) == ("invalid_rows", 2, "任职开始日期")
    path.write_text(HEADER + good_rows(tree), encoding="utf-8")
    ok = CliRunner().invoke(app, ["integrity", "import-staff", str(path)])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["created"] == 2


def test_the_run_command_prints_a_json_summary_for_one_county(tree, users):
    from doudi.cli import app

    result = CliRunner().invoke(
        app, ["integrity", "run", "--county", tree.county.code, "--check", "two_households", "--as-of", "2024-06-15"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["region"] == tree.county.code
    assert summary["checks"] == ["two_households"] and summary["new_findings"] == {"two_households": 0}
    bad = CliRunner().invoke(app, ["integrity", "run", "--county", tree.township.code])
    assert bad.exit_code == 2
    assert json.loads(bad.stderr.strip())["code"] == "invalid_county"
