"""Operators change policy parameters: dated, audited, never in the past, all-or-nothing file imports."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from doudi.core.errors import ApplicationError, PermissionDenied
from doudi.core.models import AuditLog
from doudi.core.scope import scope_for
from doudi.policy import selectors, services
from doudi.policy.layering import rules_region_key
from doudi.policy.models import ChangeStatus, ParameterValueChange
from doudi.rules.errors import ParameterNotFound
from doudi.rules.parameters import load_parameters

VILLAGE = "469001100201"
HEADER = "参数路径,区划代码,城乡,生效日期,取值,法规依据,原因\n"


def today() -> dt.date:
    return timezone.localdate()


def add(scope: Any, **overrides: Any) -> ParameterValueChange:
    data: dict[str, Any] = {
        "path": "dibao.standard",
        "region_code": "469001000000",
        "area": "urban",
        "effective_from": today() + dt.timedelta(days=10),
        "value": "800",
        "reference": "五指山市民政局 2026 通知",
        "reason": "年度调标",
    }
    data.update(overrides)
    return services.parameter_value_add(scope=scope, **data)


def csv_upload(*lines: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("changes.csv", (HEADER + "\n".join(lines) + "\n").encode("utf-8"))


def test_a_statistical_code_maps_to_the_rules_region_key():
    assert rules_region_key("469001000000") == "469001"
    assert rules_region_key("469001100000") == "469001100"
    assert rules_region_key(VILLAGE) == VILLAGE
    assert rules_region_key("default") == "default"


def test_an_added_future_value_applies_from_its_date_and_the_old_value_before(admin_scope):
    # Given the county has no dibao standard of its own (it inherits the province's)
    start = today() + dt.timedelta(days=10)
    before = load_parameters().get("dibao.standard", VILLAGE, "urban", start - dt.timedelta(days=1)).value
    # When an administrator sets a county value from a future date
    add(admin_scope, effective_from=start)
    pset = selectors.current_parameter_set()
    # Then it is in effect from that date, in villages of the county too
    assert pset.get("dibao.standard", VILLAGE, "urban", start).value == Decimal("800")
    assert pset.get("dibao.standard", "469001", "urban", start + dt.timedelta(days=400)).value == Decimal("800")
    # And every earlier date keeps the inherited history, so past decisions re-compute unchanged
    assert pset.get("dibao.standard", VILLAGE, "urban", start - dt.timedelta(days=1)).value == before
    assert pset.get("dibao.standard", VILLAGE, "urban", dt.date(2016, 1, 1)).value == Decimal("420")
    # And the other county and the other area are untouched
    assert pset.get("dibao.standard", "469002", "urban", start).value == before
    assert pset.get("dibao.standard", VILLAGE, "rural", start).value != Decimal("800")


def test_a_value_from_today_is_accepted_but_a_past_date_is_refused(admin_scope):
    add(admin_scope, effective_from=today())
    with pytest.raises(ApplicationError) as exc:
        add(admin_scope, effective_from=today() - dt.timedelta(days=1), value="900")
    assert exc.value.field == "effective_from"
    assert ParameterValueChange.objects.count() == 1


@pytest.mark.parametrize("role", ["village_worker", "township_reviewer", "county_approver", "supervisor"])
def test_only_administrators_change_parameters(users, role):
    with pytest.raises(PermissionDenied):
        add(scope_for(getattr(users, role)))
    assert not ParameterValueChange.objects.exists()
    assert not AuditLog.objects.filter(subject_type=services.SUBJECT).exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"value": "abc"}, "value"),
        ({"value": "800.123"}, "value"),
        ({"path": "dibao.nope"}, "path"),
        ({"region_code": "469099000000"}, "region_code"),
        ({"region_code": "12"}, "region_code"),
        ({"area": ""}, "area"),
        ({"area": "suburb"}, "area"),
        ({"effective_from": "2030-13-01"}, "effective_from"),
        ({"reference": " "}, "reference"),
    ],
)
def test_an_invalid_change_names_the_field(admin_scope, overrides, field):
    with pytest.raises(ApplicationError) as exc:
        add(admin_scope, **overrides)
    assert exc.value.field == field
    assert not ParameterValueChange.objects.exists()


def test_an_area_is_refused_for_a_parameter_that_is_not_area_keyed(admin_scope):
    pset = load_parameters()
    from doudi.policy.layering import is_area_keyed

    plain = next(p for p in pset.list() if not is_area_keyed(p) and p.type == "money")
    with pytest.raises(ApplicationError) as exc:
        add(admin_scope, path=plain.path, area="urban", value="10")
    assert exc.value.field == "area"


def test_adding_a_value_writes_an_audit_row_in_the_same_transaction(admin_scope):
    change = add(admin_scope)
    log = AuditLog.objects.get(subject_type=services.SUBJECT, subject_id=str(change.pk))
    assert log.action == "create"
    assert log.after is not None and log.after["value"] == "800"
    assert log.region_id == "469001000000"


def test_a_future_value_can_be_withdrawn_and_no_longer_applies(admin_scope):
    start = today() + dt.timedelta(days=10)
    change = add(admin_scope, effective_from=start)
    assert selectors.current_parameter_set().get("dibao.standard", VILLAGE, "urban", start).value == Decimal("800")
    services.parameter_value_withdraw(scope=admin_scope, change_id=change.pk, reason="录入错误")
    change.refresh_from_db()
    assert change.status == ChangeStatus.WITHDRAWN
    assert ParameterValueChange.objects.count() == 1  # history is kept
    assert selectors.current_parameter_set().get("dibao.standard", VILLAGE, "urban", start).value != Decimal("800")
    assert AuditLog.objects.filter(subject_type=services.SUBJECT, action="update").count() == 1
    with pytest.raises(ApplicationError):
        services.parameter_value_withdraw(scope=admin_scope, change_id=change.pk)


def test_a_value_already_in_effect_cannot_be_withdrawn(admin_scope, users):
    change = add(admin_scope, effective_from=today())
    with pytest.raises(ApplicationError) as exc:
        services.parameter_value_withdraw(scope=admin_scope, change_id=change.pk)
    assert exc.value.field == "effective_from"
    with pytest.raises(PermissionDenied):
        services.parameter_value_withdraw(scope=scope_for(users.county_approver), change_id=change.pk)


def test_a_parameter_set_as_recorded_earlier_leaves_out_later_changes(admin_scope):
    start = today() + dt.timedelta(days=10)
    moment = timezone.now() - dt.timedelta(seconds=1)
    add(admin_scope, effective_from=start)
    earlier = selectors.current_parameter_set(as_of=moment)
    assert earlier.get("dibao.standard", VILLAGE, "urban", start).value != Decimal("800")


def test_a_parameter_set_as_recorded_earlier_keeps_a_change_withdrawn_later(admin_scope):
    start = today() + dt.timedelta(days=10)
    change = add(admin_scope, effective_from=start)
    moment = timezone.now()
    ParameterValueChange.objects.filter(pk=change.pk).update(
        status=ChangeStatus.WITHDRAWN, withdrawn_at=moment + dt.timedelta(seconds=5)
    )
    assert selectors.current_parameter_set(as_of=moment).get(
        "dibao.standard", VILLAGE, "urban", start
    ).value == Decimal("800")
    assert selectors.current_parameter_set().get("dibao.standard", VILLAGE, "urban", start).value != Decimal("800")


def test_a_file_of_changes_is_imported_with_audit_rows(admin_scope):
    later = (today() + dt.timedelta(days=20)).isoformat()
    result = services.parameter_values_import(
        scope=admin_scope,
        fileobj=csv_upload(
            f"dibao.standard,469001000000,urban,{later},800,文件一,调标",
            f"dibao.standard,469001000000,农村,{later},700,文件一,",
        ),
        filename="changes.csv",
    )
    assert result.ok and len(result.created) == 2
    pset = selectors.current_parameter_set()
    assert pset.get("dibao.standard", VILLAGE, "rural", dt.date.fromisoformat(later)).value == Decimal("700")
    assert AuditLog.objects.filter(subject_type=services.SUBJECT).count() == 2


def test_a_file_with_one_bad_row_imports_nothing_and_reports_the_row(admin_scope):
    later = (today() + dt.timedelta(days=20)).isoformat()
    past = (today() - dt.timedelta(days=1)).isoformat()
    result = services.parameter_values_import(
        scope=admin_scope,
        fileobj=csv_upload(
            f"dibao.standard,469001000000,urban,{later},800,文件一,",
            f"dibao.standard,469001000000,urban,{past},810,文件一,",
            f"dibao.standard,469001000000,rural,{later},x,文件一,",
        ),
        filename="changes.csv",
    )
    assert not result.ok
    assert [(e.row, e.field) for e in result.errors] == [(3, "effective_from"), (4, "value")]
    assert not ParameterValueChange.objects.exists()
    assert not AuditLog.objects.filter(subject_type=services.SUBJECT).exists()


def test_a_file_without_the_expected_columns_is_refused(admin_scope):
    upload = SimpleUploadedFile("x.csv", "路径,值\na,b\n".encode())
    with pytest.raises(ApplicationError) as exc:
        services.parameter_values_import(scope=admin_scope, fileobj=upload, filename="x.csv")
    assert exc.value.field == "file"


def test_an_xlsx_file_of_changes_is_imported(admin_scope):
    import openpyxl

    later = today() + dt.timedelta(days=20)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(services.IMPORT_COLUMNS))
    sheet.append(["dibao.standard", "469001000000", "urban", later, 800, "文件一", ""])
    out = io.BytesIO()
    book.save(out)
    upload = SimpleUploadedFile("changes.xlsx", out.getvalue())
    result = services.parameter_values_import(scope=admin_scope, fileobj=upload, filename="changes.xlsx")
    assert result.ok, [e.message for e in result.errors]
    assert selectors.current_parameter_set().get("dibao.standard", VILLAGE, "urban", later).value == Decimal("800")


def test_parameter_rows_show_the_scope_regions_current_values(users):
    rows = {r.path: r for r in selectors.parameter_rows(scope_for(users.village_worker))}
    standard = rows["dibao.standard"]
    assert {v.area for v in standard.current} == {"urban", "rural"}
    assert all(v.value for v in standard.current)


def test_an_unknown_region_key_resolution_is_not_swallowed():
    with pytest.raises(ParameterNotFound):
        load_parameters().get("dibao.nope", VILLAGE, "urban", today())


# --- pages -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role", ["village_worker", "township_reviewer", "county_approver", "county_verifier", "supervisor", "admin"]
)
def test_every_role_reads_the_parameter_pages(users, role):
    client = Client()
    client.force_login(getattr(users, role))
    listing = client.get(reverse("policy:parameter_list"))
    assert listing.status_code == 200
    text = listing.content.decode()
    assert "dibao.standard" in text
    assert "运营方默认值（未经核实）" in text
    detail = client.get(reverse("policy:parameter_detail", args=["dibao.standard"]))
    assert detail.status_code == 200
    assert ("新增取值" in detail.content.decode()) == (role == "admin")


def test_an_unknown_parameter_page_is_404(users):
    client = Client()
    client.force_login(users.admin)
    assert client.get(reverse("policy:parameter_detail", args=["dibao.nope"])).status_code == 404


def test_the_add_form_shows_field_errors_and_saves_a_valid_value(users):
    client = Client()
    client.force_login(users.admin)
    url = reverse("policy:value_add", args=["dibao.standard"])
    data = {
        "region_code": "469001000000",
        "area": "urban",
        "effective_from": (today() - dt.timedelta(days=3)).isoformat(),
        "value": "800",
        "reference": "通知",
    }
    refused = client.post(url, data)
    assert refused.status_code == 422
    assert "生效日期不能早于今天" in refused.content.decode()
    data["effective_from"] = (today() + dt.timedelta(days=3)).isoformat()
    saved = client.post(url, data)
    assert saved.status_code == 302
    assert ParameterValueChange.objects.get().created_by_name == users.admin.username
    page = client.get(reverse("policy:parameter_detail", args=["dibao.standard"])).content.decode()
    assert "通知" in page and "撤回" in page


def test_the_withdraw_button_withdraws_a_future_value(users, admin_scope):
    change = add(admin_scope)
    client = Client()
    client.force_login(users.admin)
    response = client.post(reverse("policy:value_withdraw", args=[change.pk]))
    assert response.status_code == 302
    change.refresh_from_db()
    assert change.status == ChangeStatus.WITHDRAWN


def test_the_upload_page_reports_row_errors_and_imports_nothing(users):
    client = Client()
    client.force_login(users.admin)
    past = (today() - dt.timedelta(days=1)).isoformat()
    response = client.post(
        reverse("policy:parameter_import"), {"file": csv_upload(f"dibao.standard,469001000000,urban,{past},800,通知,")}
    )
    assert response.status_code == 422
    assert "第2行" in response.content.decode()
    assert not ParameterValueChange.objects.exists()


@pytest.mark.parametrize("role", ["village_worker", "county_approver", "supervisor"])
def test_non_administrators_get_403_on_the_write_pages(users, role):
    client = Client()
    client.force_login(getattr(users, role))
    assert client.get(reverse("policy:value_add", args=["dibao.standard"])).status_code == 403
    assert client.get(reverse("policy:parameter_import")).status_code == 403
