"""Payroll API: a dibao case approved through the API is paid through the API (generate → approve → bank files →
return file → re-issue → paid), and the refusals (403 wrong role, 404 outside the region, 409 twice or stale,
422 naming the field)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from doudi.cases.tests.test_api import Clock, client_factory, dibao_case_approved_via_api, install_clock, ok, post
from doudi.core.models import AuditLog
from doudi.payments.models import BankAccount, Payroll, PayrollLine
from doudi.payments.tests.conftest import add_account, make_recipient
from doudi.testing.fixtures import make_household

COUNTY = "469001000000"
JSON = "application/json"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return install_clock(monkeypatch)


@pytest.fixture
def api(users: Any) -> Any:
    return client_factory(users)


def put(client: Client, url: str, data: dict[str, Any]) -> Any:
    return client.put(url, data, content_type=JSON)


def unzip_csv(response: Any) -> dict[str, list[list[str]]]:
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    return {name: list(csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig")))) for name in archive.namelist()}


def return_file(rows: list[list[str]], results: dict[str, str]) -> SimpleUploadedFile:
    """The bank's answer to a bank file: reference, account, amount, result, and the totals row."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["明细编号", "账号", "金额", "结果"])
    details = [r for r in rows[1:] if r[0] != "合计"]
    for row in details:
        writer.writerow([row[0], row[3], row[5], results.get(row[0], "paid")])
    writer.writerow(["合计", len(details), sum((Decimal(r[5]) for r in details), Decimal("0")), ""])
    return SimpleUploadedFile("return.csv", out.getvalue().encode("utf-8"), content_type="text/csv")


@pytest.fixture
def household(tree: Any, users: Any) -> Any:
    from doudi.core.scope import scope_for

    return make_household(scope_for(users.admin), tree.village, members=2)


