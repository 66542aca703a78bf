"""Payroll pages through the Django test client: generate, review, approve (and stale approve), differences,
bank-file zips, return files (good and bad), re-issue, bank accounts, payment history and who may see what."""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

from doudi.cases.models import Recipient
from doudi.core.models import AuditLog
from doudi.core.scope import Scope
from doudi.payments import services
from doudi.payments.models import BankAccount, Payroll, PayrollDifference, PayrollLine
from doudi.payments.tests.conftest import MONTH

COUNTY = "469001000000"


@pytest.fixture
def client_for(users: Any) -> Any:
    def build(role_name: str) -> Client:
        client = Client()
        client.force_login(getattr(users, role_name))
        return client

    return build


@pytest.fixture
def draft(ca: Scope, caseload: list[Recipient]) -> Payroll:
    return services.payroll_generate(scope=ca, county_code=COUNTY, program="dibao", month=MONTH)


@pytest.fixture
def approved(ca: Scope, draft: Payroll) -> Payroll:
    return services.payroll_approve(scope=ca, payroll_id=draft.pk, version=draft.version)


def url(name: str, *args: Any) -> str:
    return reverse(f"payments:{name}", args=args)


def text(response: Any) -> str:
    return response.content.decode()


def unzip(response: Any) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def return_file(payroll: Payroll, results: dict[int, str] | None = None, **override: Any) -> io.BytesIO:
    """The bank's return file for the lines of the last batch, as the bank would send it."""
    results = results or {}
    exports = Payroll.objects.get(pk=payroll.pk).exports
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["明细编号", "账号", "金额", "结果"])
    lines = PayrollLine.objects.filter(payroll=payroll, batch=exports, status__in=["pending", "reissued"])
    rows = [[line.pk, line.account_number, str(line.amount), results.get(line.pk, "paid")] for line in lines]
    for index, account in override.get("accounts", {}).items():
        rows[index][1] = account
    writer.writerows(rows)
    writer.writerow(["合计", len(rows), str(sum((Decimal(r[2]) for r in rows), Decimal("0"))), ""])
    data = io.BytesIO(out.getvalue().encode("utf-8"))
    data.name = "return.csv"
    return data


# ---- generate ---------------------------------------------------------------------------------------------


def test_generate_creates_the_payroll_and_redirects_to_it(client_for: Any, caseload: list[Recipient]) -> None:
    client = client_for("county_approver")
    page = client.get(url("payroll_list"))
    assert page.status_code == 200 and "生成月度发放名册" in text(page)
    response = client.post(url("payroll_generate"), {"county_code": COUNTY, "program": "dibao", "month": "2026-01"})
    payroll = Payroll.objects.get()
    assert response.status_code == 302 and response["Location"] == url("payroll_detail", payroll.pk)
    assert (payroll.line_count, payroll.total_amount, payroll.status) == (4, Decimal("2650.50"), "draft")
    detail = client.get(response["Location"])
    assert detail.status_code == 200
    body = text(detail)
    assert "2,650.50 元" in body and "审批名册" in body and caseload[0].household.number in body


def test_generating_the_same_month_twice_creates_nothing_new(client_for: Any, caseload: list[Recipient]) -> None:
    client = client_for("county_approver")
    data = {"county_code": COUNTY, "program": "dibao", "month": "2026-01"}
    client.post(url("payroll_generate"), data)
    version = Payroll.objects.get().version
    response = client.post(url("payroll_generate"), data)
    assert response.status_code == 302
    assert Payroll.objects.count() == 1 and PayrollLine.objects.count() == 4
    assert Payroll.objects.get().version == version


def test_generate_with_bad_input_rerenders_the_form_with_422(client_for: Any, caseload: list[Recipient]) -> None:
    client = client_for("county_approver")
    response = client.post(url("payroll_generate"), {"county_code": COUNTY, "program": "dibao", "month": "2026-13"})
    assert response.status_code == 422 and "月份格式应为YYYY-MM" in text(response)
    response = client.post(url("payroll_generate"), {"county_code": "469002000000", "program": "dibao", "month": ""})
    assert response.status_code == 422  # a county outside the region is not even a choice
    assert not Payroll.objects.exists()


def test_generate_is_refused_to_roles_that_do_not_run_payrolls(client_for: Any, caseload: list[Recipient]) -> None:
    data = {"county_code": COUNTY, "program": "dibao", "month": "2026-01"}
    for role in ("county_verifier", "township_reviewer", "village_worker", "supervisor"):
        assert client_for(role).post(url("payroll_generate"), data).status_code == 403, role
    assert not Payroll.objects.exists()
    page = client_for("county_verifier").get(url("payroll_list"))
    assert page.status_code == 200 and "生成月度发放名册" not in text(page)


# ---- approval and differences -----------------------------------------------------------------------------


