"""The integrity pages beyond the overview: the findings list and detail, assigning, resolving and dismissing a
finding, running the checks, and the staff and cadre list with its import and template."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from doudi.core.models import AuditLog
from doudi.core.scope import scope_for
from doudi.integrity import selectors
from doudi.integrity.imports import COLUMNS
from doudi.integrity.models import Finding, IntegrityRun, StaffMember
from doudi.integrity.services import finding_assign, finding_resolve, integrity_run
from doudi.integrity.tests.conftest import TODAY, case, household_in, members, staff
from doudi.integrity.tests.test_checks import die
from doudi.registry.models import Person
from doudi.testing.fixtures import new_id

HEADER = "姓名,公民身份号码,人员类别,区划代码,职务,任职开始日期,任职结束日期\n"


def shows_no_id_number(body: str) -> bool:
    """No stored ID number of a person or a listed staff member appears in full (household numbers may)."""
    numbers = [
        *Person.objects.values_list("id_number", flat=True),
        *StaffMember.objects.values_list("id_number", flat=True),
    ]
    return not any(number in body for number in numbers)


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def finding(tree, ca) -> Finding:
    """An approval without a signed verification authorisation, in the county approver's village."""
    case(household_in(ca, tree.village), authorised=False)
    integrity_run(scope=ca, checks=["unverified_approval"], today=TODAY)
    return Finding.objects.get()


def detail_url(finding: Finding, action: str = "") -> str:
    if action:
        return reverse(f"integrity:finding_{action}", args=[finding.pk])
    return reverse("integrity:finding_detail", args=[finding.pk])


# ---- the list -----------------------------------------------------------------------------------------------


def test_the_county_roles_list_the_findings_of_their_county(finding, users):
    url = reverse("integrity:finding_list")
    for role in ("county_approver", "county_verifier", "admin"):
        response = client_for(getattr(users, role)).get(url)
        body = response.content.decode()
        assert response.status_code == 200, role
        assert finding.description in body and detail_url(finding) in body
        assert shows_no_id_number(body)  # no ID numbers on the list
    other = client_for(users.outsider).get(url).content.decode()
    assert finding.description not in other and "没有符合条件的问题线索" in other


def test_the_overview_links_the_pages_and_each_finding_for_the_county(finding, users):
    body = client_for(users.county_approver).get(reverse("integrity:overview")).content.decode()
    for name in ("finding_list", "run_list", "staff_list"):
        assert reverse(f"integrity:{name}") in body
    assert detail_url(finding) in body


def test_a_supervisor_may_not_list_or_open_findings(finding, users):
    supervisor = client_for(users.supervisor)
    assert supervisor.get(reverse("integrity:finding_list")).status_code == 403
    assert supervisor.get(detail_url(finding)).status_code == 403
    assert supervisor.post(detail_url(finding, "resolve"), {"version": 1, "resolution": "x"}).status_code == 403
    # the overview keeps the counts for them, without links to the findings
    overview = supervisor.get(reverse("integrity:overview")).content.decode()
    assert "未经信息核对即获批准" in overview and reverse("integrity:finding_list") not in overview


def test_village_and_township_staff_see_only_the_findings_assigned_to_them(finding, users, ca):
    url = reverse("integrity:finding_list")
    reviewer = client_for(users.township_reviewer)
    assert finding.description not in reviewer.get(url).content.decode()
    assert reviewer.get(detail_url(finding)).status_code == 404
    assert client_for(users.village_worker).get(detail_url(finding)).status_code == 404

    finding_assign(scope=ca, finding_id=finding.pk, version=1, assignee_id=users.township_reviewer.pk)
    body = reviewer.get(url).content.decode()
    assert "我承办的问题线索" in body and finding.description in body
    assert reviewer.get(detail_url(finding)).status_code == 200


