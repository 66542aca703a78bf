"""Issue 4, "done when": a dibao, a tekun and a temporary-assistance case taken from intake to payment in the
browser, each role on its own logged-in page, clicking the forms of the case page and the payroll pages.

The procedure has real time limits (a 7-day publicity), so the case is received 40 days ago and every step is
entered with its actual (back-dated) date through the forms' 办理日期 field, as staff do when catching up.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from typing import Any

from django.utils import timezone
from playwright.sync_api import expect

from doudi.core.scope import scope_for
from doudi.testing.fixtures import make_household

COUNTY = "469001000000"
DIBAO_DOCS = ("application_form", "id_card", "hukou_book", "income_proof", "authorisation")
TEKUN_DOCS = (*DIBAO_DOCS, "self_care_assessment")
TA_DOCS = ("application_form", "id_card", "hardship_proof")


# --- page helpers -------------------------------------------------------------------------------------------------


def problems(page: Any) -> str:
    """The error texts a page shows (field errors, form errors, error messages), for assertion messages."""
    texts = page.locator(".field .error, .form-errors, .msg.error, .error-page").all_inner_texts()
    return " | ".join(t.strip() for t in texts if t.strip()) or page.title()


def submit(page: Any, selector: str) -> None:
    """Click a submit button and wait for the page the server answers with (a redirect after success)."""
    with page.expect_navigation():
        page.locator(selector).click()


def set_value(page: Any, selector: str, value: Any) -> None:
    element = page.locator(selector)
    tag = element.evaluate("e => e.tagName.toLowerCase()")
    if tag == "select":
        element.select_option(str(value))
    elif element.get_attribute("type") == "checkbox":
        element.set_checked(bool(value))
    else:
        element.fill(value.isoformat() if isinstance(value, dt.date) else str(value))


def case_page(page: Any, case_id: int) -> None:
    page.goto(f"/cases/{case_id}/")
    expect(page.locator("#case-id")).to_have_text(str(case_id))


def step_status(page: Any, code: str) -> str:
    return str(page.locator(f"#step-{code}").get_attribute("data-status"))


def complete_step(page: Any, case_id: int, code: str, on: dt.date, **fields: Any) -> None:
    case_page(page, case_id)
    assert page.locator("#step-complete-form").count() == 1, f"{code}: no completion form ({problems(page)})"
    for name, value in fields.items():
        set_value(page, f"#complete_{name}", value)
    set_value(page, "#complete_acted_on", on)
    submit(page, "#step-complete-submit")
    assert step_status(page, code) == "done", f"{code}: {problems(page)}"


def skip_step(page: Any, case_id: int, code: str, on: dt.date, reason: str) -> None:
    case_page(page, case_id)
    set_value(page, "#skip_reason", reason)
    set_value(page, "#skip_acted_on", on)
    submit(page, "#step-skip-submit")
    assert step_status(page, code) == "skipped", f"{code}: {problems(page)}"


def home_visit(page: Any, case_id: int, on: dt.date, level: str) -> None:
    case_page(page, case_id)
    set_value(page, "#visit_level", level)
    set_value(page, "#visit_visited_on", on)
    set_value(page, "#visit_investigators", "张调查、李调查")
    set_value(page, "#visit_members_present", "户主")
    set_value(page, "#visit_findings", "家庭情况与申报一致")
    submit(page, "#home-visit-submit")
    assert page.locator("#home-visits .history > li").count() >= 1, problems(page)


def start_publicity(page: Any, case_id: int, start: dt.date) -> None:
    case_page(page, case_id)
    set_value(page, "#publicity_start_date", start)
    set_value(page, "#publicity_place", "村务公开栏")
    submit(page, "#publicity-submit")
    expect(page.locator("#publicity .publicity")).to_have_count(1)


def intake(page: Any, household_id: int, program: str, received: dt.date, docs: tuple[str, ...], **extra: Any) -> int:
    """From the household page: 发起申请 → the program → the intake form → the new case page; returns the case id."""
    page.goto(f"/households/{household_id}/")
    with page.expect_navigation():
        page.locator("#application-new-link").click()
    if page.locator("#program-choice").count():  # first the program, then the program's own form
        set_value(page, "#program-choice", program)
        submit(page, "#program-next")
    if page.locator("#id_program:not([type=hidden])").count():
        set_value(page, "#id_program", program)
    set_value(page, "#id_received_on", received)
    for code in docs:
        page.locator(f"input[name=documents][value={code}]").check()
    set_value(page, "#id_verification_authorised", True)
    set_value(page, "#id_authorised_on", received)
    for name, value in extra.items():
        set_value(page, f"#id_{name}", value)
    submit(page, "#application-submit")
    assert "/cases/" in page.url, problems(page)
    return int(page.locator("#case-id").inner_text())


def draw_spot_check(page: Any, program: str) -> None:
    page.goto("/cases/spot-checks/")
    set_value(page, "#id_program", program)
    if page.locator("#id_county_code").count():
        set_value(page, "#id_county_code", COUNTY)
    with page.expect_navigation():
        page.get_by_role("button", name="抽取样本").click()
    assert page.locator(".msg.success").count() == 1, problems(page)


def county_approval(page: Any, case_id: int, on: dt.date, program: str) -> None:
    """The spot-check draw, the county visit when the case was sampled (or must be visited), then the approval;
    the staff-assessed amount is filled in only when the rules cannot compute one."""
    draw_spot_check(page, program)
    case_page(page, case_id)
    if page.locator("#spot-check-status .badge.red").count():
        home_visit(page, case_id, on, "county")
    case_page(page, case_id)
    set_value(page, "#complete_acted_on", on)
    set_value(page, "#complete_comment", "同意")
    submit(page, "#step-complete-submit")
    if page.locator("#complete_amount_error").count():  # no rules amount: the staff-assessed amount is asked for
        set_value(page, "#complete_amount", "700")
        set_value(page, "#complete_acted_on", on)
        submit(page, "#step-complete-submit")
    assert step_status(page, "county_approval") == "done", f"county_approval: {problems(page)}"


def walk_to_decision(pages: dict[str, Any], case_id: int, received: dt.date, program: str) -> dt.date:
    """A 2021 dibao / tekun case from acceptance to the county's approval; returns the decision date."""
    tr, cv, ca = pages["tr"], pages["cv"], pages["ca"]
    complete_step(tr, case_id, "acceptance", received)
    home_visit(tr, case_id, received + dt.timedelta(days=1), "township")
    complete_step(tr, case_id, "investigation", received + dt.timedelta(days=1))
    complete_step(cv, case_id, "verification", received + dt.timedelta(days=2), result="pass")
    skip_step(tr, case_id, "democratic_review", received + dt.timedelta(days=2), "公示前无异议，不再组织民主评议")
    complete_step(tr, case_id, "township_opinion", received + dt.timedelta(days=2), recommend="1")
    start_publicity(tr, case_id, received + dt.timedelta(days=3))
    complete_step(tr, case_id, "publicity", received + dt.timedelta(days=10))
    decided = received + dt.timedelta(days=11)
    county_approval(ca, case_id, decided, program)
    return decided


