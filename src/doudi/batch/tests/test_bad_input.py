"""Bad input: each case either completes on the valid rows with the rejects listed, or refuses to start."""

from __future__ import annotations

import pyarrow as pa
import pytest

from doudi.batch.errors import BatchInputError
from doudi.batch.tests.helpers import HAINAN, Case, bad_check, hits_of, pid, write_csv


@pytest.fixture
def case(tmp_path):
    c = Case(tmp_path)
    c.households([("H1", HAINAN, "rural", "1000")])
    c.persons([("H1", pid(1)), ("H1", pid(2))])
    return c


def rejects_of(result):
    return [(r["source"], r["row"], r["reason"], r["column"]) for r in result.rejects.to_pylist()]


def test_malformed_id_numbers_in_a_source_are_rejected_counted_and_never_silently_dropped(case):
    case.source(
        "vehicles",
        [
            (pid(1), "琼A1", "car", "1"),
            (bad_check(pid(2)), "琼A2", "car", "1"),  # wrong check character
            ("4690011980", "琼A3", "car", "1"),  # too short
            ("", "琼A4", "car", "1"),  # missing
            (pid(2)[:-1] + "x", "琼A5", "car", "1") if pid(2).endswith("X") else (f" {pid(2)} ", "琼A5", "car", "1"),
        ],
    )
    result = case.run()
    assert rejects_of(result) == [
        ("vehicles", 2, "invalid_id_number", "id_number"),
        ("vehicles", 3, "invalid_id_number", "id_number"),
        ("vehicles", 4, "missing_value", "id_number"),
    ]
    assert result.summary["rejects_by_source"] == {"vehicles": {"invalid_id_number": 2, "missing_value": 1}}
    # a padded or lower-case ID is normalised, not rejected: both members' cars are found
    assert {h[1] for h in hits_of(result)} == {pid(1), pid(2)}
    assert result.rejects.to_pylist()[0]["raw_value"] == bad_check(pid(2))


def test_a_missing_column_refuses_to_start_naming_the_file_and_column(case):
    case.source("deposits", [(pid(1), "ICBC", "2024-01-01")], header=["id_number", "institution", "as_of"])
    with pytest.raises(BatchInputError) as err:
        case.run()
    assert err.value.code == "missing_column"
    assert err.value.field == "sources/deposits.csv:balance"


def test_duplicate_rows_are_rejected_except_the_first_and_count_once(case):
    row = (pid(1), "ICBC", "20000", "2024-01-01")
    case.source("deposits", [row, row, row, (pid(2), "ICBC", "20000", "2024-01-01")])
    result = case.run()
    assert rejects_of(result) == [("deposits", 2, "duplicate_row", None), ("deposits", 3, "duplicate_row", None)]
    # 20000 + 20000 = 40000 for two persons: 20000 per person, not 40000
    assert {h[4] for h in hits_of(result)} == {"20000.00"}


def test_blanks_around_values_are_trimmed_so_padded_copies_are_duplicates_not_new_records(case):
    # Tabs, carriage returns (a CRLF file opened and re-saved) and spaces around any value, on either side.
    case.source(
        "vehicles",
        [(pid(1), "琼A1", "car", "1"), (f"\t{pid(1)}\r", " 琼A1\r", "car ", "1.00"), (pid(1), "琼A2\t", " car", "2")],
    )
    result = case.run()
    assert rejects_of(result) == [("vehicles", 2, "duplicate_row", None)]
    assert hits_of(result) == [("H1", pid(1), "vehicles", "vehicle", "2", "0")]


def test_a_source_file_for_an_unknown_kind_refuses_to_start(case):
    write_csv(case.sources / "vehicle.csv", ["id_number"], [(pid(1),)])
    with pytest.raises(BatchInputError) as err:
        case.run()
    assert (err.value.code, err.value.field) == ("unknown_source_kind", "sources/vehicle.csv")


def test_two_files_for_one_kind_refuse_to_start(case):
    case.source("deaths", [(pid(1), "2020-01-01")])
    case.parquet_source("deaths", {"id_number": [pid(1)], "death_date": ["2020-01-01"]})
    with pytest.raises(BatchInputError) as err:
        case.run()
    assert err.value.code == "duplicate_source"


def test_an_empty_source_file_refuses_to_start(case):
    (case.sources / "tax.csv").write_bytes(b"")
    with pytest.raises(BatchInputError) as err:
        case.run()
    assert (err.value.code, err.value.field) == ("empty_file", "sources/tax.csv")


def test_a_header_only_file_is_a_source_with_no_rows(case):
    case.source("tax", [])
    result = case.run()
    assert result.summary["sources"]["tax"]["rows"] == 0
    assert "income" not in " ".join(result.summary["rules_skipped"])


def test_gbk_and_utf8_csv_files_are_both_read_and_their_encoding_reported(case):
    case.source(
        "deaths", [(pid(1), "2020-01-01", "殡葬登记")], encoding="gbk", header=["id_number", "death_date", "备注"]
    )
    case.source("vehicles", [(pid(2), "琼A1", "car", "1")], encoding="utf-8")
    result = case.run()
    assert result.summary["sources"]["deaths"]["encoding"] == "gbk"
    assert result.summary["sources"]["vehicles"]["encoding"] == "utf-8"
    assert [h[3] for h in hits_of(result)] == ["death", "vehicle"]


