"""Issue 5 item 4 cases not covered by the per-check tests: the third exclusive pair, which recipient statuses
count as still paid, descriptions free of personal data across all checks, and staff lists uploaded through the
page as GBK CSV and as the .xlsx template."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.test import Client
from django.urls import reverse

from doudi.integrity.models import Finding, StaffMember
from doudi.integrity.services import integrity_run
from doudi.integrity.tests.conftest import TODAY, case, household_in, members, staff
from doudi.integrity.tests.test_checks import die, findings, run
from doudi.registry.models import Person
from doudi.testing.fixtures import new_id


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_tekun_and_the_living_subsidy_for_the_same_person_is_found(tree, ca):
    household = household_in(ca, tree.village)
    person = members(household)[1]
    case(household, "tekun", person=person)
    case(household, "disability_living", person=person)
    assert run(ca, "exclusive_programs") == 1
    assert findings("exclusive_programs")[0].evidence["pair"] == "tekun+disability_living"


def test_a_death_is_found_for_a_benefit_in_gradual_exit_but_not_for_a_suspended_one(tree, ca):
    # Given two tekun recipients who died: one in gradual exit (still paid), one suspended (payments stopped)
    paid = household_in(ca, tree.village)
    stopped = household_in(ca, tree.village2)
    paid_person, stopped_person = members(paid)[1], members(stopped)[1]
    case(paid, "tekun", person=paid_person, recipient_status="gradual_exit")
    case(stopped, "tekun", person=stopped_person, recipient_status="suspended")
    die(paid_person, dt.date(2024, 4, 1))
    die(stopped_person, dt.date(2024, 4, 1))
    # Then only the benefit still being paid is a finding
    assert run(ca, "deceased_recipient") == 1
    assert findings("deceased_recipient")[0].person_id == paid_person.pk


def test_no_description_names_a_person_or_shows_an_id_number(tree, ca):
    household = household_in(ca, tree.village)
    head, member = members(household)
    case(household, "dibao", authorised=False)
    case(household, "tekun", person=member)
    staff(head, tree.village)
    die(member, dt.date(2024, 2, 1))
    integrity_run(scope=ca, today=TODAY)
    texts = list(Finding.objects.values_list("description", flat=True))
    assert len(texts) == 5
    secrets = [value for p in Person.objects.all() for value in (p.name, p.id_number)]
    secrets += [value for s in StaffMember.objects.all() for value in (s.name, s.id_number)]
    for text in texts:
        assert not any(secret in text for secret in secrets), text


def test_a_gbk_csv_uploaded_on_the_page_is_imported(tree, users):
    text = (
        "姓名,公民身份号码,人员类别,区划代码,职务,任职开始日期,任职结束日期\r\n"
        f"张村官,{new_id()},村（居）委会成员,{tree.village.code},村委会主任,2021-01-01,\r\n"
    )
    data = io.BytesIO(text.encode("gbk"))
    data.name = "名单.csv"
    response = client_for(users.county_approver).post(reverse("integrity:staff_list"), {"file": data})
    assert response.status_code == 302
    assert StaffMember.objects.get().name == "张村官"


def test_the_xlsx_template_filled_in_is_imported_on_the_page(tree, users):
    from openpyxl import load_workbook

    client = client_for(users.county_approver)
    template = client.get(reverse("integrity:staff_template", args=["xlsx"])).content
    workbook = load_workbook(io.BytesIO(template))
    sheet = workbook.worksheets[0]
    number = new_id()
    sheet.append(["李经办", number, "民政经办人员", tree.township.code, "低保专干", "2019-03-01", "2023-12-31"])
    out = io.BytesIO()
    workbook.save(out)
    out.seek(0)
    out.name = "名单.xlsx"
    response = client.post(reverse("integrity:staff_list"), {"file": out})
    assert response.status_code == 302
    member = StaffMember.objects.get()
    assert member.id_number == number and member.to_date == dt.date(2023, 12, 31)
