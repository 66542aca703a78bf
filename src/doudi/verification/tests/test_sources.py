"""Source batches: ingestion through the batch package, rejects and their report, refusals naming file and column,
GBK files, superseding, and which batch is in force for a region."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.conf import settings

from doudi.core.errors import ApplicationError, PermissionDenied
from doudi.core.models import AuditLog
from doudi.testing.fixtures import new_id
from doudi.verification import selectors, services
from doudi.verification.tests.conftest import upload


def test_a_good_file_is_stored_as_parquet_with_its_provenance(actors, tree):
    # Given a vehicles file from the public-security traffic office
    a, b = new_id(), new_id()
    batch = upload(actors.cv, "vehicles", [f"{a},琼A00001,car,50000", f"{b},琼A00002,disabled_mobility,3000"])
    # Then the batch records where it came from and what was kept
    assert (batch.kind, batch.region_id, batch.rows, batch.stored_rows, batch.rejected_rows) == (
        "vehicles",
        tree.county.code,
        2,
        2,
        0,
    )
    assert batch.file_name == "vehicles.csv" and len(batch.sha256) == 64 and batch.encoding == "utf-8"
    stored = Path(settings.VAR_DIR) / batch.parquet_path
    assert stored.is_file() and stored.is_relative_to(Path(settings.VAR_DIR) / "sources")
    import pyarrow.parquet as pq

    table = pq.read_table(stored)
    assert set(table.column("_source_sha256").to_pylist()) == {batch.sha256}
    assert AuditLog.objects.filter(subject_type="source_batch", subject_id=str(batch.pk), action="import").exists()
    assert not (Path(settings.VAR_DIR) / "sources" / "incoming").exists() or not any(
        (Path(settings.VAR_DIR) / "sources" / "incoming").iterdir()
    )


def test_bad_rows_are_kept_as_rejects_and_the_report_neutralises_formulas(actors):
    good = new_id()
    batch = upload(
        actors.cv,
        "deposits",
        [f"{good},农业银行,1200.50,2024-01-31", "=HYPERLINK(1),工行,10,2024-01-31", f"{good},建行,abc,2024-01-31"],
    )
    assert (batch.stored_rows, batch.rejected_rows) == (1, 2)
    assert batch.rejects_by_reason == {"bad_value": 1, "invalid_id_number": 1}
    name, content = services.source_rejects_csv(scope=actors.cv, batch_id=batch.pk)
    assert name.endswith("-rejects.csv") and content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["数据类别", "文件", "行号", "原因"]
    cells = [cell for row in rows[1:] for cell in row]
    assert "'=HYPERLINK(1)" in cells and "=HYPERLINK(1)" not in cells
    assert {"身份证号无效", "值格式错误"} <= set(cells)
    assert AuditLog.objects.filter(subject_type="source_batch", action="export").count() == 1


def test_an_unknown_kind_is_refused(actors):
    with pytest.raises(ApplicationError) as exc:
        services.source_ingest(
            scope=actors.cv,
            fileobj=io.BytesIO(b"id_number\n"),
            filename="vehicle.csv",
            kind="vehicle",
            department="x",
            period_start="2024-01-01",
            period_end="2024-01-31",
            received_on="2024-02-01",
        )
    assert exc.value.code == "unknown_source_kind" and exc.value.field == "kind"


def test_a_missing_column_is_refused_naming_the_file_and_the_column(actors):
    with pytest.raises(ApplicationError) as exc:
        upload(
            actors.cv,
            "deposits",
            [f"{new_id()},农行,2024-01-31"],
            header="id_number,institution,as_of",
            name="存款0131.csv",
        )
    assert exc.value.code == "missing_column" and exc.value.field == "file"
    assert "存款0131.csv" in exc.value.message and "balance" in exc.value.message
    assert exc.value.extra["column"] == "balance"
    # and nothing was stored
    from doudi.verification.models import SourceBatch

    assert not SourceBatch.objects.exists()
    assert not any((Path(settings.VAR_DIR) / "sources" / "deposits").glob("*/*.parquet"))


def test_a_gbk_file_is_read(actors):
    person = new_id()
    batch = upload(actors.cv, "business", [f"{person},91460000MA5T,法定代表人,100000,active"], encoding="gbk")
    assert batch.encoding == "gbk" and batch.stored_rows == 1


def test_a_new_batch_supersedes_the_previous_one_of_its_kind_and_region(actors, tree):
    first = upload(actors.cv, "deaths", [f"{new_id()},2024-01-02"])
    second = upload(actors.cv, "deaths", [f"{new_id()},2024-02-02"])
    first.refresh_from_db()
    assert first.status == "superseded" and first.superseded_by_id == second.pk
    assert selectors.sources_in_force(region=tree.village) == {"deaths": second}
    # a file that is not CSV, Excel or Parquet is refused
    with pytest.raises(ApplicationError) as exc:
        services.source_ingest(
            scope=actors.cv,
            fileobj=io.BytesIO(b"x"),
            filename="deaths.txt",
            kind="deaths",
            department="x",
            period_start="2024-01-01",
            period_end="2024-01-31",
            received_on="2024-02-01",
        )
    assert exc.value.code == "unsupported_format"


def test_the_same_file_twice_is_refused(actors):
    rows = [f"{new_id()},2024-01-02"]
    upload(actors.cv, "deaths", rows)
    with pytest.raises(ApplicationError) as exc:
        upload(actors.cv, "deaths", rows)
    assert exc.value.code == "duplicate_batch" and exc.value.status == 409


def test_a_county_batch_takes_precedence_over_the_provincial_one_inside_the_county(actors, tree):
    provincial = upload(actors.ad, "vehicles", [f"{new_id()},琼A1,car,1"], region_code=tree.province.code)
    county = upload(actors.ad, "vehicles", [f"{new_id()},琼A2,car,1"], region_code=tree.county.code)
    assert selectors.sources_in_force(region=tree.village)["vehicles"] == county
    assert selectors.sources_in_force(region=tree.other_village)["vehicles"] == provincial


def test_who_may_upload_and_read_sources(actors, tree):
    with pytest.raises(PermissionDenied):
        upload(actors.ca, "deaths", [f"{new_id()},2024-01-02"])
    batch = upload(actors.cv, "deaths", [f"{new_id()},2024-01-02"])
    assert selectors.source_get(scope=actors.ca, batch_id=batch.pk) == batch  # the approver reads
    for scope in (actors.tr, actors.vw, actors.sv):
        with pytest.raises(PermissionDenied):
            selectors.source_list(scope=scope)
    from doudi.core.errors import NotFound

    with pytest.raises(NotFound):
        selectors.source_get(scope=actors.out, batch_id=batch.pk)
    with pytest.raises(NotFound):  # a county verifier cannot register the province's batch
        upload(actors.cv, "deaths", [f"{new_id()},2024-01-02"], region_code=tree.province.code)
