"""The county's ≥ 30 % random home-visit sample: rounded up, kin/disputed always in, reproducible by batch id."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from doudi.cases import sampling, services
from doudi.cases.models import Application
from doudi.cases.tests.conftest import intake, to_county_approval_2021
from doudi.core.errors import ApplicationError, PermissionDenied
from doudi.testing.fixtures import make_household


def test_the_sample_is_at_least_thirty_percent_rounded_up_and_includes_every_mandatory_case():
    population = list(range(1, 11))
    sample = sampling.draw(7, population, [3], Decimal("0.30"))
    assert 3 in sample
    assert len(sample) == 1 + 3  # ceil(0.3 × 9 others) = 3
    assert sampling.sample_size(1, Decimal("0.30")) == 1
    assert sampling.sample_size(7, Decimal("0.30")) == 3


def test_the_same_batch_id_draws_the_same_sample_and_another_id_may_differ():
    population = list(range(100, 140))
    first = sampling.draw(42, population, [], Decimal("0.30"))
    assert sampling.draw(42, list(reversed(population)), [], Decimal("0.30")) == first
    assert len(first) == 12
    assert any(sampling.draw(i, population, [], Decimal("0.30")) != first for i in range(43, 48))


def test_a_ratio_below_thirty_percent_is_refused():
    with pytest.raises(ValueError):
        sampling.draw(1, [1, 2, 3], [], Decimal("0.2"))


def test_a_county_batch_samples_its_pending_approvals_and_keeps_the_sample(actors, tree):
    # Given four cases waiting for county approval, one of them kin-declared
    apps = []
    for i in range(4):
        household = make_household(
            actors.ad, tree.village if i % 2 else tree.village2, members=1, head_name="王" + "甲乙丙丁"[i]
        )
        kin = [{"name": "李干部", "relation": "child", "position": "staff"}] if i == 0 else None
        app = intake(actors, household, scope=actors.tr, kin_declared=bool(kin), kin_details=kin)
        to_county_approval_2021(actors, app)
        apps.append(app)
    # When the county draws its batch
    batch = services.spot_check_batch_create(scope=actors.ca, program="dibao")
    # Then all four are in the population, the kin case is mandatory, and 1 + ceil(0.3 × 3) = 2 are visited
    assert batch.population == sorted(a.pk for a in apps)
    assert batch.mandatory == [apps[0].pk]
    assert len(batch.sample) == 2 and apps[0].pk in batch.sample
    assert batch.sample == sampling.draw(batch.pk, batch.population, batch.mandatory, batch.ratio)
    selected = set(Application.objects.filter(spot_check_selected=True).values_list("pk", flat=True))
    assert selected == set(batch.sample)
    # And a second draw finds nothing new to sample
    with pytest.raises(ApplicationError) as exc:
        services.spot_check_batch_create(scope=actors.ca, program="dibao")
    assert exc.value.code == "nothing_to_sample"


def test_only_the_county_approver_draws_and_only_in_its_own_county(actors, tree):
    with pytest.raises(PermissionDenied):
        services.spot_check_batch_create(scope=actors.tr, program="dibao")
    with pytest.raises(ApplicationError) as exc:
        services.spot_check_batch_create(scope=actors.ca, program="dibao", county_code=tree.other_county.code)
    assert exc.value.code == "not_county"
    assert dt  # dates are not needed here