def test_approve_and_a_stale_approve_gets_409(client_for: Any, draft: Payroll) -> None:
    client = client_for("county_approver")
    stale = client.post(url("payroll_approve", draft.pk), {"version": draft.version - 1})
    assert stale.status_code == 409 and "已被其他用户修改" in text(stale)
    assert Payroll.objects.get().status == "draft"
    response = client.post(url("payroll_approve", draft.pk), {"version": draft.version})
    assert response.status_code == 302
    payroll = Payroll.objects.get()
    assert payroll.status == "approved" and payroll.approved_by_id is not None
    again = client.post(url("payroll_approve", draft.pk), {"version": payroll.version})
    assert again.status_code == 409 and "不能重复审批" in text(again)


def test_only_the_county_approver_approves(client_for: Any, draft: Payroll) -> None:
    for role in ("admin", "county_verifier", "township_reviewer"):
        assert client_for(role).post(url("payroll_approve", draft.pk), {"version": draft.version}).status_code == 403
    assert Payroll.objects.get().status == "draft"


def test_differences_are_shown_and_approved(
    client_for: Any, ca: Scope, approved: Payroll, caseload: list[Recipient]
) -> None:
    Recipient.objects.filter(pk=caseload[1].pk).update(monthly_amount=Decimal("700.00"))
    services.payroll_generate(scope=ca, county_code=COUNTY, program="dibao", month=MONTH)
    client = client_for("county_approver")
    detail = client.get(url("payroll_detail", approved.pk))
    assert "待审批差异" in text(detail) and "金额变化" in text(detail) and "700.00 元" in text(detail)
    payroll = Payroll.objects.get()
    stale = client.post(url("differences_approve", payroll.pk), {"version": payroll.version - 1})
    assert stale.status_code == 409
    response = client.post(url("differences_approve", payroll.pk), {"version": payroll.version})
    assert response.status_code == 302
    assert PayrollDifference.objects.get().status == "applied"
    assert PayrollLine.objects.get(recipient=caseload[1]).amount == Decimal("700.00")
    assert PayrollLine.objects.count() == 4
    nothing = client.post(url("differences_approve", payroll.pk), {"version": Payroll.objects.get().version})
    assert nothing.status_code == 422 and "没有待审批的差异" in text(nothing)


# ---- bank files -------------------------------------------------------------------------------------------


