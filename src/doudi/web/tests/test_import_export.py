"""The import/export page against the registry's import and export functions."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from doudi.core.errors import ApplicationError


@dataclass
class FakeError:
    row: int | None
    column: str
    value: str
    reason: str
    cell: str = ""


@dataclass
class FakeReport:
    errors: list[FakeError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def error_count(self) -> int:
        return len(self.errors)

    def summary(self) -> str:
        return "导入成功：新增家庭2户" if self.ok else f"导入失败：发现{len(self.errors)}处错误\n  第3行：…"

    def error_csv(self) -> bytes:
        return (
            "\ufeff行号,列名,错误原因\n".encode()
            + "".join(f"{e.row},{e.column},{e.reason}\n" for e in self.errors).encode()
        )


@pytest.fixture
def fake_imports(monkeypatch):
    calls: list[dict] = []
    report = FakeReport()
    module = types.ModuleType("doudi.registry.imports")

    def import_upload(*, scope, fileobj, filename, kind):
        calls.append({"scope": scope, "content": fileobj.read(), "filename": filename, "kind": kind})
        if filename.endswith(".txt"):
            raise ApplicationError("invalid_format", "只支持 .csv 和 .xlsx 文件", "file")
        return report

    def import_template(kind, fmt):
        return f"template {kind} {fmt}".encode()

    module.import_upload = import_upload  # type: ignore[attr-defined]
    module.import_template = import_template  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "doudi.registry.imports", module)
    return calls, report


@pytest.fixture
def fake_exports(monkeypatch):
    calls: list[dict] = []
    module = types.ModuleType("doudi.registry.exports")

    def export_households_bytes(*, scope, region_code, fmt):
        calls.append({"scope": scope, "region_code": region_code, "fmt": fmt})
        if region_code == "469001100000":
            raise ApplicationError("too_large", "导出范围过大，请选择乡镇", "region_code")
        return b"exported"

    module.export_households_bytes = export_households_bytes  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "doudi.registry.exports", module)
    return calls


def upload(name="households.csv", content=b"a,b\n"):
    return SimpleUploadedFile(name, content, content_type="text/csv")


def test_the_page_offers_templates_and_an_export_of_the_own_region_and_its_children(client_for, tree):
    html = client_for("county_approver").get(reverse("web:import")).content.decode()
    assert reverse("web:import_template", args=["households", "xlsx"]) in html
    assert reverse("web:import_template", args=["regions", "csv"]) in html
    assert tree.county.code in html and tree.township.code in html
    assert tree.other_county.code not in html


def test_a_successful_import_redirects_with_the_summary(client_for, fake_imports):
    calls, _report = fake_imports
    client = client_for("county_approver")
    response = client.post(reverse("web:import"), {"kind": "households", "file": upload(content=b"x,y\n")})
    assert response.status_code == 302
    assert calls[0]["kind"] == "households" and calls[0]["content"] == b"x,y\n"
    assert calls[0]["scope"].username == "ca"
    assert "导入成功" in client.get(response["Location"]).content.decode()


def test_a_failed_import_shows_the_row_errors_and_offers_the_error_csv(client_for, fake_imports):
    _calls, report = fake_imports
    report.errors = [
        FakeError(3, "公民身份号码", "469001********1234", "身份证号码校验位错误", "C3"),
        FakeError(5, "姓名", "", "姓名不能为空", "B5"),
    ]
    client = client_for("county_approver")
    response = client.post(reverse("web:import"), {"kind": "households", "file": upload()})
    html = response.content.decode()
    assert response.status_code == 422
    assert "身份证号码校验位错误" in html and "姓名不能为空" in html and "C3" in html
    assert reverse("web:import_errors") in html
    download = client.get(reverse("web:import_errors"))
    assert download["Content-Type"].startswith("text/csv")
    assert "attachment" in download["Content-Disposition"]
    assert "身份证号码校验位错误" in download.content.decode("utf-8-sig")


def test_a_refused_file_is_shown_at_the_file_field(client_for, fake_imports):
    response = client_for("county_approver").post(
        reverse("web:import"), {"kind": "households", "file": upload("notes.txt")}
    )
    assert response.status_code == 422
    assert 'id="id_file_error"' in response.content.decode()


def test_no_file_is_refused_at_the_file_field(client_for, fake_imports):
    response = client_for("county_approver").post(reverse("web:import"), {"kind": "households"})
    assert 'id="id_file_error"' in response.content.decode()
    assert fake_imports[0] == []


def test_the_error_report_is_404_when_there_is_none(client_for):
    assert client_for("county_approver").get(reverse("web:import_errors")).status_code == 404


def test_templates_download_as_files(client_for, fake_imports):
    response = client_for("township_reviewer").get(reverse("web:import_template", args=["regions", "xlsx"]))
    assert response.status_code == 200
    assert response.content == b"template regions xlsx"
    assert "spreadsheetml" in response["Content-Type"]
    assert 'filename="doudi-regions-template.xlsx"' in response["Content-Disposition"]


def test_export_downloads_the_chosen_region_in_the_chosen_format(client_for, tree, fake_exports):
    response = client_for("county_approver").post(reverse("web:export"), {"region": tree.county.code, "fmt": "csv"})
    assert response.status_code == 200
    assert response.content == b"exported"
    assert response["Cache-Control"] == "no-store"
    assert fake_exports == [{"scope": fake_exports[0]["scope"], "region_code": tree.county.code, "fmt": "csv"}]


def test_export_of_a_region_outside_the_scope_is_refused_by_the_form(client_for, tree, fake_exports):
    response = client_for("county_approver").post(
        reverse("web:export"), {"region": tree.other_county.code, "fmt": "csv"}
    )
    assert response.status_code == 422
    assert fake_exports == []


def test_an_export_refusal_is_shown_on_the_page(client_for, tree, fake_exports):
    response = client_for("county_approver").post(reverse("web:export"), {"region": tree.township.code, "fmt": "xlsx"})
    assert response.status_code == 422
    assert "导出范围过大" in response.content.decode()


def test_export_is_a_post_and_for_bulk_roles_only(client_for, tree, fake_exports):
    assert client_for("county_approver").get(reverse("web:export")).status_code == 405
    response = client_for("county_verifier").post(reverse("web:export"), {"region": tree.county.code, "fmt": "csv"})
    assert response.status_code == 403
    assert fake_exports == []


def test_with_the_real_importer_an_unfilled_template_is_refused_row_by_row(client_for):
    # given: the CSV template as downloaded (its example row is marked so that the importer refuses it)
    client = client_for("county_approver")
    template = client.get(reverse("web:import_template", args=["households", "csv"]))
    assert template.status_code == 200
    # when: it is uploaded unchanged
    response = client.post(
        reverse("web:import"), {"kind": "households", "file": upload("households.csv", template.content)}
    )
    # then: nothing is imported and the error report is offered
    assert response.status_code == 422
    assert reverse("web:import_errors") in response.content.decode()
    assert client.get(reverse("web:import_errors")).status_code == 200


def test_with_the_real_exporter_the_county_downloads_its_households_and_the_export_is_audited(
    client_for, tree, household, other_household
):
    from doudi.core.models import AuditLog

    response = client_for("county_approver").post(reverse("web:export"), {"region": tree.county.code, "fmt": "csv"})
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    assert household.number in text
    assert other_household.number not in text
    assert AuditLog.objects.filter(action="export", region_id=tree.county.code).exists()