def test_the_list_filters_by_check_status_region_and_assignee(tree, users, ca, finding):
    household = household_in(ca, tree.village2)
    dead, _alive = members(household)
    case(household, "tekun", person=dead)
    die(dead, dt.date(2024, 3, 5))
    integrity_run(scope=ca, checks=["deceased_recipient"], today=TODAY)
    deceased = Finding.objects.get(check_code="deceased_recipient")
    client = client_for(users.county_approver)
    url = reverse("integrity:finding_list")

    def listed(**params: str) -> set[int]:
        response = client.get(url, params)
        assert response.status_code == 200
        return {int(n) for n in re.findall(r"/integrity/findings/(\d+)/", response.content.decode())}

    assert listed() == {finding.pk, deceased.pk}
    assert listed(check="deceased_recipient") == {deceased.pk}
    assert listed(region=tree.village.code) == {finding.pk}
    assert listed(region=tree.township.code) == {finding.pk, deceased.pk}
    finding_assign(scope=ca, finding_id=finding.pk, version=1, assignee_id=users.township_reviewer.pk)
    assert listed(assignee="none") == {deceased.pk}
    assert listed(assignee=str(users.township_reviewer.pk)) == {finding.pk}
    finding_resolve(scope=ca, finding_id=finding.pk, version=2, resolution="已补签授权书并重新核对")
    assert listed() == {deceased.pk}
    assert listed(status="resolved") == {finding.pk}
    assert listed(status="all") == {finding.pk, deceased.pk}
    # the province-wide administrator filters by county (and township), not by thousands of villages
    admin = client_for(users.admin)
    page = admin.get(url, {"region": tree.county.code, "status": "all"})
    assert page.status_code == 200 and f'value="{tree.county.code}"' in page.content.decode()
    assert f'<option value="{tree.village.code}"' not in page.content.decode()
    assert {int(n) for n in re.findall(r"/integrity/findings/(\d+)/", page.content.decode())} == {
        finding.pk,
        deceased.pk,
    }
    other = admin.get(url, {"region": tree.other_county.code}).content.decode()
    assert re.search(r"/integrity/findings/\d+/", other) is None
    # a region outside the county is not a choice: the form names the field
    response = client.get(url, {"region": tree.other_village.code})
    assert response.status_code == 422 and "查询条件有误" in response.content.decode()


def test_the_list_pages_newest_first(tree, users, ca, finding):
    for _ in range(2):
        case(household_in(ca, tree.village), authorised=False)
    integrity_run(scope=ca, checks=["unverified_approval"], today=TODAY)
    ids = sorted(Finding.objects.values_list("pk", flat=True), reverse=True)
    first = selectors.findings_page(scope=ca, page_size=2)
    assert [f.pk for f in first.items] == ids[:2] and first.total == 3 and first.next_before == ids[1]
    second = selectors.findings_page(scope=ca, page_size=2, before=first.next_before)
    assert [f.pk for f in second.items] == ids[2:] and second.next_before is None
    page = client_for(users.county_approver).get(reverse("integrity:finding_list"), {"before": ids[1]})
    body = page.content.decode()
    assert page.status_code == 200 and f"/integrity/findings/{ids[2]}/" in body
    assert f"/integrity/findings/{ids[0]}/" not in body


# ---- the detail -------------------------------------------------------------------------------------------------


def test_the_detail_explains_the_evidence_in_chinese_and_links_the_case(finding, users):
    response = client_for(users.county_approver).get(detail_url(finding))
    body = response.content.decode()
    assert response.status_code == 200
    assert finding.description in body
    assert "已签署核对授权书" in body and "最低生活保障" in body  # evidence labels and program names
    assert "verification_status" not in body and "dibao" not in body  # no raw codes
    assert reverse("cases:application_detail", args=[finding.application_id]) in body
    assert reverse("web:household_detail", args=[finding.household_id]) in body
    assert shows_no_id_number(body)
    assert 'id="assign"' in body and 'id="resolve"' in body and 'id="dismiss"' in body
    # the county verifier reads it but has no action
    verifier = client_for(users.county_verifier).get(detail_url(finding)).content.decode()
    assert finding.description in verifier and 'id="assign"' not in verifier and 'id="dismiss"' not in verifier


def test_a_finding_of_another_county_is_not_found(finding, users):
    outsider = client_for(users.outsider)
    assert outsider.get(detail_url(finding)).status_code == 404
    for action, data in (("assign", {"assignee_id": users.outsider.pk}), ("resolve", {}), ("dismiss", {})):
        response = outsider.post(detail_url(finding, action), {"version": 1, "resolution": "x", **data})
        assert response.status_code == 404, action
    assert Finding.objects.get().status == "open"