def test_bank_files_zip_has_one_csv_per_bank_with_totals_and_inert_formulas(
    client_for: Any, ca: Scope, ad: Scope, caseload: list[Recipient]
) -> None:
    services.bank_account_set(
        scope=ad,
        household_id=caseload[0].household_id,
        bank_code="ABC",
        bank_name="中国农业银行",
        account_number="6222029999999999",
        holder_name='=HYPERLINK("http://x","点我")',
    )
    payroll = services.payroll_generate(scope=ca, county_code=COUNTY, program="dibao", month=MONTH)
    services.payroll_approve(scope=ca, payroll_id=payroll.pk, version=payroll.version)
    client = client_for("county_approver")
    made = client.post(url("bank_files_export", payroll.pk))
    assert made.status_code == 302 and made["Location"].endswith("#bank-files")
    response = client.get(url("bank_files", payroll.pk, "csv"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip" and response["Cache-Control"] == "no-store"
    files = unzip(response)
    assert sorted(files) == ["469001-dibao-202601-ABC-1.csv", "469001-dibao-202601-RCC-1.csv"]
    abc = list(csv.reader(io.StringIO(files["469001-dibao-202601-ABC-1.csv"].decode("utf-8-sig"))))
    assert abc[0][:6] == ["明细编号", "银行代码", "开户银行", "账号", "户名", "金额"]
    assert abc[-1][0] == "合计" and abc[-1][3] == "2" and abc[-1][5] == "1150.50"
    assert abc[1][4].startswith("'=HYPERLINK")
    rcc = list(csv.reader(io.StringIO(files["469001-dibao-202601-RCC-1.csv"].decode("utf-8-sig"))))
    assert rcc[-1][3] == "2" and rcc[-1][5] == "1500.00"
    assert Payroll.objects.get().status == "exported"
    # the same lines are never put in a second batch: generating again has nothing to send
    again = client.post(url("bank_files_export", payroll.pk))
    assert again.status_code == 422 and "没有需要生成银行文件的发放明细" in text(again)
    # but the batch sent stays retrievable: a lost download is fetched again, identical, and the copy is audited
    copy = client.get(url("bank_files", payroll.pk, "csv") + "?batch=1")
    assert copy.status_code == 200 and unzip(copy) == files
    assert AuditLog.objects.filter(subject_type="payroll_bank_files", after__copy=True).count() == 2
    assert client.get(url("bank_files", payroll.pk, "csv") + "?batch=2").status_code == 404
    assert client.get(url("bank_files", payroll.pk, "csv") + "?batch=x").status_code == 422
    # a GET never makes a batch
    assert Payroll.objects.get().exports == 1


def test_bank_files_as_xlsx_one_per_bank(client_for: Any, approved: Payroll) -> None:
    admin = client_for("admin")
    assert admin.post(url("bank_files_export", approved.pk)).status_code == 302
    response = admin.get(url("bank_files", approved.pk, "xlsx"))
    assert response.status_code == 200
    files = unzip(response)
    assert sorted(files) == ["469001-dibao-202601-ABC-1.xlsx", "469001-dibao-202601-RCC-1.xlsx"]
    sheet = openpyxl.load_workbook(io.BytesIO(files["469001-dibao-202601-RCC-1.xlsx"])).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[-1][0] == "合计" and Decimal(str(rows[-1][5])) == Decimal("1500.00")
    assert isinstance(rows[1][3], str)


def test_a_draft_payroll_has_no_bank_files(client_for: Any, draft: Payroll) -> None:
    client = client_for("county_approver")
    response = client.post(url("bank_files_export", draft.pk))
    assert response.status_code == 409 and "尚未审批" in text(response)
    assert client.get(url("bank_files", draft.pk, "csv")).status_code == 404


# ---- return files and re-issue ----------------------------------------------------------------------------


def test_return_file_marks_lines_paid_and_failed(client_for: Any, approved: Payroll) -> None:
    client = client_for("county_approver")
    client.post(url("bank_files_export", approved.pk))
    form = client.get(url("return_import", approved.pk))
    assert form.status_code == 200 and "银行回盘文件" in text(form)
    first = PayrollLine.objects.order_by("pk").first()
    assert first is not None
    response = client.post(
        url("return_import", approved.pk), {"file": return_file(approved, {first.pk: "wrong_account"})}
    )
    assert response.status_code == 302
    assert PayrollLine.objects.filter(status="paid").count() == 3
    first.refresh_from_db()
    assert first.status == "failed" and first.failure_reason == "wrong_account"
    assert Payroll.objects.get().status == "reconciled"
    detail = client.get(response["Location"])
    body = text(detail)
    assert "成功 3 笔" in body and "失败 1 笔" in body and "账号错误" in body


def test_a_return_file_with_an_unknown_account_names_the_row_and_changes_nothing(
    client_for: Any, approved: Payroll
) -> None:
    client = client_for("county_approver")
    client.post(url("bank_files_export", approved.pk))
    version = Payroll.objects.get().version
    bad = return_file(approved, accounts={1: "6222000000000000"})
    response = client.post(url("return_import", approved.pk), {"file": bad})
    assert response.status_code == 422
    assert "第3行“账号”列：账号与发放明细不符（未知账号）" in text(response)
    assert not PayrollLine.objects.exclude(status="pending").exists()
    payroll = Payroll.objects.get()
    assert payroll.status == "exported" and payroll.version == version
    rows = return_file(approved).getvalue().decode().replace("2650.50", "2650.00").encode()
    wrong_total = io.BytesIO(rows)
    wrong_total.name = "return.csv"
    response = client.post(url("return_import", approved.pk), {"file": wrong_total})
    assert response.status_code == 422 and "第6行“金额”列：合计金额2650.00与明细金额之和2650.50不符" in text(response)
    assert not PayrollLine.objects.exclude(status="pending").exists()
    missing = client.post(url("return_import", approved.pk), {})
    assert missing.status_code == 422 and "请选择要上传的回盘文件" in text(missing)


def test_reissue_after_the_account_is_corrected(client_for: Any, approved: Payroll) -> None:
    client = client_for("county_approver")
    client.post(url("bank_files_export", approved.pk))
    first = PayrollLine.objects.order_by("pk").first()
    assert first is not None
    client.post(url("return_import", approved.pk), {"file": return_file(approved, {first.pk: "closed_account"})})

    not_yet = client.post(url("reissue", approved.pk), {"line_ids": str(first.pk)})
    assert not_yet.status_code == 302
    first.refresh_from_db()
    assert first.status == "failed"

    account = {
        "owner": "",
        "bank_code": "RCC",
        "bank_name": "海南农信",
        "account_number": "6228 4800 0000 0007",
        "holder_name": "王大山",
    }
    response = client.post(url("bank_account", first.household_id), account)
    assert response.status_code == 302
    assert BankAccount.objects.get(household_id=first.household_id, active=True).account_number == "6228480000000007"

    response = client.post(url("reissue", approved.pk), {"line_ids": str(first.pk)})
    assert response.status_code == 302
    first.refresh_from_db()
    assert (first.status, first.attempt, first.account_number) == ("reissued", 2, "6228480000000007")
    assert client.post(url("bank_files_export", approved.pk)).status_code == 302
    files = unzip(client.get(url("bank_files", approved.pk, "csv")))  # the latest batch
    assert list(files) == ["469001-dibao-202601-RCC-2.csv"]
    assert PayrollLine.objects.filter(recipient_id=first.recipient_id).count() == 1
    nothing = client.post(url("reissue", approved.pk), {})
    assert nothing.status_code == 422 and "没有可重新发放的失败明细" in text(nothing)


# ---- bank accounts and payment history --------------------------------------------------------------------


def test_bank_account_form_refuses_a_bad_number_with_422(client_for: Any, caseload: list[Recipient]) -> None:
    household = caseload[0].household
    client = client_for("village_worker")
    page = client.get(url("bank_account", household.pk))
    assert page.status_code == 200 and "********" in text(page)
    data = {"owner": "", "bank_code": "ABC", "bank_name": "中国农业银行", "account_number": "12x", "holder_name": "王"}
    response = client.post(url("bank_account", household.pk), data)
    assert response.status_code == 422 and "账号应为6至32位数字" in text(response)
    member = household.memberships.first()
    data.update(account_number="6222021111111111", owner=str(member.person_id))
    assert client.post(url("bank_account", household.pk), data).status_code == 302
    assert BankAccount.objects.get(person_id=member.person_id, active=True).household_id is None
    verifier = client_for("county_verifier")
    assert verifier.get(url("bank_account", household.pk)).status_code == 200
    assert verifier.post(url("bank_account", household.pk), data).status_code == 403


def test_payment_history_for_the_village_worker(client_for: Any, approved: Payroll, caseload: list[Recipient]) -> None:
    household = caseload[0].household
    response = client_for("village_worker").get(url("household_payments", household.pk))
    assert response.status_code == 200
    body = text(response)
    assert "2026-01" in body and "500.00 元" in body and "待发放" in body and "最低生活保障" in body
    assert client_for("supervisor").get(url("household_payments", household.pk)).status_code == 403
    assert client_for("outsider").get(url("household_payments", household.pk)).status_code == 404
    page = client_for("village_worker").get(reverse("web:household_detail", args=[household.pk]))
    assert url("household_payments", household.pk) in text(page)


# ---- who may see what -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["village_worker", "supervisor"])
def test_village_worker_and_supervisor_get_403_on_payroll_pages(client_for: Any, role: str, approved: Payroll) -> None:
    client = client_for(role)
    for target in (
        url("payroll_list"),
        url("payroll_detail", approved.pk),
        url("bank_files", approved.pk, "csv"),
        url("return_import", approved.pk),
    ):
        assert client.get(target).status_code == 403, target
    assert client.post(url("reissue", approved.pk), {}).status_code == 403
    assert Payroll.objects.get().exports == 0


def test_a_payroll_outside_the_region_is_404(client_for: Any, approved: Payroll) -> None:
    client = client_for("outsider")
    assert client.get(url("payroll_list")).status_code == 200
    assert approved.region.name not in text(client.get(url("payroll_list"))).split("发放名册</h2>")[1]
    for target in (url("payroll_detail", approved.pk), url("bank_files", approved.pk, "csv")):
        assert client.get(target).status_code == 404, target
    assert client.post(url("payroll_approve", approved.pk), {"version": approved.version}).status_code == 404
    assert client.post(url("return_import", approved.pk), {}).status_code == 404
    assert client.get(url("payroll_detail", 999999)).status_code == 404
    assert Payroll.objects.get().exports == 0


def test_township_reviewer_reviews_its_own_lines_read_only(
    client_for: Any, approved: Payroll, caseload: list[Recipient]
) -> None:
    client = client_for("township_reviewer")
    listing = client.get(url("payroll_list"))
    assert listing.status_code == 200 and url("payroll_detail", approved.pk) in text(listing)
    detail = client.get(url("payroll_detail", approved.pk))
    assert detail.status_code == 200
    body = text(detail)
    assert "仅为本辖区的发放明细" in body and caseload[0].household.number in body
    assert "审批名册" not in body and "下载银行文件" not in body
    assert client.post(url("bank_files_export", approved.pk)).status_code == 403
    assert client.get(url("return_import", approved.pk)).status_code == 403


def test_navigation_shows_payroll_management_to_township_and_county(client_for: Any, tree: Any) -> None:
    assert "发放管理" in text(client_for("county_approver").get(reverse("web:home")))
    assert "发放管理" in text(client_for("township_reviewer").get(reverse("web:home")))
    assert "发放管理" not in text(client_for("village_worker").get(reverse("web:home")))


def test_every_payroll_write_is_audited(client_for: Any, draft: Payroll) -> None:
    before = AuditLog.objects.count()
    client_for("county_approver").post(url("payroll_approve", draft.pk), {"version": draft.version})
    assert AuditLog.objects.count() == before + 1