def test_a_case_approved_through_the_api_is_paid_through_the_api(api, clock: Clock, household: Any) -> None:
    # Given a dibao case approved through the API (benefit from 2021-10) and the household's bank account
    dibao_case_approved_via_api(api, clock, household)
    ca = api("county_approver")
    account = ok(
        put(
            ca,
            f"/api/households/{household.pk}/bank-account",
            {
                "bank_code": "ABC",
                "bank_name": "中国农业银行",
                "account_number": "6222020000001111",
                "holder_name": "王大山",
            },
        )
    )
    assert account["account_masked"] == "6222********1111" and "account_number" not in account
    clock.today = dt.date(2021, 10, 8)
    # When the county generates October's payroll
    payroll = ok(post(ca, "/api/payrolls", {"county_code": COUNTY, "program": "dibao", "month": "2021-10"}))
    assert payroll["status"] == "draft" and payroll["line_count"] == 1 and payroll["month"] == "2021-10"
    amount = payroll["total_amount"]
    assert Decimal(amount) > 0
    # generating again changes nothing (idempotent)
    again = ok(post(ca, "/api/payrolls", {"county_code": COUNTY, "program": "dibao", "month": "2021-10"}))
    assert again["id"] == payroll["id"] and again["line_count"] == 1 and again["version"] == payroll["version"]
    assert [p["id"] for p in ok(ca.get("/api/payrolls?month=2021-10&program=dibao"))] == [payroll["id"]]
    # the lines, masked
    lines = ok(ca.get(f"/api/payrolls/{payroll['id']}/lines"))
    assert [(line["amount"], line["account_masked"]) for line in lines["items"]] == [(amount, "6222********1111")]
    assert "6222020000001111" not in ca.get(f"/api/payrolls/{payroll['id']}/lines").content.decode()
    # And approves it (a stale version and a second approval are 409)
    stale = post(ca, f"/api/payrolls/{payroll['id']}/approve", {"version": payroll["version"] - 1})
    assert stale.status_code == 409 and stale.json()["code"] == "stale_edit"
    approved = ok(post(ca, f"/api/payrolls/{payroll['id']}/approve", {"version": payroll["version"]}))
    assert approved["status"] == "approved"
    twice = post(ca, f"/api/payrolls/{payroll['id']}/approve", {"version": approved["version"]})
    assert twice.status_code == 409 and twice.json()["code"] == "not_draft"
    # Then the bank files come as a zip of one CSV per bank, never cached
    assert ca.get(f"/api/payrolls/{payroll['id']}/bank-files").status_code == 404  # no batch yet
    files = ca.post(f"/api/payrolls/{payroll['id']}/bank-files?fmt=csv")
    assert files.status_code == 200 and files["Content-Type"] == "application/zip"
    assert files["Cache-Control"] == "no-store" and "attachment" in files["Content-Disposition"]
    (name, rows), *others = unzip_csv(files).items()
    assert others == [] and "-ABC-1.csv" in name
    assert rows[-1][0] == "合计" and rows[-1][5] == amount
    assert files["X-Doudi-Batch"] == "1" and files["X-Doudi-Missing-Account"] == "0"
    nothing = ca.post(f"/api/payrolls/{payroll['id']}/bank-files?fmt=csv")
    assert nothing.status_code == 422 and nothing.json()["code"] == "nothing_to_export"
    # the batch stays retrievable (read-only), in either format
    copy = ca.get(f"/api/payrolls/{payroll['id']}/bank-files?fmt=csv&batch=1")
    assert copy.status_code == 200 and copy["Cache-Control"] == "no-store" and unzip_csv(copy) == unzip_csv(files)
    assert ca.get(f"/api/payrolls/{payroll['id']}/bank-files?fmt=xlsx").status_code == 200
    # When the bank answers "wrong account"
    line_id = rows[1][0]
    result = ok(
        ca.post(f"/api/payrolls/{payroll['id']}/returns", {"file": return_file(rows, {line_id: "wrong_account"})})
    )
    assert result["paid"] == 0 and result["failed"] == 1 and result["reconciled"] is True
    # re-issuing before the account is corrected re-issues nothing
    waiting = ok(post(ca, f"/api/payrolls/{payroll['id']}/reissue", {}))
    assert waiting["reissued"] == 0 and waiting["not_corrected"] == [int(line_id)]
    # And the account is corrected and the line re-issued into the next bank file
    ok(
        put(
            ca,
            f"/api/households/{household.pk}/bank-account",
            {
                "bank_code": "RCC",
                "bank_name": "海南农信",
                "account_number": "6230000000002222",
                "holder_name": "王大山",
            },
        )
    )
    reissued = ok(post(ca, f"/api/payrolls/{payroll['id']}/reissue", {"line_ids": [int(line_id)]}))
    assert reissued["reissued"] == 1 and reissued["payroll"]["status"] == "exported"
    second = ca.post(f"/api/payrolls/{payroll['id']}/bank-files?fmt=csv")
    (name2, rows2), *_ = unzip_csv(second).items()
    assert "-RCC-2.csv" in name2 and rows2[1][0] == line_id
    paid = ok(ca.post(f"/api/payrolls/{payroll['id']}/returns", {"file": return_file(rows2, {})}))
    assert paid["paid"] == 1 and paid["total_paid"] == amount and paid["payroll"]["status"] == "reconciled"
    # Then the household's history shows one payment, paid on the second attempt, account masked
    history = ok(ca.get(f"/api/households/{household.pk}/payments"))
    assert [(p["month"], p["status"], p["attempt"], p["amount"]) for p in history["payments"]] == [
        ("2021-10", "paid", 2, amount)
    ]
    assert history["account"]["account_masked"] == "6230********2222"
    assert PayrollLine.objects.filter(payroll_id=payroll["id"]).count() == 1
    detail = ok(ca.get(f"/api/payrolls/{payroll['id']}"))
    assert detail["status"] == "reconciled" and detail["failed"] == 0 and detail["unsent"] == 0
    assert detail["approved_by_name"] == "ca"
    exports = AuditLog.objects.filter(subject_type="payroll_bank_files")
    assert [e.after.get("copy", False) for e in exports.order_by("pk")] == [False, True, True, False]


