"""The written reply to a real-name complaint or report (投诉举报答复书), as PDF (reportlab), with the CJK font
handling of the case documents (`doudi.cases.documents.pdf_font`). Only the handling office may print it: it
carries the reporter's name and address. All text is escaped: it is user input, not markup."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer

from doudi.cases.documents import cn_date, official_chinese, pdf_font
from doudi.complaints import selectors, services
from doudi.complaints.choices import Finding, Kind, Status
from doudi.core.errors import ApplicationError, PermissionDenied
from doudi.core.scope import Scope


def _office_name(complaint_office_name: str, level: str) -> str:
    return f"{complaint_office_name}人民政府" if level == "township" else f"{complaint_office_name}民政局"


def _paragraphs(text: str, style: ParagraphStyle) -> list[Flowable]:
    return [Paragraph(escape(line), style) for line in text.split("\n") if line.strip()]


@official_chinese
def reply_pdf(*, scope: Scope, complaint_id: int) -> bytes:
    complaint = selectors.complaint_get(scope=scope, complaint_id=complaint_id)
    if not services.is_handling_office(scope, complaint):
        raise PermissionDenied("答复书载有举报人信息，只有承办单位可以打印")
    if complaint.anonymous:
        raise ApplicationError("anonymous", "匿名投诉举报没有书面答复对象", None, status=409)
    if complaint.status not in (Status.ANSWERED, Status.CLOSED) or not complaint.reply:
        raise ApplicationError("not_answered", "请先填写书面答复", None, status=409)
    reporter = selectors.reporter_for(scope=scope, complaint=complaint)
    assert reporter is not None
    font = pdf_font().name
    body = ParagraphStyle("body", fontName=font, fontSize=11.5, leading=20, wordWrap="CJK", firstLineIndent=23)
    plain = ParagraphStyle("plain", parent=body, firstLineIndent=0)
    title = ParagraphStyle("title", parent=body, fontSize=20, leading=30, alignment=TA_CENTER, firstLineIndent=0)
    centre = ParagraphStyle("centre", parent=plain, alignment=TA_CENTER, fontSize=10.5)
    sign = ParagraphStyle("sign", parent=plain, alignment=TA_RIGHT)
    office = _office_name(complaint.office.name, complaint.office.level)
    kind = str(Kind(complaint.kind).label)
    story: list[Flowable] = [
        Paragraph(escape(office), ParagraphStyle("office", parent=centre, fontSize=13)),
        Paragraph(escape(f"{kind}答复书"), title),
        Paragraph(escape(f"登记号：{complaint.received_on.year}-{complaint.pk:06d}"), centre),
        Spacer(1, 6 * mm),
        Paragraph(escape(f"{reporter.name}："), plain),
        Paragraph(
            escape(
                f"你于{cn_date(complaint.received_on)}提出的{kind}（事项：{complaint.subject}）已收悉。"
                f"经调查核实，现答复如下："
            ),
            body,
        ),
        *_paragraphs(complaint.reply, body),
    ]
    if complaint.finding:
        story.append(Paragraph(escape(f"核查结论：{Finding(complaint.finding).label}。"), body))
    story += [
        Paragraph(escape("如对本答复有疑问，请与承办单位联系。"), body),
        Spacer(1, 14 * mm),
        Paragraph(escape(office), sign),
        Paragraph(escape(cn_date(complaint.answered_on or complaint.received_on)), sign),
        Spacer(1, 10 * mm),
        Paragraph(escape(f"送达地址：{reporter.address or '（电话告知）'}"), plain),
    ]
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=22 * mm,
        rightMargin=22 * mm,
        topMargin=20 * mm,
        bottomMargin=18 * mm,
        title=f"{kind}答复书",
        author="兜底 · 社会救助管理系统",
        creator="doudi",
    ).build(story)
    return buffer.getvalue()
