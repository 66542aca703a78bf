"""Registry endpoints: paging, detail, optimistic edits, members, items, history, stats, imports and exports."""

import datetime as dt
import sys
import types
from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

import doudi.registry
from doudi.core import idnumber
from doudi.core.models import AuditLog
from doudi.registry.models import Household, IncomeItem, Membership, Person
from doudi.testing.fixtures import make_household, new_id, person_data

JSON = "application/json"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api(client, users):
    client.force_login(users.county_approver)
    return client


def post(client, url, data):
    return client.post(url, data, content_type=JSON)


def patch(client, url, data):
    return client.patch(url, data, content_type=JSON)


# --- list and search --------------------------------------------------------------------------------------------


def test_the_household_list_pages_by_keyset_and_masks_id_numbers(api, tree, county_scope):
    # given three households in the county
    households = [make_household(county_scope, tree.village, members=1) for _ in range(3)]
    # when the first page of two is read
    first = api.get("/api/households?page_size=2").json()
    # then it holds the first two, in id order, and points at the next page
    assert [h["id"] for h in first["items"]] == [households[0].pk, households[1].pk]
    assert first["next_after"] == households[1].pk
    second = api.get(f"/api/households?page_size=2&after={first['next_after']}").json()
    assert [h["id"] for h in second["items"]] == [households[2].pk]
    assert second["next_after"] is None
    # and ID numbers appear only masked
    head = households[0].head
    assert first["items"][0]["head_id_number_masked"] == idnumber.mask(head.id_number)
    assert head.id_number not in api.get("/api/households").content.decode()
    assert first["items"][0]["head_name"] == head.name


def test_households_are_found_by_head_name_and_id_number_and_village(api, tree, county_scope):
    wang = make_household(county_scope, tree.village, members=1, head_name="王大山")
    li = make_household(county_scope, tree.village2, members=1, head_name="李小河")
    assert [h["id"] for h in api.get("/api/households?q=李小").json()["items"]] == [li.pk]
    assert [h["id"] for h in api.get(f"/api/households?q={wang.head.id_number}").json()["items"]] == [wang.pk]
    assert [h["id"] for h in api.get(f"/api/households?village={tree.village2.code}").json()["items"]] == [li.pk]


def test_a_page_size_out_of_range_is_refused_naming_the_field(api, tree):
    response = api.get("/api/households?page_size=1000")
    assert response.status_code == 422
    assert response.json()["field"] == "page_size"


# --- create, detail, edit ---------------------------------------------------------------------------------------


