"""A run for one application end to end: snapshot → batch job → hits written, summary stored, progress 100."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from doudi.core.errors import ApplicationError, NotFound, PermissionDenied
from doudi.verification import jobs, selectors, services
from doudi.verification.models import Hit, RunHousehold, VerificationRun
from doudi.verification.tests.conftest import upload


def test_an_application_run_writes_its_hits_and_summary(actors, case):
    head, other = case.people
    upload(actors.cv, "vehicles", [f"{head.id_number},琼A12345,car,80000.00"])
    upload(actors.cv, "deaths", [f"{other.id_number},2024-01-05"])
    seen: list[int] = []
    original = jobs._Progress.set

    def spy(self, percent, phase):
        seen.append(percent)
        return original(self, percent, phase)

    jobs._Progress.set = spy
    try:
        run = services.run_start_inline(scope=actors.cv, application_id=case.app.pk)
    finally:
        jobs._Progress.set = original
    assert run.status == "done", run.error
    assert run.progress == 100 and seen == sorted(seen) and seen[-1] == jobs.JOB_BAND[1]
    assert run.households == 1 and run.flagged_households == 1 and run.hits == 2, run.summary
    assert run.summary["hits_by_rule"]["vehicle"] == 1 and run.summary["hits_by_rule"]["death"] == 1
    assert {s["kind"] for s in run.sources} == {"vehicles", "deaths"}
    assert all(len(s["sha256"]) == 64 for s in run.sources)
    hits = {h.rule: h for h in Hit.objects.filter(run=run)}
    assert hits["vehicle"].person_id == head.pk and hits["vehicle"].value == "1" and hits["vehicle"].threshold == "0"
    assert hits["death"].person_id == other.pk and hits["death"].value == "2024-01-05"
    assert all(h.application_id == case.app.pk for h in hits.values())
    assert RunHousehold.objects.get(run=run).application_id == case.app.pk
    section = selectors.case_section(scope=actors.cv, application=case.app, step=services.verification_step(case.app))
    assert section is not None and section.latest == run and len(section.hits) == 2
    assert VerificationRun.objects.get(pk=run.pk).timings.keys() >= {"snapshot", "job", "write"}


def _recipients(actors, tree, n):
    """n dibao recipient households in the township, half in each village, with their heads."""
    from doudi.integrity.tests.conftest import case as recipient_case
    from doudi.testing.fixtures import make_household

    households = []
    for i in range(n):
        household = make_household(actors.ad, tree.village if i % 2 else tree.village2, members=2)
        recipient_case(household, received_on=dt.date(2024, 1, 2), decided_on=dt.date(2024, 2, 1))
        households.append(household)
    return households


def _vehicles_for(actors, households):
    upload(actors.cv, "vehicles", [f"{h.head.id_number},琼B{h.pk:05d},car,90000" for h in households])


def _execute(run):
    assert services.run_claim(run_id=run.pk, worker="test")
    return jobs.run_execute(run_id=run.pk)


def _insert_count(run):
    with CaptureQueriesContext(connection) as ctx:
        done = _execute(run)
    assert done.status == "done", done.error
    inserts = [q["sql"] for q in ctx.captured_queries if q["sql"].upper().startswith("INSERT")]
    return done, [sql for sql in inserts if "verification_hit" in sql or "verification_runhousehold" in sql]


def test_a_township_run_writes_hits_in_bulk_whatever_the_number_of_households(actors, tree):
    # Given a township whose recipients each own a car
    small = _recipients(actors, tree, 3)
    _vehicles_for(actors, small)
    first = services.run_create(scope=actors.cv, kind="caseload", region_code=tree.township.code)
    done, inserts_small = _insert_count(first)
    assert (done.households, done.flagged_households, done.hits) == (3, 3, 3)
    # When the township has four times as many households
    more = _recipients(actors, tree, 9)
    _vehicles_for(actors, small + more)
    second = services.run_create(scope=actors.cv, kind="caseload", region_code=tree.township.code)
    done, inserts_large = _insert_count(second)
    # Then every household is written, with the same number of INSERT statements
    assert (done.households, done.hits) == (12, 12)
    assert len(inserts_large) == len(inserts_small) <= 2
    assert RunHousehold.objects.filter(run=second).count() == 12
    assert set(Hit.objects.filter(run=second).values_list("rule", flat=True)) == {"vehicle"}


def test_a_failed_job_marks_the_run_failed_and_writes_no_hits(actors, tree, monkeypatch):
    households = _recipients(actors, tree, 2)
    _vehicles_for(actors, households)
    run = services.run_create(scope=actors.cv, kind="yearly", region_code=tree.township.code)
    calls = []
    real = jobs.bulk_insert

    def half_then_fail(model, columns, rows):
        calls.append(model)
        if len(calls) == 2:  # the hits are in, the households are not: the transaction must undo them
            raise OSError("disk full")
        real(model, columns, rows)

    monkeypatch.setattr(jobs, "bulk_insert", half_then_fail)
    failed = _execute(run)
    assert failed.status == "failed" and failed.error_code == "job_error" and "OSError" in failed.error
    assert failed.finished_at is not None
    assert not Hit.objects.filter(run=run).exists() and not RunHousehold.objects.filter(run=run).exists()


def test_a_refused_job_names_the_problem(actors, tree, monkeypatch):
    households = _recipients(actors, tree, 1)
    _vehicles_for(actors, households)
    run = services.run_create(
        scope=actors.cv, kind="caseload", region_code=tree.township.code, as_of=dt.date(2024, 3, 1)
    )
    from doudi.batch.errors import BatchInputError

    def refuse(*args, **kwargs):
        raise BatchInputError("parameter_not_found", "no value", "parameters.dibao.standard")

    monkeypatch.setattr("doudi.batch.verification.run_verification", refuse)
    failed = _execute(run)
    assert failed.status == "failed" and failed.error_code == "parameter_not_found"
    assert "parameters.dibao.standard" in failed.error


def test_a_run_takes_its_duckdb_threads_and_memory_limit_from_the_settings(actors, tree, monkeypatch, settings):
    households = _recipients(actors, tree, 1)
    _vehicles_for(actors, households)
    from doudi.batch.errors import BatchInputError

    seen: list[dict] = []

    def record(*args, **kwargs):
        seen.append(kwargs["engine_options"])
        raise BatchInputError("stopped", "enough", "test")

    monkeypatch.setattr("doudi.batch.verification.run_verification", record)
    settings.DOUDI_BATCH_THREADS, settings.DOUDI_BATCH_MEMORY_LIMIT = 1, ""
    _execute(services.run_create(scope=actors.cv, kind="yearly", region_code=tree.township.code))
    settings.DOUDI_BATCH_MEMORY_LIMIT = "3GB"
    _execute(services.run_create(scope=actors.cv, kind="yearly", region_code=tree.township.code))
    # No limit set: the job sizes DuckDB's memory to the run (docs/verification.md §4); a set limit is passed on.
    assert seen == [{"threads": 1}, {"threads": 1, "memory_limit": "3GB"}]


def test_the_worker_picks_queued_runs_in_order(actors, tree):
    households = _recipients(actors, tree, 2)
    _vehicles_for(actors, households)
    first = services.run_create(scope=actors.cv, kind="caseload", region_code=tree.township.code)
    second = services.run_create(scope=actors.cv, kind="yearly", region_code=tree.county.code)
    out = io.StringIO()
    call_command("verification_worker", "--once", stdout=out)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == "done"
    assert first.started_at <= second.started_at and first.worker and "2" in out.getvalue()
    # nothing is left to do
    assert jobs.worker_loop(worker="again", once=True) == 0


def test_yearly_run_hits_attach_to_the_open_recheck(actors, tree):
    from doudi.cases.models import Recheck, Recipient

    (household,) = _recipients(actors, tree, 1)
    recipient = Recipient.objects.get(household=household)
    recheck_case = recipient.application
    recheck = Recheck.objects.create(
        recipient=recipient,
        due_date=dt.date(2025, 1, 1),
        category="yearly",
        reason="scheduled",
        status="open",
        application=recheck_case,
    )
    _vehicles_for(actors, [household])
    run = services.run_create(scope=actors.cv, kind="yearly", region_code=tree.county.code)
    done = _execute(run)
    hit = Hit.objects.get(run=done)
    assert hit.recheck_id == recheck.pk and hit.application_id == recheck_case.pk
    counts = selectors.run_counts(scope=actors.sv, run_id=done.pk)  # supervisors read aggregates
    assert counts.total == {"vehicle": 1} and counts.rows[0][0] == tree.township


def test_who_may_start_runs(actors, tree, case):
    upload(actors.cv, "deaths", [f"{case.people[0].id_number},2024-01-05"])
    for scope in (actors.tr, actors.ca, actors.vw):
        with pytest.raises(PermissionDenied):
            services.run_create(scope=scope, kind="caseload", region_code=tree.township.code)
    with pytest.raises(PermissionDenied):  # the verification step is the county verification centre's
        services.run_create(scope=actors.tr, kind="application", application_id=case.app.pk)
    with pytest.raises(NotFound):
        services.run_create(scope=actors.out, kind="application", application_id=case.app.pk)
    with pytest.raises(ApplicationError) as exc:
        services.run_create(scope=actors.cv, kind="caseload", region_code=tree.province.code)
    assert exc.value.code == "not_found"
    with pytest.raises(ApplicationError) as exc:
        services.run_create(scope=actors.ad, kind="caseload", region_code=tree.province.code)
    assert exc.value.code == "invalid_region"
    with pytest.raises(ApplicationError) as exc:
        services.run_create(
            scope=actors.cv, kind="caseload", region_code=tree.county.code, overrides={"no.such.param": "1"}
        )
    assert exc.value.code == "invalid_parameter"


def test_a_run_needs_sources_and_the_signed_authorisation(actors, tree, case):
    with pytest.raises(ApplicationError) as exc:
        services.run_create(scope=actors.cv, kind="application", application_id=case.app.pk)
    assert exc.value.code == "no_sources"
    upload(actors.cv, "deaths", [f"{case.people[0].id_number},2024-01-05"])
    case.app.verification_authorised = False
    case.app.authorised_on = None
    case.app.save()
    with pytest.raises(ApplicationError) as exc:
        services.run_create(scope=actors.cv, kind="application", application_id=case.app.pk)
    assert exc.value.code == "authorisation_missing"


def test_a_region_run_covers_every_registered_household_and_an_empty_caseload_is_refused(actors, tree):
    from doudi.testing.fixtures import make_household

    households = [make_household(actors.ad, tree.village, members=1) for _ in range(2)]
    _vehicles_for(actors, households[:1])
    with pytest.raises(ApplicationError) as exc:  # nobody receives a benefit yet
        services.run_create(scope=actors.cv, kind="yearly", region_code=tree.township.code)
    assert exc.value.code == "no_households"
    run = services.run_create(scope=actors.cv, kind="region", region_code=tree.township.code)
    done = _execute(run)
    assert (done.households, done.flagged_households) == (2, 1)
    assert Hit.objects.get(run=done).application_id is None


def test_the_demo_sources_command_registers_provincial_batches_from_the_registry(actors, tree):
    from doudi.testing.fixtures import make_household
    from doudi.verification.models import SourceBatch

    for _ in range(3):
        make_household(actors.ad, tree.village, members=2)
    out = io.StringIO()
    call_command("verification_demo_sources", "--share", "0.5", stdout=out)
    batches = SourceBatch.objects.filter(region=tree.province, status="accepted")
    assert set(batches.values_list("kind", flat=True)) == {"vehicles", "business", "real_estate", "deposits", "deaths"}
    assert all(b.rejected_rows == 1 and b.stored_rows >= 1 for b in batches)
    run = services.run_create(scope=actors.cv, kind="region", region_code=tree.county.code)
    assert _execute(run).status == "done"
