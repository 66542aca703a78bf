"""Printable documents as PDF (reportlab): the approval and refusal notices of a decided case, the publicity list of
a township, and the 低保证 / 特困人员救助供养证 of a recipient (docs/documents.md).

Chinese text needs a CJK font. `settings.DOUDI_PDF_FONT` (a .ttf/.ttc path) wins; otherwise the first installed of
WenQuanYi Micro Hei / Zen Hei (Debian `fonts-wqy-microhei`, installed by `.ci/run`) is embedded (subset). Noto CJK
files are tried too but reportlab cannot embed their CFF outlines, so they are skipped when it refuses them. With no
usable font the built-in CID font STSong-Light is used (not embedded: the reader supplies the glyphs) and a warning
is logged, so a PDF is always produced.

Every read goes through the scoped selectors: a record outside the caller's region is `not_found`, a supervisor is
refused by `require_personal`.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, ParamSpec
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import translation
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4, A5, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from doudi.cases import disclosure, selectors
from doudi.cases.choices import (
    ONE_OFF_PROGRAMS,
    PERSONAL_PROGRAMS,
    CaseKind,
    Level,
    Outcome,
    Program,
    PublicityStage,
    RuleSet,
)
from doudi.cases.models import Application, CaseStep, Decision, Publicity, Recipient
from doudi.core.errors import NotFound
from doudi.core.models import Region
from doudi.core.scope import Scope
from doudi.registry.selectors import HouseholdDetail

logger = logging.getLogger(__name__)
P = ParamSpec("P")

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
)
FALLBACK_CID_FONT = "STSong-Light"
CERTIFICATE_PROGRAMS = {Program.DIBAO: "最低生活保障证", Program.TEKUN: "特困人员救助供养证"}

# The legal basis printed on notices, by program and rule set (docs/documents.md lists the sources).
LEGAL_BASIS: dict[str, dict[str, str]] = {
    Program.DIBAO: {
        RuleSet.R2012: "《社会救助暂行办法》《最低生活保障审核审批办法（试行）》（民发〔2012〕220号）",
        RuleSet.R2021: "《社会救助暂行办法》《最低生活保障审核确认办法》（民发〔2021〕57号）",
    },
    Program.TEKUN: {
        RuleSet.R2012: "《社会救助暂行办法》《国务院关于进一步健全特困人员救助供养制度的意见》（国发〔2016〕14号）"
        "《特困人员认定办法》（民发〔2016〕178号）",
        RuleSet.R2021: "《社会救助暂行办法》《特困人员认定办法》（民发〔2021〕43号）",
    },
    Program.TEMPORARY_ASSISTANCE: {
        "": "《社会救助暂行办法》《国务院关于全面建立临时救助制度的通知》（国发〔2014〕47号）"
        "《关于进一步加强和改进临时救助工作的意见》（民发〔2018〕23号）",
    },
    Program.DISABILITY_LIVING: {
        "": "《国务院关于全面建立困难残疾人生活补贴和重度残疾人护理补贴制度的意见》（国发〔2015〕52号）",
    },
    Program.DISABILITY_NURSING: {
        "": "《国务院关于全面建立困难残疾人生活补贴和重度残疾人护理补贴制度的意见》（国发〔2015〕52号）",
    },
    Program.FUNERAL: {"": "《殡葬管理条例》及本地惠民殡葬政策"},
}


# --- fonts ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PdfFont:
    name: str
    embedded: bool
    path: str = ""


def _try_ttf(path: str) -> PdfFont | None:
    file = Path(path)
    if not file.is_file():
        return None
    name = "DoudiCJK-" + file.stem
    try:
        if name not in pdfmetrics.getRegisteredFontNames():
            kwargs: dict[str, Any] = {"subfontIndex": 0} if file.suffix.lower() == ".ttc" else {}
            pdfmetrics.registerFont(TTFont(name, str(file), **kwargs))
    except (TTFError, OSError) as exc:
        logger.info("PDF font %s not usable: %s", path, exc)
        return None
    return PdfFont(name=name, embedded=True, path=str(file))


@functools.lru_cache(maxsize=4)
def _resolve_font(configured: str) -> PdfFont:
    candidates = ([configured] if configured else []) + list(FONT_CANDIDATES)
    for path in candidates:
        font = _try_ttf(path)
        if font is not None:
            return font
    logger.warning(
        "No CJK TrueType font found (set DOUDI_PDF_FONT or install fonts-wqy-microhei): "
        "PDFs use the non-embedded %s font",
        FALLBACK_CID_FONT,
    )
    if FALLBACK_CID_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_CID_FONT))
    return PdfFont(name=FALLBACK_CID_FONT, embedded=False)


def pdf_font() -> PdfFont:
    return _resolve_font(str(getattr(settings, "DOUDI_PDF_FONT", "") or ""))


# --- layout helpers ------------------------------------------------------------------------------------------


def official_chinese(build: Callable[P, bytes]) -> Callable[P, bytes]:
    """Official documents are issued in Chinese whatever language the user's screen is in."""

    @functools.wraps(build)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> bytes:
        with translation.override(settings.LANGUAGE_CODE):
            return build(*args, **kwargs)

    return wrapper