@pytest.fixture
def county_payroll(tree: Any, users: Any) -> Payroll:
    from doudi.core.scope import scope_for
    from doudi.payments import services

    ad = scope_for(users.admin)
    for bank in ("ABC", "RCC"):
        hh = make_household(ad, tree.village, members=1)
        add_account(ad, hh, bank)
        make_recipient(hh, "500.00")
    return services.payroll_generate(
        scope=scope_for(users.county_approver), county_code=COUNTY, program="dibao", month="2026-01"
    )


def test_bank_files_in_excel_are_one_workbook_per_bank(api, county_payroll: Payroll) -> None:
    ca = api("county_approver")
    ok(post(ca, f"/api/payrolls/{county_payroll.pk}/approve", {"version": county_payroll.version}))
    response = ca.post(f"/api/payrolls/{county_payroll.pk}/bank-files?fmt=xlsx")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    names = sorted(zipfile.ZipFile(io.BytesIO(response.content)).namelist())
    assert len(names) == 2 and all(n.endswith(".xlsx") for n in names)
    assert ca.get(f"/api/payrolls/{county_payroll.pk}/bank-files?fmt=pdf").status_code == 422
    assert ca.get(f"/api/payrolls/{county_payroll.pk}/bank-files?batch=2").status_code == 404


def test_village_workers_and_supervisors_get_403_on_payrolls(api, county_payroll: Payroll) -> None:
    for role in ("village_worker", "supervisor"):
        client = api(role)
        for url in ("/api/payrolls", f"/api/payrolls/{county_payroll.pk}", f"/api/payrolls/{county_payroll.pk}/lines"):
            assert client.get(url).status_code == 403, (role, url)
    vw = api("village_worker")
    assert post(vw, "/api/payrolls", {"county_code": COUNTY, "program": "dibao", "month": "2026-01"}).status_code == 403
    # only the county approver approves; the township sees its own lines but may not export
    tr = api("township_reviewer")
    assert ok(tr.get(f"/api/payrolls/{county_payroll.pk}"))["partial"] is True
    assert (
        post(tr, f"/api/payrolls/{county_payroll.pk}/approve", {"version": county_payroll.version}).status_code == 403
    )
    assert (
        post(
            api("admin"), f"/api/payrolls/{county_payroll.pk}/approve", {"version": county_payroll.version}
        ).status_code
        == 403
    )
    assert tr.post(f"/api/payrolls/{county_payroll.pk}/bank-files").status_code == 403
    assert tr.get(f"/api/payrolls/{county_payroll.pk}/bank-files").status_code == 403


def test_payrolls_outside_the_region_are_404(api, county_payroll: Payroll, household: Any) -> None:
    out = api("outsider")
    assert out.get(f"/api/payrolls/{county_payroll.pk}").status_code == 404
    assert out.get(f"/api/payrolls/{county_payroll.pk}/lines").status_code == 404
    assert (
        post(out, f"/api/payrolls/{county_payroll.pk}/approve", {"version": county_payroll.version}).status_code == 404
    )
    assert post(out, f"/api/payrolls/{county_payroll.pk}/reissue", {}).status_code == 404
    assert (
        post(out, "/api/payrolls", {"county_code": COUNTY, "program": "dibao", "month": "2026-01"}).status_code == 404
    )
    assert out.get(f"/api/households/{household.pk}/payments").status_code == 404
    body = {"bank_code": "ABC", "bank_name": "农行", "account_number": "6222020000003333", "holder_name": "王"}
    assert put(out, f"/api/households/{household.pk}/bank-account", body).status_code == 404
    assert ok(out.get("/api/payrolls")) == []


