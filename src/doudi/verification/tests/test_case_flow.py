"""Hits on a case: the applicant is told, disputes with evidence, the township records an outcome per hit, and the
verification step is completed from the outcomes through the cases service."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import replace
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from doudi.cases.models import CaseStep
from doudi.core.errors import ApplicationError, NotFound, PermissionDenied, StaleEdit
from doudi.verification import selectors, services
from doudi.verification.models import Evidence, Hit
from doudi.verification.tests.conftest import upload

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _run_with_hits(actors, case):
    head, other = case.people
    upload(actors.cv, "vehicles", [f"{head.id_number},琼A12345,car,80000.00"])
    upload(actors.cv, "business", [f"{other.id_number},91460000X,股东,50000,active"])
    run = services.run_start_inline(scope=actors.cv, application_id=case.app.pk)
    assert run.status == "done" and run.hits == 2, run.error
    return run, {h.rule: h for h in Hit.objects.filter(run=run)}


def _version(app):
    app.refresh_from_db()
    return app.version


def test_disputed_hits_explained_by_the_township_complete_the_step_as_pass(actors, case):
    run, hits = _run_with_hits(actors, case)
    today = timezone.localdate()
    # Given the applicant was told in writing
    services.notice_record(
        scope=actors.tr,
        run_id=run.pk,
        household_id=case.household.pk,
        notified_on=today,
        method="written",
        note="送达核对结果告知书",
    )
    # and disputed the car with a transfer certificate (PDF) and a photo
    dispute = services.dispute_record(
        scope=actors.vw,
        hit_id=hits["vehicle"].pk,
        received_on=today,
        statement="车辆已于去年过户",
        files=[services.Upload(io.BytesIO(PDF), "过户证明.pdf"), services.Upload(io.BytesIO(PNG), "photo.png")],
    )
    evidence = list(Evidence.objects.filter(dispute=dispute).order_by("pk"))
    assert [e.content_type for e in evidence] == ["application/pdf", "image/png"]
    assert all((Path(settings.VAR_DIR) / e.stored_path).is_file() for e in evidence)
    # When the township records that both are explained (not an issue)
    for hit in hits.values():
        services.outcome_record(
            scope=actors.tr, hit_id=hit.pk, version=hit.version, outcome="explained", reason="经核实已过户/已注销"
        )
    # Then the county verification centre completes the step: pass, with the run recorded
    section = selectors.case_section_for(scope=actors.cv, application=case.app, steps=list(case.app.steps.all()))
    assert section.can_complete and section.suggested_result == "pass" and len(section.items) == 2
    services.verification_step_complete(scope=actors.cv, application_id=case.app.pk, version=_version(case.app))
    step = CaseStep.objects.get(application=case.app, code="verification")
    assert step.status == "done"
    assert step.payload == {
        "result": "pass",
        "run_id": run.pk,
        "as_of": run.as_of.isoformat(),
        "hits": 2,
        "confirmed": 0,
    }
    case.app.refresh_from_db()
    assert case.app.current_step != "verification"
    # and the outcomes cannot be changed any more
    hit = Hit.objects.get(pk=hits["vehicle"].pk)
    with pytest.raises(ApplicationError) as exc:
        services.outcome_record(scope=actors.tr, hit_id=hit.pk, version=hit.version, outcome="confirmed", reason="x")
    assert exc.value.code == "result_recorded"


def test_a_confirmed_hit_makes_the_result_fail(actors, case):
    run, hits = _run_with_hits(actors, case)
    services.notice_record(
        scope=actors.cv, run_id=run.pk, household_id=case.household.pk, notified_on=timezone.localdate(), method="phone"
    )
    services.outcome_record(
        scope=actors.tr, hit_id=hits["vehicle"].pk, version=1, outcome="confirmed", reason="车辆登记属实"
    )
    services.outcome_record(
        scope=actors.tr, hit_id=hits["business"].pk, version=1, outcome="corrected", reason="工商数据有误，已注销"
    )
    services.verification_step_complete(scope=actors.cv, application_id=case.app.pk, version=_version(case.app))
    step = CaseStep.objects.get(application=case.app, code="verification")
    assert step.payload["result"] == "fail" and step.payload["confirmed"] == 1


def test_the_step_waits_for_every_outcome_and_the_notice(actors, case):
    run, hits = _run_with_hits(actors, case)
    with pytest.raises(ApplicationError) as exc:
        services.verification_step_complete(scope=actors.cv, application_id=case.app.pk, version=_version(case.app))
    assert exc.value.code == "outcomes_missing"
    for hit in hits.values():
        services.outcome_record(scope=actors.tr, hit_id=hit.pk, version=1, outcome="explained", reason="已说明")
    with pytest.raises(ApplicationError) as exc:
        services.verification_step_complete(scope=actors.cv, application_id=case.app.pk, version=_version(case.app))
    assert exc.value.code == "notice_missing"
    # the township cannot complete the county's step
    services.notice_record(
        scope=actors.tr,
        run_id=run.pk,
        household_id=case.household.pk,
        notified_on=timezone.localdate(),
        method="in_person",
    )
    with pytest.raises(PermissionDenied):
        services.verification_step_complete(scope=actors.tr, application_id=case.app.pk, version=_version(case.app))


def test_a_run_without_hits_completes_the_step_as_pass_without_a_notice(actors, case):
    upload(actors.cv, "deaths", ["110101199003070011,2024-01-01"])
    run = services.run_start_inline(scope=actors.cv, application_id=case.app.pk)
    assert run.status == "done" and run.hits == 0
    services.verification_step_complete(scope=actors.cv, application_id=case.app.pk, version=_version(case.app))
    assert CaseStep.objects.get(application=case.app, code="verification").payload["result"] == "pass"


def test_outcomes_are_optimistic_and_need_reasons(actors, case):
    _run, hits = _run_with_hits(actors, case)
    hit = hits["vehicle"]
    with pytest.raises(ApplicationError) as exc:
        services.outcome_record(scope=actors.tr, hit_id=hit.pk, version=1, outcome="explained", reason=" ")
    assert exc.value.field == "reason"
    with pytest.raises(ApplicationError) as exc:
        services.outcome_record(scope=actors.tr, hit_id=hit.pk, version=1, outcome="maybe", reason="x")
    assert exc.value.field == "outcome"
    services.outcome_record(scope=actors.tr, hit_id=hit.pk, version=1, outcome="explained", reason="已说明")
    with pytest.raises(StaleEdit):
        services.outcome_record(scope=actors.tr, hit_id=hit.pk, version=1, outcome="confirmed", reason="属实")
    with pytest.raises(PermissionDenied):
        services.outcome_record(scope=actors.ca, hit_id=hit.pk, version=2, outcome="confirmed", reason="属实")
    other_verifier = replace(actors.out, role="county_verifier")
    with pytest.raises(NotFound):
        services.outcome_record(scope=other_verifier, hit_id=hit.pk, version=2, outcome="confirmed", reason="属实")


def test_evidence_must_be_a_pdf_or_an_image_of_limited_size(actors, case, settings):
    _run, hits = _run_with_hits(actors, case)
    hit = hits["vehicle"]
    today = dt.date.today()
    with pytest.raises(ApplicationError) as exc:
        services.dispute_record(
            scope=actors.tr,
            hit_id=hit.pk,
            received_on=today,
            statement="x",
            files=[services.Upload(io.BytesIO(b"MZ\x90\x00"), "证明.exe")],
        )
    assert exc.value.code == "unsupported_format" and exc.value.field == "files"
    with pytest.raises(ApplicationError) as exc:  # a renamed file: the content decides
        services.dispute_record(
            scope=actors.tr,
            hit_id=hit.pk,
            received_on=today,
            statement="x",
            files=[services.Upload(io.BytesIO(b"<html>"), "证明.pdf")],
        )
    assert exc.value.code == "unsupported_format"
    settings.DOUDI_EVIDENCE_MAX_BYTES = 10
    with pytest.raises(ApplicationError) as exc:
        services.dispute_record(
            scope=actors.tr,
            hit_id=hit.pk,
            received_on=today,
            statement="x",
            files=[services.Upload(io.BytesIO(PDF), "a.pdf")],
        )
    assert exc.value.code == "file_too_large" and exc.value.status == 413
    assert not Evidence.objects.exists()
    assert not list((Path(settings.VAR_DIR) / "verification").rglob("*.pdf"))
