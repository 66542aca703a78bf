"""Bank files out (per bank, CSV and Excel, totals row, inert formulas) and the bank's return file back in."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from doudi.cases.models import Recipient
from doudi.core.errors import ApplicationError
from doudi.core.scope import Scope
from doudi.payments import selectors, services
from doudi.payments.models import BankAccount, Payroll, PayrollLine
from doudi.payments.tests.conftest import MONTH, add_account

COUNTY = "469001000000"


@pytest.fixture
def approved(ca: Scope, caseload: list[Recipient]) -> Payroll:
    payroll = services.payroll_generate(scope=ca, county_code=COUNTY, program="dibao", month=MONTH)
    return services.payroll_approve(scope=ca, payroll_id=payroll.pk, version=payroll.version)


def export(ca: Scope, payroll: Payroll, tmp_path: Path) -> services.ExportResult:
    return services.payroll_bank_files_export(scope=ca, payroll_id=payroll.pk, out_dir=tmp_path)


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))


def return_file(rows: list[tuple[Any, str, str, str]], total: tuple[Any, Any] | None = None) -> io.BytesIO:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["明细编号", "账号", "金额", "结果"])
    for row in rows:
        writer.writerow(row)
    if total is None:
        total = (len(rows), sum((Decimal(r[2]) for r in rows), Decimal("0")))
    writer.writerow(["合计", total[0], total[1], ""])
    return io.BytesIO(out.getvalue().encode("utf-8"))


def lines_as_return(payroll: Payroll, results: dict[int, str] | None = None) -> list[tuple[Any, str, str, str]]:
    results = results or {}
    return [
        (line.pk, line.account_number, str(line.amount), results.get(line.pk, "paid"))
        for line in PayrollLine.objects.filter(
            payroll=payroll, batch=Payroll.objects.get(pk=payroll.pk).exports, status__in=["pending", "reissued"]
        ).order_by("pk")
    ]


def import_return(ca: Scope, payroll: Payroll, data: io.BytesIO) -> services.ReturnResultSummary:
    return services.payroll_return_import(scope=ca, payroll_id=payroll.pk, fileobj=data, filename="return.csv")


def test_one_csv_and_one_xlsx_per_bank_with_a_totals_row(ca: Scope, approved: Payroll, tmp_path: Path) -> None:
    result = export(ca, approved, tmp_path)
    assert {f.bank_code: (f.count, f.total) for f in result.files} == {
        "ABC": (2, Decimal("1150.50")),
        "RCC": (2, Decimal("1500.00")),
    }
    abc = next(f for f in result.files if f.bank_code == "ABC")
    rows = read_csv(abc.paths[0])
    assert rows[0][:6] == ["明细编号", "银行代码", "开户银行", "账号", "户名", "金额"]
    assert rows[-1][0] == "合计" and rows[-1][3] == "2" and rows[-1][5] == "1150.50"
    assert len(rows) == 4
    sheet = openpyxl.load_workbook(abc.paths[1]).worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert values[-1][0] == "合计" and Decimal(str(values[-1][5])) == Decimal("1150.50")
    assert isinstance(values[1][3], str)  # the account number stays text, never 6.22E+15
    approved.refresh_from_db()
    assert approved.status == "exported" and approved.exports == 1


def test_exporting_again_sends_nothing_twice(ca: Scope, approved: Payroll, tmp_path: Path) -> None:
    export(ca, approved, tmp_path)
    with pytest.raises(ApplicationError) as exc:
        export(ca, approved, tmp_path)
    assert exc.value.code == "nothing_to_export"


def test_a_draft_payroll_cannot_be_exported(ca: Scope, caseload: list[Recipient], tmp_path: Path) -> None:
    payroll = services.payroll_generate(scope=ca, county_code=COUNTY, program="dibao", month=MONTH)
    with pytest.raises(ApplicationError) as exc:
        export(ca, payroll, tmp_path)
    assert exc.value.code == "not_approved"


def test_formula_like_holder_names_are_neutralised_in_bank_files(
    ca: Scope, ad: Scope, caseload: list[Recipient], tmp_path: Path
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
    payroll = services.payroll_approve(scope=ca, payroll_id=payroll.pk, version=payroll.version)
    abc = next(f for f in export(ca, payroll, tmp_path).files if f.bank_code == "ABC")
    holders = [row[4] for row in read_csv(abc.paths[0])[1:-1]]
    assert holders[0].startswith("'=")
    sheet = openpyxl.load_workbook(abc.paths[1]).worksheets[0]
    assert sheet.cell(row=2, column=5).value.startswith("'=")


def test_a_good_return_file_marks_lines_paid_and_failed_and_reconciles(
    ca: Scope, approved: Payroll, tmp_path: Path
) -> None:
    export(ca, approved, tmp_path)
    first = PayrollLine.objects.filter(payroll=approved).order_by("pk").first()
    assert first is not None
    summary = import_return(ca, approved, return_file(lines_as_return(approved, {first.pk: "wrong_account"})))
    assert (summary.paid, summary.failed, summary.reconciled) == (3, 1, True)
    first.refresh_from_db()
    assert first.status == "failed" and first.failure_reason == "wrong_account"
    assert PayrollLine.objects.filter(status="paid", paid_at__isnull=False).count() == 3
    approved.refresh_from_db()
    assert approved.status == "reconciled"


@pytest.mark.parametrize(
    ("mutate", "field", "row"),
    [
        (lambda rows: [(999999, *rows[0][1:]), *rows[1:]], "ref", 2),
        (lambda rows: [rows[0], (rows[1][0], "6222000000000000", *rows[1][2:]), *rows[2:]], "account", 3),
        (lambda rows: [rows[0], rows[1], (*rows[2][:2], "1.00", rows[2][3]), *rows[3:]], "amount", 4),
        (lambda rows: [(*rows[0][:3], "unknown"), *rows[1:]], "result", 2),
        (lambda rows: [*rows, rows[0]], "ref", 6),
    ],
    ids=["unknown-reference", "unknown-account", "amount-differs", "bad-result", "duplicate"],
)
def test_a_bad_return_row_names_row_and_column_and_applies_nothing(
    ca: Scope, approved: Payroll, tmp_path: Path, mutate: Any, field: str, row: int
) -> None:
    export(ca, approved, tmp_path)
    with pytest.raises(ApplicationError) as exc:
        import_return(ca, approved, return_file(mutate(lines_as_return(approved))))
    assert (exc.value.field, exc.value.row) == (field, row)
    assert f"第{row}行" in exc.value.message
    assert not PayrollLine.objects.exclude(status="pending").exists()


def test_wrong_totals_or_missing_totals_are_refused(ca: Scope, approved: Payroll, tmp_path: Path) -> None:
    export(ca, approved, tmp_path)
    rows = lines_as_return(approved)
    with pytest.raises(ApplicationError) as exc:
        import_return(ca, approved, return_file(rows, total=(4, "9999.99")))
    assert exc.value.field == "amount" and exc.value.row == 6 and "合计金额" in exc.value.message
    with pytest.raises(ApplicationError) as exc:
        import_return(ca, approved, return_file(rows, total=(3, "2650.50")))
    assert exc.value.field == "account" and "合计笔数" in exc.value.message
    no_totals = io.BytesIO(
        b"\xe6\x98\x8e\xe7\xbb\x86\xe7\xbc\x96\xe5\x8f\xb7,\xe8\xb4\xa6\xe5\x8f\xb7,"
        b"\xe9\x87\x91\xe9\xa2\x9d,\xe7\xbb\x93\xe6\x9e\x9c\r\n1,1,1,paid\r\n"
    )
    with pytest.raises(ApplicationError) as exc:
        import_return(ca, approved, no_totals)
    assert exc.value.code == "missing_totals"
    assert not PayrollLine.objects.exclude(status="pending").exists()


def test_importing_the_same_return_file_twice_changes_nothing_the_second_time(
    ca: Scope, approved: Payroll, tmp_path: Path
) -> None:
    export(ca, approved, tmp_path)
    rows = lines_as_return(approved)
    import_return(ca, approved, return_file(rows))
    with pytest.raises(ApplicationError) as exc:
        import_return(ca, approved, return_file(rows))
    assert "已对账" in exc.value.message
    assert PayrollLine.objects.filter(status="paid").count() == 4


def test_failed_lines_are_reissued_after_account_correction_in_the_next_file_without_paying_twice(
    ca: Scope, ad: Scope, approved: Payroll, tmp_path: Path
) -> None:
    export(ca, approved, tmp_path / "1")
    first = PayrollLine.objects.filter(payroll=approved).order_by("pk").first()
    assert first is not None
    import_return(ca, approved, return_file(lines_as_return(approved, {first.pk: "closed_account"})))

    # not corrected yet: nothing to re-issue
    result = services.payroll_reissue(scope=ca, payroll_id=approved.pk)
    assert result.reissued == 0 and result.not_corrected == [first.pk]

    add_account(ad, first.household, "RCC", "6228480000000007")
    result = services.payroll_reissue(scope=ca, payroll_id=approved.pk)
    assert result.reissued == 1
    second = export(ca, approved, tmp_path / "2")
    assert [(f.bank_code, f.count) for f in second.files] == [("RCC", 1)]
    assert second.batch == 2
    rows = read_csv(second.files[0].paths[0])
    assert rows[1][0] == str(first.pk) and rows[1][3] == "6228480000000007"

    import_return(ca, approved, return_file(lines_as_return(approved)))
    first.refresh_from_db()
    assert first.status == "paid" and first.attempt == 2
    assert PayrollLine.objects.filter(recipient_id=first.recipient_id).count() == 1
    assert PayrollLine.objects.filter(status="paid").count() == 4
    history = selectors.payment_history(scope=ca, household_id=first.household_id)
    assert [(h.status, h.attempt) for h in history] == [("paid", 2)]


def test_bank_account_validation_names_the_field(ad: Scope, caseload: list[Recipient]) -> None:
    with pytest.raises(ApplicationError) as exc:
        services.bank_account_set(
            scope=ad,
            household_id=caseload[0].household_id,
            bank_code="ABC",
            bank_name="农行",
            account_number="12ab",
            holder_name="王",
        )
    assert exc.value.field == "account_number"


def test_an_xlsx_return_file_is_read_as_well(ca: Scope, approved: Payroll, tmp_path: Path) -> None:
    export(ca, approved, tmp_path)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["明细编号", "账号", "金额", "结果"])
    rows = lines_as_return(approved)
    for ref, account, amount, _result in rows:
        sheet.append([ref, account, float(amount), "成功"])
    sheet.append(["合计", len(rows), float(sum(Decimal(r[2]) for r in rows))])
    data = io.BytesIO()
    workbook.save(data)
    data.seek(0)
    summary = services.payroll_return_import(scope=ca, payroll_id=approved.pk, fileobj=data, filename="回盘.xlsx")
    assert summary.paid == 4 and summary.total_paid == Decimal("2650.50")


def test_differences_on_lines_already_sent_to_the_bank_are_closed_without_touching_the_line(
    ca: Scope, approved: Payroll, caseload: list[Recipient], tmp_path: Path
) -> None:
    export(ca, approved, tmp_path)
    Recipient.objects.filter(pk=caseload[0].pk).update(monthly_amount=Decimal("999.00"))
    payroll = services.payroll_generate(scope=ca, county_code=COUNTY, program="dibao", month=MONTH)
    result = services.payroll_differences_approve(scope=ca, payroll_id=payroll.pk, version=payroll.version)
    assert result == {"applied": 0, "not_applied": 1, "lines_added": 0}
    assert PayrollLine.objects.get(recipient=caseload[0]).amount == Decimal("500.00")


def test_lines_without_an_account_wait_for_the_next_batch(
    ca: Scope, approved: Payroll, caseload: list[Recipient], tmp_path: Path
) -> None:
    PayrollLine.objects.filter(recipient=caseload[0]).update(account_number="", bank_code="", bank_name="")
    BankAccount.objects.filter(household_id=caseload[0].household_id).update(active=False)
    result = export(ca, approved, tmp_path)
    assert result.missing_account == 1 and sum(f.count for f in result.files) == 3
    line = PayrollLine.objects.get(recipient=caseload[0])
    assert line.batch == 2 and line.status == "pending"


def test_an_account_registered_after_generation_is_used_when_the_file_is_written(
    ca: Scope, ad: Scope, approved: Payroll, caseload: list[Recipient], tmp_path: Path
) -> None:
    PayrollLine.objects.filter(recipient=caseload[0]).update(account_number="", bank_code="", bank_name="")
    add_account(ad, caseload[0].household, "RCC", "6228480000000099")
    result = export(ca, approved, tmp_path)
    assert result.missing_account == 0
    line = PayrollLine.objects.get(recipient=caseload[0])
    assert (line.bank_code, line.account_number, line.batch) == ("RCC", "6228480000000099", 1)
