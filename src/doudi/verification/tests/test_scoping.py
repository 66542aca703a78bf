"""Who reads which hits: village workers their village, township reviewers their township, county roles their
county; supervisors aggregates only; other counties nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from doudi.core.errors import NotFound, PermissionDenied
from doudi.integrity.tests.conftest import case as recipient_case
from doudi.testing.fixtures import make_household
from doudi.verification import jobs, selectors, services
from doudi.verification.tests.conftest import upload


@pytest.fixture
def county_run(actors, tree):
    households = []
    for village in (tree.village, tree.village2):
        household = make_household(actors.ad, village, members=1)
        recipient_case(household, received_on=dt.date(2024, 1, 2), decided_on=dt.date(2024, 2, 1))
        households.append(household)
    upload(actors.cv, "vehicles", [f"{h.head.id_number},琼C{h.pk:05d},car,90000" for h in households])
    run = services.run_create(scope=actors.cv, kind="yearly", region_code=tree.county.code)
    assert services.run_claim(run_id=run.pk, worker="t")
    run = jobs.run_execute(run_id=run.pk)
    assert run.hits == 2, run.error
    return run


def _villages(scope, run):
    return {h.region_id for h in selectors.run_hits(scope=scope, run_id=run.pk)}


def test_each_role_reads_the_hits_of_its_own_area(actors, tree, county_run):
    both = {tree.village.code, tree.village2.code}
    assert _villages(actors.vw, county_run) == {tree.village.code}
    assert _villages(actors.tr, county_run) == both
    assert _villages(actors.ca, county_run) == both
    assert _villages(actors.cv, county_run) == both
    assert _villages(actors.ad, county_run) == both
    # a village worker's hit filter by township still stays inside the village
    assert {
        h.region_id for h in selectors.run_hits(scope=actors.vw, run_id=county_run.pk, township=tree.township.code)
    } == {tree.village.code}
    hit_elsewhere = next(
        h for h in selectors.run_hits(scope=actors.ca, run_id=county_run.pk) if h.region_id == tree.village2.code
    )
    with pytest.raises(NotFound):
        selectors.hit_get(scope=actors.vw, hit_id=hit_elsewhere.pk)


def test_supervisors_read_aggregates_only(actors, county_run):
    with pytest.raises(PermissionDenied):
        selectors.run_hits(scope=actors.sv, run_id=county_run.pk)
    counts = selectors.run_counts(scope=actors.sv, run_id=county_run.pk)
    assert counts.total == {"vehicle": 2} and counts.households == 2 and counts.flagged == 2


def test_another_county_sees_neither_the_run_nor_its_hits(actors, county_run):
    with pytest.raises(NotFound):
        selectors.run_get(scope=actors.out, run_id=county_run.pk)
    with pytest.raises(NotFound):
        selectors.run_hits(scope=replace(actors.out, role="county_verifier"), run_id=county_run.pk)
    assert county_run not in selectors.run_list(scope=actors.out)
    assert county_run in selectors.run_list(scope=actors.vw)  # the county run covered the village