def test_a_kinship_finding_names_the_staff_member_and_the_relation(tree, ca, users):
    household = household_in(ca, tree.village)
    cadre = members(household)[1]
    case(household)
    staff(cadre, tree.village, position="村委会主任")
    integrity_run(scope=ca, checks=["undeclared_kin"], today=TODAY)
    kin = Finding.objects.get(check_code="undeclared_kin")
    body = client_for(users.county_approver).get(detail_url(kin)).content.decode()
    assert "名单中的人员" in body and cadre.name in body and "村委会主任" in body
    assert "村（居）委会成员" in body and "同户成员" in body
    assert cadre.id_number not in body and shows_no_id_number(body)


# ---- actions ----------------------------------------------------------------------------------------------------


def test_assigning_from_the_page_changes_the_finding_and_is_audited(finding, users):
    client = client_for(users.county_approver)
    page = client.get(detail_url(finding)).content.decode()
    select = page[
        page.index('id="assign_assignee_id"') : page.index("</select>", page.index('id="assign_assignee_id"'))
    ]
    offered = {int(pk) for pk in re.findall(r'<option value="(\d+)"', select)}
    # the township reviewer of the village and the county's officers; not village workers nor other counties
    assert offered == {users.township_reviewer.pk, users.county_approver.pk, users.county_verifier.pk}
    response = client.post(detail_url(finding, "assign"), {"version": 1, "assignee_id": users.township_reviewer.pk})
    assert response.status_code == 302 and response["Location"] == detail_url(finding)
    finding.refresh_from_db()
    assert finding.status == "assigned" and finding.assignee_id == users.township_reviewer.pk
    assert AuditLog.objects.filter(subject_type="finding", subject_id=str(finding.pk)).count() == 1
    history = client.get(detail_url(finding)).content.decode()
    assert "指派问题线索" in history and users.township_reviewer.full_name in history and "已指派" in history


def test_an_assignment_without_a_valid_assignee_names_the_field(finding, users):
    client = client_for(users.county_approver)
    empty = client.post(detail_url(finding, "assign"), {"version": 1})
    assert empty.status_code == 422
    assert 'id="assign_assignee_id_error"' in empty.content.decode() and "请选择承办人" in empty.content.decode()
    wrong = client.post(detail_url(finding, "assign"), {"version": 1, "assignee_id": users.village_worker.pk})
    assert wrong.status_code == 422 and 'id="assign_assignee_id_error"' in wrong.content.decode()
    assert Finding.objects.get().status == "open"


def test_a_stale_form_is_refused_with_a_clear_message(finding, users, ca):
    finding_assign(scope=ca, finding_id=finding.pk, version=1, assignee_id=users.township_reviewer.pk)
    client = client_for(users.county_approver)
    response = client.post(detail_url(finding, "dismiss"), {"version": 1, "resolution": "经核实纸质授权书在档"})
    body = response.content.decode()
    assert response.status_code == 409
    assert 'id="conflict"' in body and "已被其他用户修改" in body
    assert 'name="version" value="2"' in body  # the forms now carry the current version
    assert "经核实纸质授权书在档</textarea>" in body  # and the text the user typed is kept
    finding.refresh_from_db()
    assert finding.status == "assigned" and finding.version == 2


def test_the_assignee_resolves_with_a_written_resolution(finding, users, ca):
    finding_assign(scope=ca, finding_id=finding.pk, version=1, assignee_id=users.township_reviewer.pk)
    reviewer = client_for(users.township_reviewer)
    page = reviewer.get(detail_url(finding)).content.decode()
    assert 'id="resolve"' in page and 'id="dismiss"' not in page and 'id="assign"' not in page
    blank = reviewer.post(detail_url(finding, "resolve"), {"version": 2, "resolution": "  "})
    assert blank.status_code == 422
    assert 'id="resolve_resolution_error"' in blank.content.decode() and "请填写处理情况" in blank.content.decode()
    assert reviewer.post(detail_url(finding, "dismiss"), {"version": 2, "resolution": "无问题"}).status_code == 403
    done = reviewer.post(detail_url(finding, "resolve"), {"version": 2, "resolution": "已补签授权书，重新核对符合"})
    assert done.status_code == 302
    finding.refresh_from_db()
    assert finding.status == "resolved" and finding.resolved_by_id == users.township_reviewer.pk
    closed = reviewer.get(detail_url(finding)).content.decode()
    assert "已补签授权书，重新核对符合" in closed and 'id="resolve"' not in closed
    assert "问题线索已整改" in closed  # the history
    again = client_for(users.county_approver).post(detail_url(finding, "resolve"), {"version": 3, "resolution": "再办"})
    assert again.status_code == 409 and "已处理完毕" in again.content.decode()


