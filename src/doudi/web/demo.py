"""Sample data of the payments, portal, complaints and verification apps for the embedded demo (`doudi demo`), made
only through those apps' public service functions, after the demo caseload (`doudi.cases.demo`):

* bank accounts (synthetic numbers) for the live recipients of 五指山市, so that its payroll yields bank files;
* the county offices' public contact details (portal: 办事指南 and the complaints hotline), for every county;
* three complaints in the demo township: an anonymous report filed on the public form (waiting to be accepted), a
  hotline complaint taken by the township and answered, and a letter about a county decision being investigated;
* synthetic department files for 五指山市 (vehicles, deposits, business registrations, pensions, deaths) generated
  for the demo's own persons, written as CSV under `VAR_DIR/demo-sources/`, ingested as the county's sources, and
  one caseload verification run over them, so the verification pages have hits to show.

Each part is skipped when its data exists already (a second `doudi demo` changes nothing) and reported as skipped
when its app is missing or its service refuses (the apps are developed alongside; the demo must still start).
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import random
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from doudi.cases.demo import demo_staff
from doudi.core.errors import ApplicationError
from doudi.core.scope import Scope, system_scope

logger = logging.getLogger(__name__)

Part = Callable[[dt.date, random.Random], dict[str, Any]]


def seed_extras(*, today: dt.date, seed: int = 2018, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Add the sample accounts, contacts, complaints and verification data; returns what each part did
    ({"exists": True} when its data was there already, {"skipped": reason} when it could not be made)."""
    say = progress or (lambda _msg: None)
    parts: dict[str, Part] = {
        "accounts": _accounts,
        "contacts": _contacts,
        "complaints": _complaints,
        "verification": _verification,
    }
    labels = {
        "accounts": "演示县救助对象发放账户",
        "contacts": "公开联系方式",
        "complaints": "投诉举报示例",
        "verification": "核对数据和核对批次",
    }
    out: dict[str, Any] = {}
    for name, part in parts.items():
        try:
            out[name] = part(today, random.Random(f"{seed}-{name}"))
        except Exception as exc:  # any failure of a sample part must not stop the demo
            # An app that is missing, whose services changed or refuse: the demo starts without its sample data.
            reason = exc.message if isinstance(exc, ApplicationError) else type(exc).__name__
            logger.warning("demo %s skipped: %s", name, reason)
            out[name] = {"skipped": reason}
        if "skipped" in out[name]:
            say(f"未生成{labels[name]}：{out[name]['skipped']}")
        elif not out[name].get("exists"):
            say(f"已生成{labels[name]}：{_describe(name, out[name])}")
    return out


def _describe(name: str, data: dict[str, Any]) -> str:
    if name == "accounts":
        return f"{data['accounts']} 个"
    if name == "contacts":
        return f"{data['counties']} 个县（市、区）"
    if name == "complaints":
        return f"{data['complaints']} 件，查询码 {'、'.join(data['tracking_numbers'])}"
    return f"{data['sources']} 份部门数据，核对批次 {data['run']}（{data['status']}）"


# --- payments: accounts of the demo county's recipients ----------------------------------------------------------


def _accounts(today: dt.date, rng: random.Random) -> dict[str, Any]:
    """Bank accounts (synthetic numbers) for the demo county's live recipients, so that its payroll yields bank
    files: households for household benefits, the supported person for 特困."""
    from doudi.cases.models import Recipient
    from doudi.payments.models import BankAccount
    from doudi.payments.services import bank_account_set

    staff = demo_staff()
    county = staff.county.path
    if BankAccount.objects.filter(household__region__path__startswith=county).exists() or (
        BankAccount.objects.filter(person__memberships__household__region__path__startswith=county).exists()
    ):
        return {"exists": True}
    scope = system_scope()
    recipients = (
        Recipient.objects.filter(region_path__startswith=county, status__in=("active", "gradual_exit"))
        .exclude(program__in=("temporary_assistance", "funeral"))
        .select_related("person", "application__applicant")
        .order_by("pk")
    )
    made = 0
    seen: set[tuple[str, int]] = set()
    with transaction.atomic():
        for recipient in recipients:
            owner = ("p", recipient.person_id) if recipient.person_id else ("h", recipient.household_id)
            if owner in seen:
                continue
            seen.add(owner)
            holder = recipient.person or recipient.application.applicant
            bank_account_set(
                scope=scope,
                bank_code="HNRCU",
                bank_name="海南省农村信用社",
                account_number=f"623058{rng.randrange(10**12, 10**13)}",
                holder_name=holder.name,
                household_id=recipient.household_id if owner[0] == "h" else None,
                person_id=recipient.person_id if owner[0] == "p" else None,
            )
            made += 1
    return {"accounts": made}


