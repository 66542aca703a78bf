"""Printable documents: notices, the township publicity list, certificates (PDF) and the application form page."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pypdf
import pytest
from django.test import Client
from django.urls import reverse

from doudi.cases import documents, services
from doudi.cases.models import Publicity, Recipient
from doudi.cases.tests.conftest import (
    ALL_DIBAO_DOCS,
    D0,
    complete,
    draw_and_visit,
    intake,
    publicise,
    to_county_approval_2021,
    version,
    visit,
)
from doudi.core.errors import ApplicationError
from doudi.testing.fixtures import make_household


@pytest.fixture
def client_for(users: Any) -> Any:
    def build(role_name: str) -> Client:
        client = Client()
        client.force_login(getattr(users, role_name))
        return client

    return build


@pytest.fixture(autouse=True)
def _fresh_font_choice() -> Any:
    documents._resolve_font.cache_clear()
    yield
    documents._resolve_font.cache_clear()


def pdf_text(content: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def embedded_fonts(content: bytes) -> list[str]:
    """Base names of the fonts whose program is inside the file (FontFile / FontFile2 / FontFile3)."""
    reader = pypdf.PdfReader(io.BytesIO(content))
    names = []
    for page in reader.pages:
        fonts = page["/Resources"].get_object().get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            candidates = [font, *[d.get_object() for d in font.get("/DescendantFonts", [])]]
            for f in candidates:
                descriptor = f.get("/FontDescriptor")
                if descriptor is None:
                    continue
                descriptor = descriptor.get_object()
                if any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                    names.append(str(f.get("/BaseFont")))
    return names


def assert_pdf_download(response: Any) -> bytes:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"].startswith("attachment")
    content = response.content
    assert content.startswith(b"%PDF-")
    return content


def approved_dibao(actors: Any, household: Any) -> Any:
    app = intake(actors, household)
    day = to_county_approval_2021(actors, app)
    draw_and_visit(actors, app, day)
    complete(actors.ca, app, "county_approval", day + dt.timedelta(days=1), comment="同意")
    app.refresh_from_db()
    return app


def refused_dibao(actors: Any, household: Any) -> Any:
    app = intake(actors, household)
    day = to_county_approval_2021(actors, app)
    services.application_refuse(
        scope=actors.ca,
        application_id=app.pk,
        version=version(app),
        step_code="county_approval",
        reasons=["家庭月人均收入高于当地最低生活保障标准", "申请人有赡养义务人且有赡养能力"],
        today=day + dt.timedelta(days=1),
    )
    app.refresh_from_db()
    return app


def to_publicity(actors: Any, app: Any, start: dt.date) -> Publicity:
    complete(actors.tr, app, "acceptance", D0)
    visit(actors.tr, app, D0 + dt.timedelta(days=1))
    complete(actors.tr, app, "investigation", D0 + dt.timedelta(days=1))
    complete(actors.cv, app, "verification", D0 + dt.timedelta(days=2), payload={"result": "pass"})
    services.step_skip(
        scope=actors.tr,
        application_id=app.pk,
        version=version(app),
        step_code="democratic_review",
        reason="无异议",
        today=D0 + dt.timedelta(days=2),
    )
    complete(actors.tr, app, "township_opinion", D0 + dt.timedelta(days=2), payload={"recommend": True})
    return publicise(actors.tr, app, "publicity", start)


# --- notices ---------------------------------------------------------------------------------------------------


def test_the_approval_notice_names_the_applicant_the_amount_and_the_office_with_an_embedded_font(
    actors, household, client_for
):
    app = approved_dibao(actors, household)
    decision = app.decision
    response = client_for("county_approver").get(reverse("cases:notice_pdf", args=[app.pk]))
    content = assert_pdf_download(response)
    text = pdf_text(content)
    assert "最低生活保障批准通知书" in text
    assert "王大山" in text
    assert f"{decision.amount:.2f}" in text
    assert "2021年10月" in text  # from the month after the decision
    assert "五指山市民政局" in text
    assert "最低生活保障审核确认办法" in text
    assert household.head.id_number not in text
    fonts = embedded_fonts(content)
    assert fonts and all("+" in name for name in fonts)  # a subset of the CJK TrueType font travels in the file
    assert documents.pdf_font().embedded


def test_the_refusal_notice_gives_the_written_reasons_the_legal_basis_and_the_right_of_appeal(
    actors, household, client_for
):
    app = refused_dibao(actors, household)
    content = assert_pdf_download(client_for("township_reviewer").get(reverse("cases:notice_pdf", args=[app.pk])))
    text = pdf_text(content).replace("\n", "")
    assert "最低生活保障不予批准通知书" in text
    assert "王大山" in text
    assert "家庭月人均收入高于当地最低生活保障标准" in text
    assert "申请人有赡养义务人且有赡养能力" in text
    assert "依据" in text and "社会救助暂行办法" in text
    assert "六十日内向五指山市人民政府申请行政复议" in text
    assert "六个月内依法向人民法院提起行政诉讼" in text


def test_a_case_without_a_decision_has_no_notice(actors, household, client_for):
    app = intake(actors, household)
    assert client_for("county_approver").get(reverse("cases:notice_pdf", args=[app.pk])).status_code == 404


def test_notices_are_refused_outside_the_region_and_to_supervisors(actors, household, client_for):
    app = refused_dibao(actors, household)
    url = reverse("cases:notice_pdf", args=[app.pk])
    assert client_for("outsider").get(url).status_code == 404
    assert client_for("supervisor").get(url).status_code == 403
    assert Client().get(url).status_code == 302  # login first


def test_an_act_first_notice_states_the_one_off_amount_and_the_township_office(actors, household, client_for):
    app = services.temporary_assistance_act_first(
        scope=actors.tr,
        household_id=household.pk,
        applicant_id=household.head_id,
        amount="500",
        reason="住房失火",
        paid_on=D0,
        today=D0,
    )
    text = pdf_text(
        assert_pdf_download(client_for("township_reviewer").get(reverse("cases:notice_pdf", args=[app.pk])))
    )
    text = text.replace("\n", "")
    assert "临时救助批准通知书" in text
    assert "（先行救助）500.00元（一次性发放）" in text
    assert "测试镇人民政府" in text
    assert "民发〔2018〕23号" in text


# --- publicity list --------------------------------------------------------------------------------------------


def test_the_publicity_list_shows_every_case_of_the_township_publicised_that_day_without_id_numbers(
    tree, actors, household, client_for
):
    start = D0 + dt.timedelta(days=3)
    second = make_household(actors.ad, tree.village2, members=3, head_name="李四海")
    later = make_household(actors.ad, tree.village2, members=1, head_name="赵晚公")
    first_pub = to_publicity(actors, intake(actors, household), start)
    to_publicity(actors, intake(actors, second, scope=actors.tr), start)
    to_publicity(actors, intake(actors, later, scope=actors.tr), start + dt.timedelta(days=1))

    content = assert_pdf_download(
        client_for("township_reviewer").get(reverse("cases:publicity_pdf", args=[first_pub.pk]))
    )
    text = pdf_text(content)
    assert "测试镇最低生活保障审核公示名单" in text
    assert "王大山" in text and "李四海" in text
    assert "赵晚公" not in text  # another day's publicity is another list
    assert "甲村" in text and "乙村" in text
    assert "2021年9月4日" in text and "2021年9月10日" in text
    for hh in (household, second):
        for membership in hh.memberships.all():
            assert membership.person.id_number not in text
    assert "共2户" in text


def test_a_village_worker_sees_only_the_cases_of_their_village_on_the_list(tree, actors, household, client_for):
    start = D0 + dt.timedelta(days=3)
    second = make_household(actors.ad, tree.village2, members=3, head_name="李四海")
    first_pub = to_publicity(actors, intake(actors, household), start)
    second_pub = to_publicity(actors, intake(actors, second, scope=actors.tr), start)
    text = pdf_text(client_for("village_worker").get(reverse("cases:publicity_pdf", args=[first_pub.pk])).content)
    assert "王大山" in text and "李四海" not in text
    assert client_for("village_worker").get(reverse("cases:publicity_pdf", args=[second_pub.pk])).status_code == 404
    assert client_for("outsider").get(reverse("cases:publicity_pdf", args=[first_pub.pk])).status_code == 404
    assert client_for("supervisor").get(reverse("cases:publicity_pdf", args=[first_pub.pk])).status_code == 403


def test_the_printed_publicity_list_leaves_out_confidential_households(tree, actors, household, client_for):
    """The notice-board list applies the portal's exclusions (docs/portal.md §2): a household with a member living
    with HIV is not printed, the others are."""
    from doudi.registry.models import Person

    start = D0 + dt.timedelta(days=3)
    second = make_household(actors.ad, tree.village2, members=3, head_name="李四海")
    first_pub = to_publicity(actors, intake(actors, household), start)
    to_publicity(actors, intake(actors, second, scope=actors.tr), start)
    Person.objects.filter(memberships__household=second).update(hiv=True)  # as an officer would record it
    text = pdf_text(client_for("township_reviewer").get(reverse("cases:publicity_pdf", args=[first_pub.pk])).content)
    assert "王大山" in text and "李四海" not in text
    assert "共1户" in text


# --- certificate -----------------------------------------------------------------------------------------------


def test_the_dibao_certificate_carries_number_head_members_amount_start_month_office_and_date(
    actors, household, client_for
):
    app = approved_dibao(actors, household)
    recipient = Recipient.objects.get(application=app)
    url = reverse("cases:certificate_pdf", args=[recipient.pk])
    text = pdf_text(assert_pdf_download(client_for("county_approver").get(url)))
    assert "最低生活保障证" in text
    assert f"469001DB{recipient.pk:08d}" in text
    assert "王大山" in text
    assert "2人" in text
    assert f"{recipient.monthly_amount:.2f}元" in text
    assert "2021年10月" in text
    assert "五指山市民政局" in text
    assert "2021年9月12日" in text
    assert client_for("outsider").get(url).status_code == 404
    assert client_for("supervisor").get(url).status_code == 403


def test_the_tekun_certificate_names_the_supported_person(actors, household, client_for):
    docs = dict.fromkeys((*ALL_DIBAO_DOCS, "self_care_assessment"), True)
    app = intake(actors, household, program="tekun", subject_person_id=household.head_id, documents=docs)
    day = to_county_approval_2021(actors, app)
    draw_and_visit(actors, app, day, program="tekun")
    try:
        complete(actors.ca, app, "county_approval", day + dt.timedelta(days=1))
    except ApplicationError as exc:  # the rules lack tekun inputs: the staff-assessed amount applies
        assert exc.code == "amount_required"
        complete(actors.ca, app, "county_approval", day + dt.timedelta(days=1), payload={"amount": "700"})
    recipient = Recipient.objects.get(application=app)
    url = reverse("cases:certificate_pdf", args=[recipient.pk])
    text = pdf_text(assert_pdf_download(client_for("township_reviewer").get(url)))
    assert "特困人员救助供养证" in text
    assert f"469001TK{recipient.pk:08d}" in text
    assert "供养对象" in text and "王大山" in text and "1人" in text


# --- fonts -----------------------------------------------------------------------------------------------------


def test_a_configured_font_path_is_used(settings):
    settings.DOUDI_PDF_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
    font = documents.pdf_font()
    assert font.embedded and font.path == settings.DOUDI_PDF_FONT


def test_without_any_cjk_font_the_builtin_cid_font_keeps_pdfs_working(actors, household, client_for, settings, caplog):
    settings.DOUDI_PDF_FONT = "/nonexistent/font.ttf"
    app = refused_dibao(actors, household)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(documents, "FONT_CANDIDATES", ())
        response = client_for("county_approver").get(reverse("cases:notice_pdf", args=[app.pk]))
    content = assert_pdf_download(response)
    assert b"STSong-Light" in content
    assert "No CJK TrueType font found" in caplog.text


# --- application form ------------------------------------------------------------------------------------------


def test_the_application_form_is_prefilled_from_the_household(household, client_for):
    url = reverse("cases:application_form") + f"?household={household.pk}"
    response = client_for("village_worker").get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert "社会救助申请审批表" in body
    for membership in household.memberships.all():
        assert membership.person.name in body
        assert membership.person.id_number in body
    assert household.number in body
    assert 'id="application-form"' in body and "window.print()" in body
    assert "@media print" in body


def test_the_blank_application_form_and_its_refusals(other_household, household, client_for):
    response = client_for("township_reviewer").get(reverse("cases:application_form"))
    assert response.status_code == 200
    assert 'name="member_name"' in response.content.decode()
    assert household.head.name not in response.content.decode()
    url = reverse("cases:application_form") + f"?household={other_household.pk}"
    assert client_for("county_approver").get(url).status_code == 404
    assert client_for("county_approver").get(reverse("cases:application_form") + "?household=x").status_code == 404
    assert client_for("supervisor").get(reverse("cases:application_form")).status_code == 403


@pytest.fixture
def other_household(tree: Any, users: Any) -> Any:
    from doudi.core.scope import scope_for

    return make_household(scope_for(users.outsider), tree.other_village, members=1, head_name="外县人")