def test_only_county_approvers_and_administrators_dismiss(finding, users):
    for role in ("county_verifier", "village_worker", "township_reviewer"):
        response = client_for(getattr(users, role)).post(
            detail_url(finding, "dismiss"), {"version": 1, "resolution": "x"}
        )
        assert response.status_code == 403, role
    # the verifier may read the finding but not close it
    assert (
        client_for(users.county_verifier).post(detail_url(finding, "resolve"), {"version": 1, "resolution": "x"})
    ).status_code == 403
    response = client_for(users.admin).post(detail_url(finding, "dismiss"), {"version": 1, "resolution": "系统漏录"})
    assert response.status_code == 302
    assert Finding.objects.get().status == "dismissed"
    assert AuditLog.objects.filter(subject_type="finding", action="update").count() == 1


def test_actions_only_accept_post(finding, users):
    client = client_for(users.county_approver)
    for action in ("assign", "resolve", "dismiss"):
        assert client.get(detail_url(finding, action)).status_code == 405


# ---- running the checks -----------------------------------------------------------------------------------------


def test_a_county_officer_runs_the_checks_from_the_page(tree, users, ca):
    case(household_in(ca, tree.village), authorised=False)
    url = reverse("integrity:run_list")
    client = client_for(users.county_verifier)
    assert client.get(url).status_code == 200
    response = client.post(url, {"checks": ["unverified_approval"]}, follow=True)
    body = response.content.decode()
    assert response.status_code == 200
    assert "新发现问题线索 1 条" in body and "未经信息核对即获批准 1" in body
    run = IntegrityRun.objects.get()
    assert run.region_id == tree.county.code and run.counts == {"unverified_approval": 1}
    assert run.as_of == timezone.localdate()
    assert AuditLog.objects.filter(subject_type="integrity_run").count() == 1
    # a second run finds nothing new
    client.post(url, {})
    assert Finding.objects.count() == 1 and IntegrityRun.objects.count() == 2


def test_running_is_refused_to_other_roles_and_bad_input_names_the_field(users):
    url = reverse("integrity:run_list")
    for role in ("village_worker", "township_reviewer", "supervisor"):
        assert client_for(getattr(users, role)).get(url).status_code == 403, role
        assert client_for(getattr(users, role)).post(url, {}).status_code == 403, role
    client = client_for(users.county_approver)
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    future = client.post(url, {"as_of": tomorrow})
    assert future.status_code == 422 and 'id="id_as_of_error"' in future.content.decode()
    unknown = client.post(url, {"checks": ["no_such_check"]})
    assert unknown.status_code == 422 and 'id="id_checks_error"' in unknown.content.decode()
    assert IntegrityRun.objects.count() == 0


# ---- staff and cadre lists --------------------------------------------------------------------------------------


def upload(client: Client, text: str, name: str = "名单.csv") -> Any:
    data = io.BytesIO(text.encode("utf-8"))
    data.name = name
    return client.post(reverse("integrity:staff_list"), {"file": data})


def test_a_county_approver_imports_a_list_and_sees_it_masked(tree, users):
    number = new_id()
    text = HEADER + f"张村官,{number},村委会成员,{tree.village.code},村主任,2021-01-01,\n"
    client = client_for(users.county_approver)
    response = upload(client, text)
    assert response.status_code == 302
    member = StaffMember.objects.get()
    assert member.id_number == number and member.region_id == tree.village.code
    assert AuditLog.objects.filter(subject_type="staff_list").count() == 1
    page = client.get(reverse("integrity:staff_list"))
    body = page.content.decode()
    assert page.status_code == 200 and "张村官" in body and "村主任" in body
    assert number not in body and shows_no_id_number(body)
    # another county's approver does not see it
    assert "张村官" not in client_for(users.outsider).get(reverse("integrity:staff_list")).content.decode()