# --- portal: county contacts --------------------------------------------------------------------------------------


def _contacts(today: dt.date, rng: random.Random) -> dict[str, Any]:
    from doudi.core.models import Region
    from doudi.portal.models import CountyContact
    from doudi.portal.services import county_contact_set

    scope = system_scope()
    made = 0
    counties = Region.objects.filter(level="county").exclude(code__startswith="4603").order_by("code")
    for county in counties:
        if CountyContact.objects.filter(region=county).exists():
            continue
        short = county.name.removesuffix("黎族苗族自治县").removesuffix("黎族自治县").removesuffix("自治县")
        with transaction.atomic():
            county_contact_set(
                scope=scope,
                county_code=county.code,
                version=None,
                data={
                    "office": f"{short}民政局社会救助股",
                    "address": f"{county.name}人民政府综合办公楼",
                    "phone": f"0898-{rng.randrange(31000000, 89999999)}",
                    "hotline": "12345",
                    "hours": "工作日 8:00-12:00，14:30-17:30",
                },
            )
        made += 1
    return {"counties": made} if made else {"exists": True}


# --- complaints --------------------------------------------------------------------------------------------------


def _complaints(today: dt.date, rng: random.Random) -> dict[str, Any]:
    from doudi.complaints import services, tracking
    from doudi.complaints.models import Complaint

    if Complaint.objects.exists():
        return {"exists": True}
    staff = demo_staff()
    numbers: list[str] = []
    with transaction.atomic():
        # 1. An anonymous report on the public form: new, waiting for the township to accept it.
        report = services.complaint_create(
            scope=services.public_scope(),
            kind="report",
            channel="portal",
            region_code=staff.village.code,
            program="dibao",
            subject="反映本村一低保户家中经营小卖部",
            description="本村有一户享受低保的家庭在村口经营小卖部，收入较好，是否符合低保条件请核查。",
            anonymous=True,
            today=today,
        )
        numbers.append(report.tracking_number)
        # 2. A hotline complaint taken by the township, investigated and answered in writing.
        received = today - dt.timedelta(days=12)
        hotline = services.complaint_create(
            scope=staff.tr,
            kind="complaint",
            channel="hotline",
            region_code=staff.village.code,
            program="dibao",
            subject="低保申请受理后一直没有答复",
            description="来电人反映上月提交低保申请后，村里没有告知办理进度。",
            anonymous=False,
            reporter={"name": "王秀珍", "phone": "0898-86620000"},
            received_on=received,
            today=today,
        )
        numbers.append(hotline.tracking_number)
        services.complaint_accept(
            scope=staff.tr, complaint_id=hotline.pk, version=hotline.version, acted_on=received, today=today
        )
        hotline.refresh_from_db()
        services.entry_add(
            scope=staff.tr,
            complaint_id=hotline.pk,
            version=hotline.version,
            text="经核实，申请已受理并正在入户调查，村经办人未及时告知进度。已要求村（社区）一次性告知办理进度和时限。",
            finding="partly",
            action="other",
            acted_on=received + dt.timedelta(days=3),
            today=today,
        )
        hotline.refresh_from_db()
        services.complaint_answer(
            scope=staff.tr,
            complaint_id=hotline.pk,
            version=hotline.version,
            public_reply="经核实，所反映的申请已受理并正在办理，已督促村（社区）及时告知办理进度。",
            reply="您好：您反映的低保申请已于受理后进入入户调查环节，乡镇将在规定时限内完成审核并告知结果。",
            acted_on=received + dt.timedelta(days=5),
            today=today,
        )
        # 3. A letter about a county decision: a county matter, accepted and under investigation.
        letter_day = today - dt.timedelta(days=4)
        letter = services.complaint_create(
            scope=staff.ca,
            kind="complaint",
            channel="letter",
            region_code=staff.township.code,
            program="tekun",
            subject="对特困人员认定结果有异议",
            description="来信人认为其父亲无劳动能力、无生活来源，不应被认定为不符合特困供养条件，请求复核。",
            county_matter=True,
            anonymous=False,
            reporter={"name": "符文强", "address": f"{staff.township.name}"},
            received_on=letter_day,
            today=today,
        )
        numbers.append(letter.tracking_number)
        services.complaint_accept(
            scope=staff.ca, complaint_id=letter.pk, version=letter.version, acted_on=letter_day, today=today
        )
    return {"complaints": len(numbers), "tracking_numbers": [tracking.display(n) for n in numbers]}


# --- verification sources and a caseload run ----------------------------------------------------------------------


def demo_sources_dir() -> Path:
    return Path(settings.VAR_DIR) / "demo-sources"


