"""Registry exports: scoped, audited, formula-safe, and re-importable."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest

from doudi.core.errors import ApplicationError, NotFound, PermissionDenied
from doudi.core.models import AuditLog
from doudi.core.scope import scope_for
from doudi.registry import exports, services
from doudi.registry.imports import HOUSEHOLD_COLUMNS, import_upload
from doudi.registry.models import Household, IncomeItem, Membership, Person
from doudi.registry.spreadsheet import neutralise, unneutralise
from doudi.testing.fixtures import make_household, person_data

HEADERS = [c.header for c in HOUSEHOLD_COLUMNS]
DANGEROUS = "=cmd|' /C calc'!A0"


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def xlsx_sheet(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]


def dangerous_household(scope, village):
    household = services.household_create(
        scope=scope, region_code=village.code, data={"address": DANGEROUS, "hukou_type": "rural"}
    )
    services.member_add(
        scope=scope,
        household_id=household.pk,
        relation="02",
        start_date="2021-01-01",
        data=person_data("黄一", phone="+86 13800000000"),
    )
    return household


def test_neutralise_prefixes_every_dangerous_start_and_unneutralise_inverts_it():
    for text in ["=1+1", "+86 138", "-2", "@SUM(A1)", "\tx", "\rx", "'=x", "''+y"]:
        assert neutralise(text).startswith("'")
        assert unneutralise(neutralise(text)) == text
    for text in ["甲村1号", "'quoted", "", "1-2"]:
        assert neutralise(text) == text and unneutralise(text) == text


def test_an_exported_csv_neutralises_formula_cells(tree, county_scope):
    dangerous_household(county_scope, tree.village)
    rows = csv_rows(exports.export_households_bytes(scope=county_scope, region_code=tree.county.code, fmt="csv"))
    assert rows[0] == HEADERS
    row = dict(zip(HEADERS, rows[1], strict=True))
    assert row["居住地址"] == "'" + DANGEROUS
    assert row["联系电话"] == "'+86 13800000000"


def test_an_exported_xlsx_neutralises_formula_cells_as_text(tree, county_scope):
    dangerous_household(county_scope, tree.village)
    sheet = xlsx_sheet(exports.export_households_bytes(scope=county_scope, region_code=tree.county.code, fmt="xlsx"))
    address = sheet.cell(row=2, column=HEADERS.index("居住地址") + 1)
    assert address.value == "'" + DANGEROUS and address.data_type == "s"
    id_cell = sheet.cell(row=2, column=HEADERS.index("公民身份号码") + 1)
    assert isinstance(id_cell.value, str) and len(id_cell.value) == 18


def test_export_then_import_round_trips_unchanged(tree, county_scope):
    # given households with a poor household, a disability and an income, one with a dangerous address
    first = make_household(county_scope, tree.village, members=3, registered_poor=True)
    services.item_add(
        scope=county_scope,
        household_id=first.pk,
        kind_group="income",
        person_id=first.head_id,
        data={"kind": "wage", "monthly_amount": "800.00"},
    )
    grandchild = person_data("符小妹", birth=dt.date(2012, 6, 1), male=False)
    grandchild.update(
        disability_category="4",
        disability_grade=2,
        student=True,
        left_behind="child",
        ethnicity="19",
        labour_capacity="none",
        serious_illness=True,
    )
    grandchild["disability_cert_no"] = grandchild["id_number"] + "42"
    services.member_add(scope=county_scope, household_id=first.pk, relation="40", data=grandchild)
    dangerous_household(county_scope, tree.village2)
    before = (Household.objects.count(), Person.objects.count(), Membership.objects.count(), IncomeItem.objects.count())
    for fmt in ("csv", "xlsx"):
        # when the export is imported again
        data = exports.export_households_bytes(scope=county_scope, region_code=tree.county.code, fmt=fmt)
        report = import_upload(scope=county_scope, fileobj=io.BytesIO(data), filename=f"x.{fmt}", kind="households")
        # then every row is recognised as unchanged and nothing is written
        assert report.ok, report.errors
        assert report.unchanged == 5 and report.created_members == 0
        assert (
            Household.objects.count(),
            Person.objects.count(),
            Membership.objects.count(),
            IncomeItem.objects.count(),
        ) == before


def test_an_export_recreates_the_same_households_in_an_empty_registry(tree, county_scope):
    # given an export of two households
    make_household(county_scope, tree.village, members=2)
    dangerous_household(county_scope, tree.village2)
    data = exports.export_households_bytes(scope=county_scope, region_code=tree.county.code, fmt="xlsx")
    snapshot = sorted(Household.objects.values_list("number", "address", "head__id_number"))
    people = sorted(Person.objects.values_list("id_number", "name", "phone"))
    # when the registry is emptied and the export imported
    IncomeItem.objects.all().delete()
    Household.objects.update(head=None)
    Membership.objects.all().delete()
    Household.objects.all().delete()
    Person.objects.all().delete()
    report = import_upload(scope=county_scope, fileobj=io.BytesIO(data), filename="x.xlsx", kind="households")
    # then the same households (same numbers) and persons exist again
    assert report.ok, report.errors
    assert sorted(Household.objects.values_list("number", "address", "head__id_number")) == snapshot
    assert sorted(Person.objects.values_list("id_number", "name", "phone")) == people


def test_exports_only_live_members_of_active_households_in_the_region(tree, county_scope, users):
    inside = make_household(county_scope, tree.village, members=2)
    make_household(county_scope, tree.village2, members=1)
    make_household(scope_for(users.outsider), tree.other_village, members=1)
    leaver = inside.memberships.get(relation="30")
    services.membership_end(scope=county_scope, membership_id=leaver.pk, end_date=dt.date.today(), reason="迁出")
    rows = csv_rows(exports.export_households_bytes(scope=county_scope, region_code=tree.village.code, fmt="csv"))
    assert len(rows) == 2  # header and the head of `inside`
    assert rows[1][HEADERS.index("户编号")] == inside.number


def test_confidential_flags_are_never_exported(tree, county_scope):
    household = make_household(county_scope, tree.village, members=1)
    Person.objects.filter(pk=household.head_id).update(hiv=True, protection_order=True)
    data = exports.export_households_bytes(scope=county_scope, region_code=tree.county.code, fmt="csv")
    text = data.decode("utf-8-sig")
    assert "艾滋" not in text and "保护令" not in text and "保密" not in text


def test_an_export_is_audited_with_the_region_and_row_count(tree, county_scope):
    make_household(county_scope, tree.village, members=3)
    exports.export_households_bytes(scope=county_scope, region_code=tree.township.code, fmt="xlsx")
    entry = AuditLog.objects.get(action="export")
    assert entry.region_id == tree.township.code
    assert entry.after == {"kind": "households", "format": "xlsx", "households": 1, "rows": 3}


def test_large_regions_are_read_in_chunks(tree, county_scope, monkeypatch, django_assert_max_num_queries):
    for _ in range(5):
        make_household(county_scope, tree.village, members=2)
    monkeypatch.setattr(exports, "CHUNK", 2)
    # 3 chunks × 3 queries + the end-of-data query + region lookup + audit (and savepoints)
    with django_assert_max_num_queries(16):
        data = exports.export_households_bytes(scope=county_scope, region_code=tree.county.code, fmt="csv")
    rows = csv_rows(data)
    assert len(rows) == 11
    assert len({r[0] for r in rows[1:]}) == 5


def test_export_to_a_file_returns_the_household_count(tree, county_scope, tmp_path):
    make_household(county_scope, tree.village, members=2)
    make_household(county_scope, tree.village2, members=1)
    path = tmp_path / "导出.xlsx"
    assert exports.export_households(scope=county_scope, path=path, region_code=tree.county.code) == 2
    assert xlsx_sheet(path.read_bytes()).max_row == 4
    with pytest.raises(ApplicationError):
        exports.export_households(scope=county_scope, path=tmp_path / "x.pdf", region_code=tree.county.code)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["导出.xlsx"]


def test_an_official_of_another_county_cannot_export_this_county(tree, users, county_scope):
    make_household(county_scope, tree.village)
    with pytest.raises(NotFound):
        exports.export_households_bytes(scope=scope_for(users.outsider), region_code=tree.county.code, fmt="csv")
    with pytest.raises(NotFound):
        exports.export_households_bytes(scope=scope_for(users.outsider), region_code=tree.village.code, fmt="csv")
    assert not AuditLog.objects.filter(action="export").exists()


@pytest.mark.parametrize("role", ["supervisor", "village_worker", "county_verifier"])
def test_roles_without_bulk_rights_cannot_export(tree, users, role):
    with pytest.raises(PermissionDenied):
        exports.export_households_bytes(scope=scope_for(getattr(users, role)), region_code=tree.village.code, fmt="csv")


def test_income_amounts_are_exported_as_decimals(tree, county_scope):
    household = make_household(county_scope, tree.village, members=1)
    services.item_add(
        scope=county_scope,
        household_id=household.pk,
        kind_group="income",
        person_id=household.head_id,
        data={"kind": "pension", "monthly_amount": "150.5"},
    )
    sheet = xlsx_sheet(exports.export_households_bytes(scope=county_scope, region_code=tree.village.code, fmt="xlsx"))
    assert Decimal(str(sheet.cell(row=2, column=HEADERS.index("月养老金（元）") + 1).value)) == Decimal("150.5")
    rows = csv_rows(exports.export_households_bytes(scope=county_scope, region_code=tree.village.code, fmt="csv"))
    assert rows[1][HEADERS.index("月养老金（元）")] == "150.50"