def test_a_file_with_errors_writes_nothing_and_lists_each_row(tree, users):
    text = HEADER + (
        f"张村官,{new_id()},村委会成员,{tree.village.code},村主任,2021-01-01,\n"
        f"王错号,{new_id()[:17]}Z,村委会成员,{tree.village.code},委员,2021-01-01,\n"
        f"李某,{new_id()},会计,{tree.village.code},,2021-13-01,\n"
    )
    response = upload(client_for(users.county_approver), text)
    body = response.content.decode()
    assert response.status_code == 422
    assert 'id="import-report"' in body and "没有任何数据被导入" in body
    rows = re.findall(r'data-label="行号">(\d+)</td>', body)
    assert rows[:1] == ["3"] and "4" in rows
    assert "公民身份号码" in body and "人员类别" in body and "任职开始日期" in body
    assert StaffMember.objects.count() == 0


def test_a_file_without_the_columns_or_without_a_file_names_the_file_field(users):
    client = client_for(users.county_approver)
    missing = upload(client, "姓名,公民身份号码\n张三,1\n")
    assert missing.status_code == 422
    assert 'id="id_file_error"' in missing.content.decode() and "缺少必填列" in missing.content.decode()
    nothing = client.post(reverse("integrity:staff_list"), {})
    assert nothing.status_code == 422 and "请选择要上传的名单文件" in nothing.content.decode()


def test_the_staff_page_and_import_are_limited_by_role(tree, users):
    url = reverse("integrity:staff_list")
    verifier = client_for(users.county_verifier)
    page = verifier.get(url).content.decode()
    assert 'id="staff"' in page and 'id="import"' not in page
    text = HEADER + f"张村官,{new_id()},村委会成员,{tree.village.code},村主任,2021-01-01,\n"
    assert upload(verifier, text).status_code == 403
    for role in ("village_worker", "township_reviewer", "supervisor"):
        assert client_for(getattr(users, role)).get(url).status_code == 403, role
        assert upload(client_for(getattr(users, role)), text).status_code == 403, role
    assert StaffMember.objects.count() == 0


def test_the_terms_filter_hides_ended_terms_by_default(tree, users):
    person = members(household_in(scope_for(users.county_approver), tree.village))[0]
    staff(person, tree.village, from_date=dt.date(2015, 1, 1), to_date=dt.date(2018, 12, 31))
    client = client_for(users.county_approver)
    url = reverse("integrity:staff_list")
    assert person.name not in client.get(url).content.decode()
    assert person.name in client.get(url, {"terms": "all"}).content.decode()


def test_the_templates_download_and_import_back(tree, users):
    client = client_for(users.county_approver)
    csv_response = client.get(reverse("integrity:staff_template", args=["csv"]))
    assert csv_response.status_code == 200 and "attachment" in csv_response["Content-Disposition"]
    header = csv_response.content.decode("utf-8-sig").splitlines()[0]
    assert header.split(",") == [c.header for c in COLUMNS]
    filled = (
        csv_response.content.decode("utf-8-sig")
        + f"张村官,{new_id()},村委会成员,{tree.village.code},村主任,2021-01-01,\r\n"
    )
    assert upload(client, filled).status_code == 302 and StaffMember.objects.count() == 1

    xlsx = client.get(reverse("integrity:staff_template", args=["xlsx"]))
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(xlsx.content))
    sheet = workbook.worksheets[0]
    assert [cell.value for cell in sheet[1]] == [c.header for c in COLUMNS]
    assert sheet.cell(row=2, column=2).number_format == "@"  # ID numbers stay text
    assert "填写说明" in workbook.sheetnames

    assert client.get(reverse("integrity:staff_template", args=["pdf"])).status_code == 404
    assert client_for(users.supervisor).get(reverse("integrity:staff_template", args=["csv"])).status_code == 403