def test_creating_a_household_returns_201_and_is_audited(api, tree):
    response = post(
        api, "/api/households", {"region_code": tree.village.code, "address": "甲村5号", "hukou_type": "rural"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"].startswith(tree.village.code)
    assert body["version"] == 1
    assert AuditLog.objects.filter(subject_type="household", subject_id=str(body["id"]), action="create").exists()


def test_invalid_household_input_is_refused_with_422_naming_the_field(api, tree):
    response = post(
        api, "/api/households", {"region_code": tree.village.code, "address": "甲村5号", "hukou_type": "城堡"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"
    assert response.json()["field"] == "hukou_type"
    assert Household.objects.count() == 0


def test_a_household_cannot_be_created_in_a_region_outside_scope(api, tree):
    response = post(
        api, "/api/households", {"region_code": tree.other_village.code, "address": "x", "hukou_type": "rural"}
    )
    assert response.status_code in (403, 404)
    assert Household.objects.count() == 0


def test_the_detail_lists_members_former_members_and_dated_items_with_money_as_strings(api, tree, county_scope):
    household = make_household(county_scope, tree.village, members=2)
    daughter = Membership.objects.filter(household=household, relation="30").get()
    post(api, f"/api/households/{household.pk}/items/income", {"kind": "wage", "monthly_amount": "1234.5"})
    post(api, f"/api/households/{household.pk}/items/asset", {"kind": "deposit", "value": "20000", "count": 1})
    post(api, f"/api/households/{household.pk}/items/expense", {"kind": "medical", "monthly_amount": "0.10"})
    post(api, f"/api/memberships/{daughter.pk}/end", {"end_date": "2024-06-30", "reason": "出嫁"})

    body = api.get(f"/api/households/{household.pk}").json()

    assert body["household"]["id"] == household.pk
    assert [m["person"]["name"] for m in body["members"]] == [household.head.name]
    assert [m["end_date"] for m in body["former_members"]] == ["2024-06-30"]
    assert body["incomes"][0]["monthly_amount"] == "1234.50"
    assert body["assets"][0]["value"] == "20000.00"
    assert body["expenses"][0]["monthly_amount"] == "0.10"
    assert body["members"][0]["person"]["birth_date"] == "1970-03-01"


def test_an_unknown_household_is_404_in_the_error_shape(api, tree):
    response = api.get("/api/households/999999")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_an_edit_with_a_stale_version_is_refused_with_409_and_changes_nothing(api, tree, county_scope):
    household = make_household(county_scope, tree.village, members=1)
    ok = patch(api, f"/api/households/{household.pk}", {"version": household.version, "address": "甲村8号"})
    assert ok.status_code == 200, ok.content
    assert ok.json()["version"] == household.version + 1
    audit_count = AuditLog.objects.count()

    stale = patch(api, f"/api/households/{household.pk}", {"version": household.version, "address": "甲村9号"})

    assert stale.status_code == 409
    assert stale.json() | {"message": ""} == {"code": "stale_edit", "message": "", "field": "version"}
    household.refresh_from_db()
    assert household.address == "甲村8号"
    assert AuditLog.objects.count() == audit_count


def test_an_edit_without_a_version_is_refused_with_422(api, tree, county_scope):
    household = make_household(county_scope, tree.village, members=1)
    response = patch(api, f"/api/households/{household.pk}", {"address": "甲村9号"})
    assert response.status_code == 422
    assert response.json()["field"] == "version"


# --- members and persons ----------------------------------------------------------------------------------------


def test_a_member_is_added_edited_with_its_version_and_moved(api, tree, county_scope):
    household = make_household(county_scope, tree.village, members=1)
    other = make_household(county_scope, tree.village2, members=1)
    data = person_data("张三", birth=dt.date(1999, 9, 9))
    added = post(api, f"/api/households/{household.pk}/members", {**data, "relation": "20", "start_date": "2021-01-01"})
    assert added.status_code == 201, added.content
    person = added.json()["person"]
    assert person["id_number"] == data["id_number"]

    edited = patch(api, f"/api/persons/{person['id']}", {"version": person["version"], "phone": "0898-1234567"})
    assert edited.status_code == 200, edited.content
    assert edited.json()["phone"] == "0898-1234567"
    stale = patch(api, f"/api/persons/{person['id']}", {"version": person["version"], "phone": "1"})
    assert stale.status_code == 409

    moved = post(
        api, f"/api/persons/{person['id']}/move", {"to_household_id": other.pk, "relation": "70", "date": "2024-01-01"}
    )
    assert moved.status_code == 201, moved.content
    assert moved.json()["household_id"] == other.pk
    assert Membership.objects.filter(person_id=person["id"]).count() == 2


def test_a_member_with_an_invalid_id_number_is_refused_naming_the_field(api, tree, county_scope):
    household = make_household(county_scope, tree.village, members=1)
    response = post(
        api, f"/api/households/{household.pk}/members", {"id_number": "123", "name": "张三", "relation": "20"}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "id_number"
    assert Person.objects.count() == 1


def test_ending_a_membership_twice_is_a_conflict(api, tree, county_scope):
    household = make_household(county_scope, tree.village, members=2)
    membership = Membership.objects.filter(household=household, relation="30").get()
    assert (
        post(api, f"/api/memberships/{membership.pk}/end", {"end_date": "2024-01-01", "reason": "迁出"}).status_code
        == 200
    )
    again = post(api, f"/api/memberships/{membership.pk}/end", {"end_date": "2024-01-01", "reason": "迁出"})
    assert again.status_code == 409
    assert again.json()["code"] == "already_ended"


# --- items ------------------------------------------------------------------------------------------------------


def test_money_must_be_sent_as_decimal_text_not_a_json_number(api, tree, county_scope):
    household = make_household(county_scope, tree.village, members=1)
    as_number = post(api, f"/api/households/{household.pk}/items/income", {"kind": "wage", "monthly_amount": 1234.5})
    assert as_number.status_code == 422
    assert as_number.json()["field"] == "monthly_amount"
    too_precise = post(api, f"/api/households/{household.pk}/items/income", {"kind": "wage", "monthly_amount": "1.005"})
    assert too_precise.status_code == 422
    assert too_precise.json()["field"] == "monthly_amount"
    assert IncomeItem.objects.count() == 0


def test_an_unknown_item_group_is_refused(api, tree, county_scope):
    household = make_household(county_scope, tree.village, members=1)
    response = post(api, f"/api/households/{household.pk}/items/debt", {"kind": "wage", "monthly_amount": "1"})
    assert response.status_code == 422


def test_an_item_is_ended_and_the_household_version_moves_on(api, tree, county_scope):
    household = make_household(county_scope, tree.village, members=1)
    item = post(api, f"/api/households/{household.pk}/items/income", {"kind": "wage", "monthly_amount": "800"}).json()
    version = Household.objects.get(pk=household.pk).version
    response = post(api, f"/api/items/income/{item['id']}/end", {"end_date": dt.date.today().isoformat()})
    assert response.status_code == 204
    assert IncomeItem.objects.get(pk=item["id"]).end_date == dt.date.today()
    assert Household.objects.get(pk=household.pk).version == version + 1


# --- history and stats ------------------------------------------------------------------------------------------


def test_the_history_lists_the_households_audit_newest_first(api, tree, county_scope):
    household = make_household(county_scope, tree.village, members=1)
    patch(api, f"/api/households/{household.pk}", {"version": household.version, "address": "甲村8号"})
    history = api.get(f"/api/households/{household.pk}/history").json()
    assert history[0]["action"] == "update"
    assert history[0]["after"] == {"address": "甲村8号", "version": household.version + 1}
    assert {h["subject_type"] for h in history} >= {"household", "person", "membership"}


def test_supervisors_read_aggregates_but_no_personal_records(client, tree, users, county_scope):
    make_household(county_scope, tree.village, members=1, registered_poor=True)
    client.force_login(users.supervisor)
    stats = client.get("/api/stats/households")
    assert stats.status_code == 200
    rows = {r["region_code"]: r for r in stats.json()}
    assert sum(r["households"] for r in rows.values()) == 1
    assert sum(r["registered_poor"] for r in rows.values()) == 1
    assert client.get("/api/households").status_code == 403


# --- imports and exports (the engines live in registry/imports.py and exports.py) -----------------------------


@dataclass
class FakeReport:
    ok: bool
    errors: list = field(default_factory=list)

    def summary(self):
        return "导入失败" if self.errors else "导入成功：新增家庭2户"

    def error_csv(self):
        return "row,column,reason\n"


@dataclass
class FakeError:
    row: int
    column: str
    value: str
    reason: str
    cell: str = ""


def install_fake(monkeypatch, name, **functions):
    module = types.ModuleType(f"doudi.registry.{name}")
    for key, value in functions.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, f"doudi.registry.{name}", module)
    monkeypatch.setattr(doudi.registry, name, module, raising=False)
    return module


def test_an_upload_is_handed_to_the_import_engine_with_the_callers_scope(api, users, monkeypatch):
    calls = []

    def import_upload(*, scope, fileobj, filename, kind):
        calls.append((scope.username, filename, kind, fileobj.read()))
        return FakeReport(ok=True)

    install_fake(monkeypatch, "imports", import_upload=import_upload)
    upload = SimpleUploadedFile("households.csv", b"a,b\n1,2\n", content_type="text/csv")
    response = api.post("/api/imports/households", {"file": upload})
    assert response.status_code == 200, response.content
    assert response.json() == {"ok": True, "summary": "导入成功：新增家庭2户", "errors": []}
    assert calls == [("ca", "households.csv", "households", b"a,b\n1,2\n")]


def test_a_refused_import_answers_422_with_every_row_error(api, monkeypatch):
    def import_upload(*, scope, fileobj, filename, kind):
        return FakeReport(
            ok=False,
            errors=[
                FakeError(3, "公民身份号码", "469001********001X", "校验位错误", "J3"),
                FakeError(5, "姓名", "", "不能为空"),
            ],
        )

    install_fake(monkeypatch, "imports", import_upload=import_upload)
    response = api.post("/api/imports/households", {"file": SimpleUploadedFile("h.csv", b"x")})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "import_invalid"
    assert body["summary"] == "导入失败"
    assert body["errors"] == [
        {"row": 3, "column": "公民身份号码", "cell": "J3", "value": "469001********001X", "reason": "校验位错误"},
        {"row": 5, "column": "姓名", "cell": "", "value": "", "reason": "不能为空"},
    ]


def test_an_import_without_a_file_is_refused_with_422(api, monkeypatch):
    install_fake(monkeypatch, "imports", import_upload=lambda **kw: FakeReport(ok=True))
    response = api.post("/api/imports/households", {})
    assert response.status_code == 422
    assert response.json()["field"] == "file"


def test_an_export_is_returned_as_a_file_of_the_requested_format(api, users, monkeypatch):
    calls = []

    def export_households_bytes(*, scope, region_code, fmt):
        calls.append((scope.username, region_code, fmt))
        return b"PK\x03\x04fake"

    install_fake(monkeypatch, "exports", export_households_bytes=export_households_bytes)
    response = api.get("/api/exports/households?format=xlsx")
    assert response.status_code == 200
    assert response.content == b"PK\x03\x04fake"
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert (
        response["Content-Disposition"] == f'attachment; filename="households-{users.county_approver.region_id}.xlsx"'
    )
    assert calls == [("ca", users.county_approver.region_id, "xlsx")]


def test_an_export_in_an_unknown_format_is_refused(api, monkeypatch):
    install_fake(monkeypatch, "exports", export_households_bytes=lambda **kw: b"")
    response = api.get("/api/exports/households?format=pdf")
    assert response.status_code == 422
    assert response.json()["field"] == "format"


# --- with the real import and export engines --------------------------------------------------------------------


def households_csv(region_code: str, head_id: str) -> SimpleUploadedFile:
    import csv
    import io

    from doudi.registry import imports

    values = {
        "head_id_number": head_id,
        "id_number": head_id,
        "region_code": region_code,
        "address": "导入村1号",
        "hukou_type": "农村",
        "name": "导入户主",
        "relation": "户主",
    }
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.header for c in imports.COLUMNS["households"]])
    writer.writerow([values.get(c.key, "") for c in imports.COLUMNS["households"]])
    return SimpleUploadedFile("households.csv", out.getvalue().encode("utf-8"), content_type="text/csv")


def test_a_real_import_creates_the_household_in_scope(api, tree):
    head_id = new_id(dt.date(1966, 6, 6))
    response = api.post("/api/imports/households", {"file": households_csv(tree.village.code, head_id)})
    assert response.status_code == 200, response.content
    assert response.json()["ok"] is True
    assert Household.objects.filter(region=tree.village, head__id_number=head_id).exists()


def test_a_real_import_into_another_county_is_refused_row_by_row_and_writes_nothing(api, tree):
    response = api.post("/api/imports/households", {"file": households_csv(tree.other_village.code, new_id())})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "import_invalid"
    assert body["errors"] and all(e["row"] for e in body["errors"])
    assert Household.objects.count() == 0


def test_a_real_csv_export_holds_the_callers_households_only(client, tree, users, admin_scope):
    inside = make_household(admin_scope, tree.village, members=1)
    outside = make_household(admin_scope, tree.other_village, members=1)
    client.force_login(users.county_approver)
    response = client.get("/api/exports/households?format=csv")
    assert response.status_code == 200
    content = response.content.decode("utf-8-sig")
    assert inside.head.id_number in content
    assert outside.head.id_number not in content