def _verification(today: dt.date, rng: random.Random) -> dict[str, Any]:
    from doudi.verification import services
    from doudi.verification.jobs import run_execute
    from doudi.verification.models import SourceBatch

    if SourceBatch.objects.exists():
        return {"exists": True}
    staff = demo_staff()
    files = _write_sources(today, rng, staff.county.path)
    batches = 0
    for kind, (path, department) in files.items():
        with path.open("rb") as handle:
            services.source_ingest(
                scope=staff.cv,
                fileobj=handle,
                filename=path.name,
                kind=kind,
                department=department,
                period_start=today - dt.timedelta(days=365),
                period_end=today - dt.timedelta(days=7),
                received_on=today - dt.timedelta(days=5),
                region_code=staff.county.code,
                note="演示数据：为合成人口生成",
                today=today,
            )
        batches += 1
    run = _run(services, staff.cv, staff.county.code, today)
    if not services.run_claim(run_id=run.pk, worker="demo"):
        return {"sources": batches, "run": run.pk, "status": "queued"}
    done = run_execute(run_id=run.pk)
    return {"sources": batches, "run": done.pk, "status": done.status}


def _run(services: Any, scope: Scope, county_code: str, today: dt.date) -> Any:
    with transaction.atomic():
        return services.run_create(scope=scope, kind="caseload", region_code=county_code, today=today)


def _write_sources(today: dt.date, rng: random.Random, county_path: str) -> dict[str, tuple[Path, str]]:
    """One CSV per kind for persons of the demo county: most rows below every threshold, a few that are not
    (a car, savings, a business, a pension, a death) among recipients' households, so the run finds something."""
    from doudi.cases.models import Recipient
    from doudi.registry.models import Membership

    members = list(
        Membership.objects.filter(
            end_date__isnull=True,
            person__death_date__isnull=True,
            household__region__path__startswith=county_path,
        )
        .order_by("person_id")
        .values_list("person__id_number", "household_id", "person__birth_date")
    )
    receiving = set(
        Recipient.objects.filter(region_path__startswith=county_path, status="active").values_list(
            "household_id", flat=True
        )
    )
    flagged = [m for m in members if m[1] in receiving and m[2] <= today.replace(year=today.year - 18)]
    others = [m for m in members if m[1] not in receiving]
    rng.shuffle(flagged)
    rng.shuffle(others)
    out = demo_sources_dir()
    out.mkdir(parents=True, exist_ok=True)
    as_of = (today - dt.timedelta(days=30)).isoformat()

    def money(low: int, high: int) -> str:
        return str(Decimal(rng.randrange(low, high)).quantize(Decimal("0.01")))

    tables: dict[str, tuple[str, list[str], list[list[str]]]] = {
        "vehicles": (
            "公安交管",
            ["id_number", "plate", "vehicle_type", "value"],
            [[p[0], f"琼D{rng.randrange(10000, 99999)}", "car", money(40_000, 120_000)] for p in flagged[:2]]
            + [
                [p[0], f"琼D{rng.randrange(10000, 99999)}", "disabled_mobility", money(3_000, 8_000)]
                for p in flagged[2:3]
            ]
            + [[p[0], f"琼D{rng.randrange(10000, 99999)}", "car", money(30_000, 150_000)] for p in others[:40]],
        ),
        "deposits": (
            "银行",
            ["id_number", "institution", "balance", "as_of"],
            [[p[0], "海南农信", money(80_000, 200_000), as_of] for p in flagged[3:5]]
            + [[p[0], "海南农信", money(100, 3_000), as_of] for p in flagged[5:25]]
            + [[p[0], "中国邮政储蓄银行", money(500, 60_000), as_of] for p in others[40:200]],
        ),
        "business": (
            "市场监督管理",
            ["id_number", "company_id", "role", "registered_capital", "status"],
            [
                [
                    flagged[5][0],
                    f"91469001MA5T{rng.randrange(100000, 999999)}",
                    "法定代表人",
                    money(50_000, 100_000),
                    "active",
                ]
            ]
            if len(flagged) > 5
            else [],
        ),
        "pension": (
            "社会保险经办",
            ["id_number", "monthly_amount", "as_of"],
            [[p[0], money(180, 260), as_of] for p in flagged[6:16]]
            + [[p[0], money(1_500, 4_000), as_of] for p in others[200:260]],
        ),
        "deaths": (
            "公安、民政",
            ["id_number", "death_date"],
            [[p[0], (today - dt.timedelta(days=40)).isoformat()] for p in flagged[16:17]],
        ),
    }
    files: dict[str, tuple[Path, str]] = {}
    for kind, (department, header, rows) in tables.items():
        if not rows:
            continue
        path = out / f"{kind}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
        files[kind] = (path, department)
    return files


__all__ = ["demo_sources_dir", "seed_extras"]
