"""A run left `running` by a killed worker: the worker marks it failed (`worker_lost`, with the reason) when its
heartbeat is older than the stale timeout, before it takes new work; a live run is never touched."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from doudi.core.errors import ApplicationError
from doudi.core.models import AuditLog
from doudi.testing.fixtures import make_household
from doudi.verification import jobs, services
from doudi.verification.models import Hit, RunHousehold, VerificationRun
from doudi.verification.tests.conftest import upload


@pytest.fixture
def households(actors, tree):
    found = [make_household(actors.ad, village, members=1) for village in (tree.village, tree.village2)]
    upload(actors.cv, "vehicles", [f"{h.head.id_number},琼D{h.pk:05d},car,90000" for h in found])
    return found


def _running(actors, tree, *, minutes_ago: float, worker: str = "host-a:4242") -> VerificationRun:
    """A region run claimed by a worker whose last heartbeat was `minutes_ago` minutes ago."""
    run = services.run_create(scope=actors.cv, kind="region", region_code=tree.township.code)
    assert services.run_claim(run_id=run.pk, worker=worker)
    beat = timezone.now() - dt.timedelta(minutes=minutes_ago)
    VerificationRun.objects.filter(pk=run.pk).update(
        heartbeat_at=beat, started_at=beat, progress=37, phase="核对 车辆登记"
    )
    run.refresh_from_db()
    return run


def test_claiming_and_progress_refresh_the_heartbeat(actors, tree, households):
    run = services.run_create(scope=actors.cv, kind="region", region_code=tree.township.code)
    assert run.heartbeat_at is None
    before = timezone.now()
    assert services.run_claim(run_id=run.pk, worker="w")
    run.refresh_from_db()
    assert run.heartbeat_at is not None and run.heartbeat_at >= before
    VerificationRun.objects.filter(pk=run.pk).update(heartbeat_at=before - dt.timedelta(hours=3))
    jobs._Progress(run.pk).set(20, "核对 车辆登记")
    run.refresh_from_db()
    assert run.heartbeat_at >= before and (run.progress, run.phase) == (20, "核对 车辆登记")


def test_an_unchanged_percentage_still_beats_after_the_heartbeat_interval(actors, tree, households, monkeypatch):
    run = services.run_create(scope=actors.cv, kind="region", region_code=tree.township.code)
    assert services.run_claim(run_id=run.pk, worker="w")
    progress = jobs._Progress(run.pk)
    clock = [1000.0]
    monkeypatch.setattr(jobs.time, "monotonic", lambda: clock[0])
    progress.set(40, "a")
    old = timezone.now() - dt.timedelta(hours=1)
    VerificationRun.objects.filter(pk=run.pk).update(heartbeat_at=old)
    progress.set(40, "a")  # same percentage, right away: no write
    assert VerificationRun.objects.get(pk=run.pk).heartbeat_at == old
    clock[0] += jobs.HEARTBEAT_SECONDS
    progress.set(40, "a")  # same percentage, the interval passed: the heartbeat is written
    assert VerificationRun.objects.get(pk=run.pk).heartbeat_at > old


def test_the_worker_fails_a_stale_run_with_the_reason_before_taking_new_work(actors, tree, households):
    stale = _running(actors, tree, minutes_ago=90)
    leftover = jobs.run_work_dir(stale.pk)  # the killed worker's registry snapshot
    leftover.mkdir(parents=True)
    (leftover / "persons.parquet").write_bytes(b"x")
    live = _running(actors, tree, minutes_ago=5, worker="host-b:7")
    queued = services.run_create(scope=actors.cv, kind="region", region_code=tree.county.code)
    messages: list[str] = []
    assert jobs.worker_loop(worker="host-c:1", once=True, log=messages.append) == 1
    stale.refresh_from_db()
    live.refresh_from_db()
    queued.refresh_from_db()
    assert stale.status == "failed" and stale.error_code == "worker_lost" and stale.finished_at is not None
    assert "host-a:4242" in stale.error and "60分钟" in stale.error and "核对 车辆登记" in stale.error
    assert "请重新发起核对" in stale.error
    assert not Hit.objects.filter(run=stale).exists() and not RunHousehold.objects.filter(run=stale).exists()
    assert live.status == "running" and live.worker == "host-b:7"  # reported 5 minutes ago: alive
    assert queued.status == "done"
    assert any(f"核对批次 {stale.pk} 超时" in m for m in messages)
    assert not leftover.exists()
    entry = AuditLog.objects.filter(subject_type="verification_run", subject_id=stale.pk).latest("pk")
    assert entry.after == {"status": "failed", "error_code": "worker_lost"}


def test_the_stale_timeout_is_configurable(actors, tree, households, settings):
    run = _running(actors, tree, minutes_ago=20)
    assert services.stale_timeout() == dt.timedelta(minutes=60)
    assert services.run_recover_stale() == []
    settings.DOUDI_VERIFICATION_STALE_MINUTES = 15
    assert services.stale_timeout() == dt.timedelta(minutes=15)
    assert services.run_recover_stale() == [run.pk]
    run.refresh_from_db()
    assert run.status == "failed" and "15分钟" in run.error
    # a second pass finds nothing, and an ended run keeps its first reason
    assert services.run_recover_stale() == []
    assert not services.run_fail(run_id=run.pk, code="job_error", message="x")
    run.refresh_from_db()
    assert run.error_code == "worker_lost"


def test_the_worker_command_takes_the_timeout_in_minutes(actors, tree, households):
    run = _running(actors, tree, minutes_ago=20)
    out = io.StringIO()
    call_command("verification_worker", "--once", "--stale-minutes", "30", stdout=out)
    run.refresh_from_db()
    assert run.status == "running"
    call_command("verification_worker", "--once", "--stale-minutes", "10", stdout=out)
    run.refresh_from_db()
    assert run.status == "failed" and run.error_code == "worker_lost" and "10分钟" in run.error
    with pytest.raises(CommandError):
        call_command("verification_worker", "--once", "--stale-minutes", "0", stdout=out)


def test_a_worker_that_reports_after_being_found_stale_keeps_its_run(actors, tree, households):
    run = _running(actors, tree, minutes_ago=90)
    cutoff = timezone.now() - dt.timedelta(minutes=60)
    jobs._Progress(run.pk).set(50, "核对 车辆登记")  # the worker was only slow: it reports now
    assert not services.run_fail(run_id=run.pk, code="worker_lost", message="x", stale_before=cutoff)
    run.refresh_from_db()
    assert run.status == "running"


def test_a_run_declared_lost_while_its_worker_still_runs_gets_no_results(actors, tree, households, monkeypatch):
    """The slow worker comes back after the run was failed: its write-back is refused, the failure stays."""
    from doudi.batch import verification as batch_verification

    run = services.run_create(scope=actors.cv, kind="region", region_code=tree.township.code)
    assert services.run_claim(run_id=run.pk, worker="slow")
    real = batch_verification.run_verification

    def slow_job(*args, **kwargs):
        result = real(*args, **kwargs)
        # meanwhile another worker found no heartbeat for longer than the timeout
        assert services.run_recover_stale(timeout=dt.timedelta(0), now=timezone.now() + dt.timedelta(seconds=1))
        return result

    monkeypatch.setattr(batch_verification, "run_verification", slow_job)
    finished = jobs.run_execute(run_id=run.pk)
    assert finished.status == "failed" and finished.error_code == "worker_lost"
    assert not Hit.objects.filter(run=run).exists() and not RunHousehold.objects.filter(run=run).exists()
    # the progress callback no longer moves a failed run
    jobs._Progress(run.pk).set(99, "写回核对结果")
    assert VerificationRun.objects.get(pk=run.pk).progress != 99


def test_an_inline_application_run_left_running_no_longer_blocks_its_case(actors, case):
    upload(actors.cv, "vehicles", [f"{case.people[0].id_number},琼A1,car,90000"])
    run = services.run_create(scope=actors.cv, kind="application", application_id=case.app.pk)
    assert services.run_claim(run_id=run.pk, worker="inline")  # the web process died here
    VerificationRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - dt.timedelta(hours=2))
    with pytest.raises(ApplicationError) as exc:
        services.run_start_inline(scope=actors.cv, application_id=case.app.pk)
    assert exc.value.code == "run_in_progress"
    assert jobs.worker_loop(worker="w", once=True) == 0  # nothing queued, but the lost run is failed
    run.refresh_from_db()
    assert run.status == "failed" and run.error_code == "worker_lost" and "inline" in run.error
    assert services.run_start_inline(scope=actors.cv, application_id=case.app.pk).status == "done"