def assert_approved_with_notice(page: Any, case_id: int) -> str:
    """The case page shows the approval; the notice downloads as a PDF. Returns the amount shown."""
    case_page(page, case_id)
    expect(page.locator("#case-status")).to_contain_text("已批准")
    amount = page.locator("#decision-amount").inner_text()
    download_pdf(page, page.locator("#notice-link"))
    return amount


def download_pdf(page: Any, link: Any) -> None:
    with page.expect_download() as download:
        link.click()
    with open(download.value.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"


def register_account(page: Any, household_id: int, owner: str = "") -> None:
    page.goto(f"/payments/accounts/{household_id}/")
    if owner:
        set_value(page, "#id_owner", owner)
    set_value(page, "#id_bank_code", "HNRCU")
    set_value(page, "#id_bank_name", "海南农信")
    set_value(page, "#id_account_number", "6230580000012345678")
    set_value(page, "#id_holder_name", "王大山")
    with page.expect_navigation():
        page.get_by_role("button", name="保存账户").click()
    assert page.locator(".msg.success").count() == 1, problems(page)


def pay(page: Any, program: str, month: dt.date, amount: str) -> None:
    """Generate the month's payroll, approve it, write and download the bank files (a zip of one CSV per bank)."""
    page.goto("/payments/")
    set_value(page, "#id_county_code", COUNTY)
    set_value(page, "#id_program", program)
    set_value(page, "#id_month", month.strftime("%Y-%m"))
    with page.expect_navigation():
        page.get_by_role("button", name="生成名册").click()
    assert re.search(r"/payments/\d+/$", page.url), problems(page)
    with page.expect_navigation():
        page.get_by_role("button", name="审批名册").click()
    assert page.locator(".msg.success").count() == 1, problems(page)
    if page.locator("#bank-files-export").count():  # write the next batch (a POST), then download it
        submit(page, "#bank-files-export")
        assert page.locator(".msg.success").count() == 1, problems(page)
        link = page.locator("#bank-files a", has_text="CSV").first
    else:
        link = page.get_by_role("link", name="下载银行文件（CSV）")
    with page.expect_download() as download:
        link.click()
    with open(download.value.path(), "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    text = "".join(archive.read(name).decode("utf-8-sig") for name in archive.namelist())
    assert archive.namelist() and amount.replace(",", "") in text, text


def month_after(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def yuan(text: str) -> str:
    """ "1,234.50 元" → "1234.50"."""
    match = re.search(r"[\d,]+\.\d{2}", text)
    assert match, text
    return match.group(0).replace(",", "")


# --- the flows ----------------------------------------------------------------------------------------------------


def roles(open_as: Any) -> dict[str, Any]:
    return {
        "vw": open_as("village_worker"),
        "tr": open_as("township_reviewer"),
        "cv": open_as("county_verifier"),
        "ca": open_as("county_approver"),
    }


def test_the_household_page_leads_to_the_application_and_the_printable_form(open_as, tree, users):
    household = make_household(scope_for(users.admin), tree.village, members=2, head_name="王大山")
    page = open_as("village_worker")
    page.goto(f"/households/{household.pk}/")
    expect(page.locator("main")).to_contain_text("王大山")
    page.goto(f"/cases/form/?household={household.pk}")
    expect(page.locator("#members input[name=member_name]").first).to_have_value("王大山")
    page.locator("textarea[name=reasons]").fill("因病致贫，无力维持基本生活")  # fillable on screen
    expect(page.locator("textarea[name=reasons]")).to_have_value("因病致贫，无力维持基本生活")


def test_a_dibao_case_goes_from_intake_to_the_bank_file(open_as, tree, users):
    household = make_household(scope_for(users.admin), tree.village, members=2, head_name="王大山")
    pages = roles(open_as)
    received = timezone.localdate() - dt.timedelta(days=40)
    case_id = intake(pages["vw"], household.pk, "dibao", received, DIBAO_DOCS)
    decided = walk_to_decision(pages, case_id, received, "dibao")
    complete_step(pages["ca"], case_id, "notice", decided + dt.timedelta(days=1), delivered_on=decided)
    amount = yuan(assert_approved_with_notice(pages["ca"], case_id))
    case_page(pages["tr"], case_id)
    download_pdf(pages["tr"], pages["tr"].locator("#publicity a", has_text="公示名单"))
    register_account(pages["vw"], household.pk)
    pay(pages["ca"], "dibao", month_after(decided), amount)


def test_a_tekun_case_goes_from_intake_to_the_bank_file(open_as, tree, users):
    household = make_household(scope_for(users.admin), tree.village, members=1, head_name="王大山")
    pages = roles(open_as)
    received = timezone.localdate() - dt.timedelta(days=40)
    case_id = intake(pages["vw"], household.pk, "tekun", received, TEKUN_DOCS, subject_person_id=str(household.head_id))
    decided = walk_to_decision(pages, case_id, received, "tekun")
    complete_step(pages["tr"], case_id, "notice", decided + dt.timedelta(days=1), delivered_on=decided)
    amount = yuan(assert_approved_with_notice(pages["ca"], case_id))
    register_account(pages["vw"], household.pk)
    pay(pages["ca"], "tekun", month_after(decided), amount)


def test_temporary_assistance_is_paid_first_and_its_record_completed(open_as, tree, users):
    household = make_household(scope_for(users.admin), tree.village, members=3, head_name="王大山")
    tr = open_as("township_reviewer")
    tr.goto(f"/households/{household.pk}/")
    with tr.expect_navigation():
        tr.locator("#act-first-link").click()
    set_value(tr, "#id_amount", "500")
    set_value(tr, "#id_reason", "住房失火，基本生活暂时困难")
    for code in TA_DOCS:
        tr.locator(f"input[name=documents][value={code}]").check()
    submit(tr, "#act-first-submit")
    assert "/cases/" in tr.url, problems(tr)
    case_id = int(tr.locator("#case-id").inner_text())
    expect(tr.locator("#decision-outcome")).to_contain_text("先行救助")
    assert yuan(tr.locator("#decision-amount").inner_text()) == "500.00"
    complete_step(tr, case_id, "record_completion", timezone.localdate(), comment="材料已补齐")
    expect(tr.locator("#current-step")).to_have_text("已办结")
    assert_approved_with_notice(tr, case_id)


def test_temporary_assistance_through_the_normal_procedure_is_paid_in_the_month_payroll(open_as, tree, users):
    household = make_household(scope_for(users.admin), tree.village, members=3, head_name="王大山")
    pages = roles(open_as)
    tr = pages["tr"]
    received = timezone.localdate() - dt.timedelta(days=20)
    case_id = intake(
        pages["vw"],
        household.pk,
        "temporary_assistance",
        received,
        TA_DOCS,
        request_type="expense",
        request_persons="3",
        request_months="2",
        request_expense="3000",
        request_reason="子女重病住院，医疗费用支出大",
    )
    complete_step(tr, case_id, "acceptance", received)
    home_visit(tr, case_id, received + dt.timedelta(days=1), "township")
    complete_step(tr, case_id, "investigation", received + dt.timedelta(days=1))
    complete_step(pages["cv"], case_id, "verification", received + dt.timedelta(days=2), result="pass")
    complete_step(tr, case_id, "township_opinion", received + dt.timedelta(days=2), amount="1200")
    start_publicity(tr, case_id, received + dt.timedelta(days=3))
    complete_step(tr, case_id, "publicity", received + dt.timedelta(days=10))
    decided = received + dt.timedelta(days=11)
    complete_step(tr, case_id, "approval", decided)  # within the township's ceiling: the township approves
    assert yuan(assert_approved_with_notice(tr, case_id)) == "1200.00"
    register_account(pages["vw"], household.pk)
    # one-off help is paid in the county's payroll of the month of the decision
    pay(pages["ca"], "temporary_assistance", decided.replace(day=1), "1200.00")