def test_a_file_mixing_gbk_and_utf8_lines_is_read_line_by_line(case):
    path = case.sources / "vehicles.csv"
    path.write_bytes(
        b"id_number,plate,vehicle_type,value\n"
        + f"{pid(1)},琼A1,car,1\n".encode()
        + f"{pid(2)},琼B2,car,1\n".encode("gbk")
    )
    result = case.run()
    assert result.summary["sources"]["vehicles"]["encoding"] == "mixed(utf-8+gbk)"
    assert result.rejects.num_rows == 0
    assert len(hits_of(result)) == 2


def test_undecodable_bytes_reject_the_row_as_an_encoding_error(case):
    path = case.sources / "vehicles.csv"
    path.write_bytes(b"id_number,plate,vehicle_type,value\n" + pid(1).encode() + b",\xff\xff,car,1\n")
    assert rejects_of(case.run()) == [("vehicles", 1, "encoding_error", None)]


def test_a_row_with_the_wrong_number_of_fields_is_rejected_with_its_row_number(case):
    path = case.sources / "deaths.csv"
    path.write_text(
        f"id_number,death_date\n{pid(1)},2020-01-01\n{pid(2)}\n{pid(2)},2020-01-01,extra\n{pid(2)},2021-01-01\n"
    )
    result = case.run()
    assert rejects_of(result) == [("deaths", 2, "malformed_row", None), ("deaths", 3, "malformed_row", None)]
    assert [h[4] for h in hits_of(result)] == ["2020-01-01", "2021-01-01"]


def test_bad_values_are_rejected_naming_the_column_and_the_value(case):
    case.source(
        "deposits",
        [
            (pid(1), "ICBC", "-5", "2024-01-01"),
            (pid(1), "ICBC", "1,000", "2024-01-01"),
            (pid(1), "ICBC", "1.005", "2024-01-01"),
            (pid(1), "ICBC", "10", "2024/01/01"),
            (pid(1), "ICBC", "10", "2024-02-30"),
            (pid(1), "", "10", "2024-01-01"),
        ],
    )
    result = case.run()
    assert rejects_of(result) == [
        ("deposits", 1, "bad_value", "balance"),
        ("deposits", 2, "bad_value", "balance"),
        ("deposits", 3, "bad_value", "balance"),
        ("deposits", 4, "bad_value", "as_of"),
        ("deposits", 5, "bad_value", "as_of"),
        ("deposits", 6, "missing_value", "institution"),
    ]
    assert [r["raw_value"] for r in result.rejects.to_pylist()][:2] == ["-5", "1,000"]


def test_an_unknown_enum_value_is_a_bad_value(case):
    case.source("business", [(pid(1), "C1", "owner", "1", "dormant")])
    assert rejects_of(case.run()) == [("business", 1, "bad_value", "status")]


def test_persons_with_invalid_ids_unknown_households_or_duplicates_are_rejected(tmp_path):
    c = Case(tmp_path).households([("H1", HAINAN, "rural", "")])
    c.persons([("H1", pid(1)), ("H1", "123"), ("H9", pid(2)), ("H1", pid(1))])
    c.source("deaths", [(pid(1), "2020-01-01")])
    result = c.run()
    assert rejects_of(result) == [
        ("persons", 2, "invalid_id_number", "id_number"),
        ("persons", 3, "unknown_household", "household_id"),
        ("persons", 4, "duplicate_row", None),
    ]
    assert len(hits_of(result)) == 1


@pytest.mark.parametrize(
    ("rows", "code", "field"),
    [
        (
            [("H1", HAINAN, "rural", ""), ("H1", HAINAN, "urban", "")],
            "duplicate_household",
            "households/households.csv:household_id",
        ),
        ([("H1", HAINAN, "city", "")], "invalid_area", "households/households.csv:area"),
        ([("H1", "4690", "rural", "")], "invalid_region_code", "households:region_code"),
        ([("H1", HAINAN, "rural", "lots")], "bad_value", "households/households.csv:declared_monthly_income"),
    ],
)
def test_bad_households_refuse_to_start(tmp_path, rows, code, field):
    c = Case(tmp_path).households(rows).persons([("H1", pid(1))])
    with pytest.raises(BatchInputError) as err:
        c.run()
    assert (err.value.code, err.value.field) == (code, field)


def test_excel_and_parquet_sources_give_the_same_hits_as_csv(tmp_path):
    from openpyxl import Workbook

    results = []
    for fmt in ("csv", "xlsx", "parquet"):
        c = Case(tmp_path / fmt).households([("H1", HAINAN, "rural", "100")]).persons([("H1", pid(1))])
        rows = [(pid(1), "24000.50", 2023)]
        if fmt == "csv":
            c.source("tax", rows)
        elif fmt == "xlsx":
            wb = Workbook()
            ws = wb.active
            ws.append(["id_number", "annual_income", "year"])
            ws.append([pid(1), 24000.5, 2023])
            wb.save(c.sources / "tax.xlsx")
        else:
            c.parquet_source(
                "tax",
                {
                    "id_number": [pid(1)],
                    "annual_income": pa.array([24000.5]).cast(pa.decimal128(12, 2)),
                    "year": pa.array([2023], pa.int32()),
                },
            )
        results.append(hits_of(c.run()))
    assert results[0] == results[1] == results[2] == [("H1", pid(1), "tax", "income", "2000.04", "110.00")]


def test_other_files_in_the_sources_directory_are_ignored_and_listed(case):
    (case.sources / "README.txt").write_text("说明")
    case.source("deaths", [(pid(1), "2020-01-01")])
    assert case.run().summary["files_ignored"] == ["README.txt"]