def _styles(font: str) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=font, fontSize=11.5, leading=20, wordWrap="CJK", firstLineIndent=23)
    return {
        "office": ParagraphStyle("office", parent=base, fontSize=13, alignment=TA_CENTER, firstLineIndent=0),
        "title": ParagraphStyle(
            "title", parent=base, fontSize=20, leading=30, alignment=TA_CENTER, firstLineIndent=0, spaceAfter=4
        ),
        "number": ParagraphStyle("number", parent=base, fontSize=10.5, alignment=TA_CENTER, firstLineIndent=0),
        "body": base,
        "plain": ParagraphStyle("plain", parent=base, firstLineIndent=0),
        "item": ParagraphStyle("item", parent=base, firstLineIndent=0, leftIndent=23),
        "sign": ParagraphStyle("sign", parent=base, alignment=TA_RIGHT, firstLineIndent=0),
        "cell": ParagraphStyle("cell", parent=base, fontSize=10.5, leading=15, firstLineIndent=0),
        "small": ParagraphStyle("small", parent=base, fontSize=9, leading=14, firstLineIndent=0),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text (escaped: names and reasons are user input, not markup)."""
    return Paragraph(escape(text), style)


def _build(story: Sequence[Flowable], *, title: str, pagesize: tuple[float, float] = A4) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=22 * mm,
        rightMargin=22 * mm,
        topMargin=20 * mm,
        bottomMargin=18 * mm,
        title=title,
        author="兜底 · 社会救助管理系统",
        creator="doudi",
    )
    doc.build(list(story))
    return buffer.getvalue()


def cn_date(value: dt.date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def cn_month(value: dt.date) -> str:
    return f"{value.year}年{value.month}月"


def money(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _ancestor(region: Region, level: str) -> Region | None:
    current: Region | None = region
    while current is not None and current.level != level:
        current = current.parent
    return current


def _office(village: Region, level: str) -> str:
    """The issuing office: the county civil-affairs bureau, or the township government for a township decision."""
    if level == Level.TOWNSHIP:
        township = _ancestor(village, "township")
        if township is not None:
            return f"{township.name}人民政府"
    county = _ancestor(village, "county")
    return f"{county.name if county else ''}民政局"


def _county_government(village: Region) -> str:
    county = _ancestor(village, "county")
    name = county.name if county else ""
    return f"{name}人民政府" if name else "县级人民政府"


def legal_basis(program: str, rule_set: str) -> str:
    table = LEGAL_BASIS.get(program, {})
    return table.get(rule_set) or table.get("") or "《社会救助暂行办法》"


def _subject_name(app: Application) -> str:
    person = app.subject_person if app.program in PERSONAL_PROGRAMS and app.subject_person else app.applicant
    return person.name


# --- notices -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    application: Application
    decision: Decision
    step: CaseStep | None
    members: int
    failed_tests: list[str]

    @property
    def approved(self) -> bool:
        return self.decision.outcome == Outcome.APPROVED

    @property
    def office(self) -> str:
        return _office(self.application.region, self.step.level if self.step else Level.COUNTY)


def notice_data(*, scope: Scope, application_id: int) -> Notice:
    decision = selectors.application_decision(scope=scope, application_id=application_id)
    app = selectors.application_get(scope=scope, application_id=application_id)
    step = selectors.deciding_step(scope=scope, application_id=application_id)
    members = selectors.household_sizes(scope=scope, household_ids=[app.household_id]).get(app.household_id, 0)
    output = decision.determination.output or {}
    labels = {t.get("name"): t.get("label") for t in output.get("trace", []) if isinstance(t, dict)}
    failed = [str(labels.get(name) or name) for name in output.get("failed_tests", [])]
    return Notice(application=app, decision=decision, step=step, members=members, failed_tests=failed)


def notice_title(notice: Notice) -> str:
    program = Program(notice.application.program).label
    return f"{program}{'批准' if notice.approved else '不予批准'}通知书"


@official_chinese
def notice_pdf(*, scope: Scope, application_id: int) -> bytes:
    notice = notice_data(scope=scope, application_id=application_id)
    app, decision = notice.application, notice.decision
    font = pdf_font()
    s = _styles(font.name)
    program = Program(app.program).label
    title = notice_title(notice)
    story: list[Flowable] = [
        _p(notice.office, s["office"]),
        _p(title, s["title"]),
        _p(f"编号：{decision.decided_on.year}-{app.pk:06d}", s["number"]),
        Spacer(1, 6 * mm),
        _p(f"{app.applicant.name}：", s["plain"]),
    ]
    applied = (
        f"你（户）于{cn_date(app.received_on)}提出的{program}申请（户编号：{app.household.number}，"
        f"{app.region.name}），"
    )
    if app.kind == CaseKind.RECHECK:
        applied = f"经对你（户）享受{program}情况进行复查（户编号：{app.household.number}，{app.region.name}），"
    subject = _subject_name(app)
    if notice.approved:
        if app.program in ONE_OFF_PROGRAMS:
            how = "（先行救助）" if decision.act_first else ""
            text = (
                f"{applied}经审核，符合条件，决定给予{subject}{program}{how}{money(decision.amount)}元（一次性发放）。"
            )
        else:
            start = cn_month(decision.effective_month) if decision.effective_month else ""
            who = f"救助对象{subject}" if app.program in PERSONAL_PROGRAMS else f"保障人口{notice.members}人"
            text = (
                f"{applied}经审核，符合{program}条件，决定自{start}起给予{program}，{who}，"
                f"月发放金额{money(decision.amount)}元。"
            )
        story.append(_p(text, s["body"]))
        if app.program not in ONE_OFF_PROGRAMS:
            story.append(
                _p(
                    "享受期间，家庭人口、收入和财产状况发生变化的，请及时告知乡镇人民政府（街道办事处），"
                    "并按规定接受定期复查。",
                    s["body"],
                )
            )
    else:
        story.append(_p(f"{applied}经审核，不符合{program}条件，决定不予批准。理由如下：", s["body"]))
        for i, reason in enumerate(decision.reasons or [], start=1):
            story.append(_p(f"{i}. {reason}", s["item"]))
        if notice.failed_tests:
            story.append(_p(f"测算未通过的条件：{'、'.join(notice.failed_tests)}。", s["item"]))
    story.append(_p(f"依据：{legal_basis(app.program, app.rule_set)}。", s["body"]))
    if not notice.approved:
        story.append(
            _p(
                f"如对本决定不服，可以自收到本通知书之日起六十日内向{_county_government(app.region)}申请行政复议，"
                "也可以自收到本通知书之日起六个月内依法向人民法院提起行政诉讼。",
                s["body"],
            )
        )
    story += [
        Spacer(1, 14 * mm),
        _p(f"{notice.office}（盖章）", s["sign"]),
        _p(cn_date(decision.decided_on), s["sign"]),
        Spacer(1, 10 * mm),
        _p("签收人：______________　　签收日期：______________", s["plain"]),
    ]
    return _build(story, title=title)


# --- publicity list ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicityRow:
    village: str
    name: str
    members: int
    amount: Decimal | None


@dataclass(frozen=True)
class PublicityList:
    publicity: Publicity
    township: str
    county: str
    program: str
    rows: list[PublicityRow]


def _step_amount(steps: Sequence[CaseStep]) -> Decimal | None:
    for step in reversed(steps):
        for key in ("amount", "proposed_amount"):
            raw = (step.payload or {}).get(key)
            if raw not in (None, ""):
                try:
                    return Decimal(str(raw))
                except ArithmeticError:
                    continue
    return None


def _estimate(app: Application, as_of: dt.date) -> Decimal | None:
    """The monthly amount the rules would give today (not stored): the figure a dibao publicity proposes."""
    from doudi.cases import rules_input
    from doudi.cases.services import RULES_PROGRAM
    from doudi.policy.selectors import current_parameter_set
    from doudi.rules import PROGRAMS, RulesInputError, evaluate

    rules_program = RULES_PROGRAM.get(app.program, app.program)
    if rules_program not in PROGRAMS:
        return None
    try:
        case = rules_input.household_case(app.household, as_of=as_of)
        det = evaluate(rules_program, case, current_parameter_set())
    except RulesInputError:
        return None
    return None if det.monthly_amount is None else Decimal(str(det.monthly_amount))


def proposed_amount(*, scope: Scope, app: Application, as_of: dt.date) -> Decimal | None:
    """Decided amount, else the amount proposed in a step (township opinion), else the request, else the rules."""
    try:
        return selectors.application_decision(scope=scope, application_id=app.pk).amount
    except NotFound:
        pass
    amount = _step_amount(selectors.application_steps(scope=scope, application_id=app.pk))
    if amount is not None:
        return amount
    raw = (app.request or {}).get("proposed_amount")
    if raw not in (None, ""):
        return Decimal(str(raw))
    return _estimate(app, as_of)


def publicity_data(*, scope: Scope, publicity_id: int) -> PublicityList:
    cohort = selectors.publicity_cohort(scope=scope, publicity_id=publicity_id)
    publicity = next(p for p in cohort if p.pk == publicity_id)
    # The printed list goes on the village notice board: the portal's exclusions apply (minors, HIV/AIDS,
    # protection orders, officer-marked persons and their households; docs/portal.md §2), so paper and portal agree.
    shown = disclosure.publishable_application_ids(
        application_ids=[p.application_id for p in cohort], on=publicity.start_date
    )
    cohort = [p for p in cohort if p.application_id in shown]
    village = publicity.application.region
    township = _ancestor(village, "township")
    county = _ancestor(village, "county")
    sizes = selectors.household_sizes(scope=scope, household_ids=[p.application.household_id for p in cohort])
    rows = [
        PublicityRow(
            village=p.application.region.name,
            name=_subject_name(p.application),
            members=1 if p.application.program in PERSONAL_PROGRAMS else sizes.get(p.application.household_id, 0),
            amount=proposed_amount(scope=scope, app=p.application, as_of=p.start_date),
        )
        for p in cohort
    ]
    return PublicityList(
        publicity=publicity,
        township=township.name if township else village.name,
        county=county.name if county else "",
        program=str(Program(publicity.application.program).label),
        rows=rows,
    )


@official_chinese
def publicity_pdf(*, scope: Scope, publicity_id: int) -> bytes:
    data = publicity_data(scope=scope, publicity_id=publicity_id)
    pub = data.publicity
    font = pdf_font()
    s = _styles(font.name)
    stage = PublicityStage(pub.stage).label
    title = f"{data.township}{data.program}{stage}名单"
    verb = "拟批准" if pub.stage == PublicityStage.APPROVAL else "经审核拟纳入"
    one_off = pub.application.program in ONE_OFF_PROGRAMS
    amount_head = "拟救助金额（元）" if one_off else "拟保障金额（元/月）"
    people_head = "保障人数" if pub.application.program in PERSONAL_PROGRAMS else "家庭人口"
    intro = (
        f"根据{legal_basis(pub.application.program, pub.application.rule_set)}的规定，现将{data.township}"
        f"{verb}{data.program}的对象予以公示。公示期自{cn_date(pub.start_date)}至{cn_date(pub.end_date)}，"
        f"公示地点：{pub.place}。公示期间，如对公示对象有异议，可以向{data.township}人民政府（街道办事处）"
        f"或{data.county}民政局实名或匿名反映，我们将及时核实处理。"
    )
    header = [_p(h, s["cell"]) for h in ("序号", "村（社区）", "姓名", people_head, amount_head)]
    body = [
        [
            _p(str(i), s["cell"]),
            _p(row.village, s["cell"]),
            _p(row.name, s["cell"]),
            _p(str(row.members), s["cell"]),
            _p(money(row.amount), s["cell"]),
        ]
        for i, row in enumerate(data.rows, start=1)
    ]
    table = Table([header, *body], colWidths=[14 * mm, 44 * mm, 40 * mm, 24 * mm, 44 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    story: list[Flowable] = [
        _p(title, s["title"]),
        Spacer(1, 3 * mm),
        _p(intro, s["body"]),
        Spacer(1, 4 * mm),
        table,
        Spacer(1, 4 * mm),
        _p(f"共{len(data.rows)}户（人）。本名单不公示身份证件号码等个人隐私信息。", s["small"]),
        Spacer(1, 12 * mm),
        _p(f"{data.township}人民政府（盖章）", s["sign"]),
        _p(cn_date(pub.start_date), s["sign"]),
    ]
    return _build(story, title=title)


# --- certificate ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    recipient: Recipient
    title: str
    number: str
    holder: str
    members: int
    office: str
    issued_on: dt.date


def certificate_data(*, scope: Scope, recipient_id: int) -> Certificate:
    recipient = selectors.recipient_get(scope=scope, recipient_id=recipient_id, live_only=True)
    title = CERTIFICATE_PROGRAMS.get(Program(recipient.program))
    if title is None:  # the other programs issue no certificate
        raise NotFound("该救助项目不发放证件", "recipient_id")
    decision = selectors.application_decision(scope=scope, application_id=recipient.application_id)
    household = recipient.household
    personal = recipient.program in PERSONAL_PROGRAMS and recipient.person is not None
    if personal:
        assert recipient.person is not None
        holder, members = recipient.person.name, 1
    else:
        holder = household.head.name if household.head else ""
        members = selectors.household_sizes(scope=scope, household_ids=[household.pk]).get(household.pk, 0)
    prefix = "DB" if recipient.program == Program.DIBAO else "TK"
    return Certificate(
        recipient=recipient,
        title=title,
        number=f"{recipient.region_id[:6]}{prefix}{recipient.pk:08d}",
        holder=holder,
        members=members,
        office=_office(recipient.region, Level.COUNTY),
        issued_on=decision.decided_on,
    )


@official_chinese
def certificate_pdf(*, scope: Scope, recipient_id: int) -> bytes:
    cert = certificate_data(scope=scope, recipient_id=recipient_id)
    r = cert.recipient
    font = pdf_font()
    s = _styles(font.name)
    holder_label = "供养对象" if r.program == Program.TEKUN else "户主姓名"
    rows = [
        ("证号", cert.number),
        (holder_label, cert.holder),
        ("户编号", r.household.number),
        ("家庭住址", r.household.address),
        ("保障人数", f"{cert.members}人"),
        ("月保障金额", f"{money(r.monthly_amount)}元"),
        ("起始月份", cn_month(r.start_month)),
        ("发证机关", cert.office),
        ("发证日期", cn_date(cert.issued_on)),
    ]
    table = Table(
        [[_p(k, s["cell"]), _p(v, s["cell"])] for k, v in rows],
        colWidths=[34 * mm, 110 * mm],
    )
    table.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 1.2, colors.HexColor("#a0262b")),
                ("INNERGRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#a0262b")),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#fbeeee")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    story: list[Flowable] = [
        _p(cert.title, s["title"]),
        Spacer(1, 2 * mm),
        table,
        Spacer(1, 3 * mm),
        _p(
            "本证是享受社会救助待遇的凭证，限本人（本户）使用，不得转借、涂改；家庭情况发生变化时应及时报告。",
            s["small"],
        ),
    ]
    return _build(story, title=cert.title, pagesize=landscape(A5))


# --- the application form page (HTML) ------------------------------------------------------------------------


def _in_force(item: Any, on: dt.date) -> bool:
    return item.start_date <= on and (item.end_date is None or item.end_date >= on)


def form_members(detail: HouseholdDetail | None, on: dt.date) -> list[dict[str, Any]]:
    """The household's living members for the 申请审批表, head first."""
    if detail is None:
        return []
    rows = []
    for membership in detail.members:
        person = membership.person
        if person.death_date is not None:
            continue
        rows.append(
            {
                "name": person.name,
                "relation": membership.get_relation_display(),
                "sex": person.get_sex_display(),
                "birth_date": person.birth_date.isoformat(),
                "id_number": person.id_number,
                "labour": person.get_labour_capacity_display() if person.labour_capacity else "",
                "health": "、".join(
                    text
                    for flag, text in (
                        (person.disability_grade, f"残疾{person.disability_grade or ''}级"),
                        (person.serious_illness, "重病"),
                    )
                    if flag
                )
                or "健康",
                "student": "在校" if person.student else "",
            }
        )
    return rows


def form_incomes(detail: HouseholdDetail | None, on: dt.date) -> list[dict[str, Any]]:
    """Income items in force on the day, with the member they belong to."""
    if detail is None:
        return []
    return [
        {
            "person": item.person.name if item.person else "",
            "kind": item.get_kind_display(),
            "monthly_amount": money(item.monthly_amount),
        }
        for item in detail.incomes
        if _in_force(item, on)
    ]