def test_bad_payroll_input_is_422_naming_the_field(api, county_payroll: Payroll, household: Any) -> None:
    ca = api("county_approver")
    for month in ("2026-1", "2026-13", "january"):
        response = post(ca, "/api/payrolls", {"county_code": COUNTY, "program": "dibao", "month": month})
        assert response.status_code == 422 and response.json()["field"] == "month", month
    assert ca.get("/api/payrolls?month=2026-1").json()["field"] == "month"
    unknown = post(ca, "/api/payrolls", {"county_code": COUNTY, "program": "castle", "month": "2026-01"})
    assert unknown.status_code == 422 and unknown.json()["field"] == "program"
    missing = post(ca, f"/api/payrolls/{county_payroll.pk}/approve", {})
    assert missing.status_code == 422 and missing.json()["field"] == "version"
    body = {"bank_code": "ABC", "bank_name": "农行", "account_number": "12-34", "holder_name": "王"}
    bad_account = put(ca, f"/api/households/{household.pk}/bank-account", body)
    assert bad_account.status_code == 422 and bad_account.json()["field"] == "account_number"
    stranger = put(
        ca,
        f"/api/households/{household.pk}/bank-account",
        {**body, "account_number": "622202000000", "person_id": 999999},
    )
    assert stranger.status_code == 422 and stranger.json()["field"] == "person_id"
    # a return file with a wrong totals row names the row and the column, and nothing is applied
    ok(post(ca, f"/api/payrolls/{county_payroll.pk}/approve", {"version": county_payroll.version}))
    rows = next(iter(unzip_csv(ca.post(f"/api/payrolls/{county_payroll.pk}/bank-files")).values()))
    upload = return_file(rows, {})
    content = upload.read().decode("utf-8").replace("合计,1,500.00", "合计,1,499.00")
    wrong = ca.post(
        f"/api/payrolls/{county_payroll.pk}/returns",
        {"file": SimpleUploadedFile("return.csv", content.encode("utf-8"), content_type="text/csv")},
    )
    assert wrong.status_code == 422 and wrong.json()["field"] == "amount" and wrong.json()["row"] == 3
    assert not PayrollLine.objects.filter(payroll=county_payroll, status="paid").exists()


def test_a_personal_account_is_set_for_a_member_of_the_household(api, household: Any) -> None:
    member = household.memberships.exclude(person_id=household.head_id).get().person
    body = {"bank_code": "ABC", "bank_name": "农行", "account_number": "6222020000004444", "holder_name": member.name}
    account = ok(
        put(api("village_worker"), f"/api/households/{household.pk}/bank-account", {**body, "person_id": member.pk})
    )
    assert account["person_id"] == member.pk and account["household_id"] is None
    assert BankAccount.objects.get(pk=account["id"]).account_number == "6222020000004444"
    assert put(api("county_verifier"), f"/api/households/{household.pk}/bank-account", body).status_code == 403


def test_a_change_after_approval_is_a_difference_approved_through_the_api(
    api, county_payroll: Payroll, tree: Any, users: Any
) -> None:
    from doudi.core.scope import scope_for

    ca = api("county_approver")
    approved = ok(post(ca, f"/api/payrolls/{county_payroll.pk}/approve", {"version": county_payroll.version}))
    # a recipient joins after approval: regenerating records a difference, not a line
    newcomer = make_household(scope_for(users.admin), tree.village2, members=1)
    add_account(scope_for(users.admin), newcomer, "ABC")
    make_recipient(newcomer, "720.00")
    again = ok(post(ca, "/api/payrolls", {"county_code": COUNTY, "program": "dibao", "month": "2026-01"}))
    assert again["line_count"] == approved["line_count"] == 2
    diffs = ok(ca.get(f"/api/payrolls/{county_payroll.pk}/differences"))
    assert [(d["kind"], d["new_amount"], d["household_id"]) for d in diffs] == [("added", "720.00", newcomer.pk)]
    assert ok(ca.get(f"/api/payrolls/{county_payroll.pk}"))["pending_differences"] == 1
    stale = post(ca, f"/api/payrolls/{county_payroll.pk}/differences/approve", {"version": approved["version"]})
    assert stale.status_code == 409
    result = ok(post(ca, f"/api/payrolls/{county_payroll.pk}/differences/approve", {"version": again["version"]}))
    assert result["applied"] == 1 and result["lines_added"] == 1 and result["payroll"]["line_count"] == 3
    assert ok(ca.get(f"/api/payrolls/{county_payroll.pk}/differences")) == []
