"""Active discovery: registered-poor households with severely disabled or seriously ill members, not yet helped."""

from __future__ import annotations

from doudi.cases import selectors
from doudi.cases.tests.conftest import intake
from doudi.registry import services as registry
from doudi.registry.models import Person
from doudi.testing.fixtures import make_household


def _flag(actors, person_id, **data):
    registry.person_update(
        scope=actors.ad, person_id=person_id, version=Person.objects.get(pk=person_id).version, data=data
    )


def test_candidates_are_severely_disabled_or_seriously_ill_members_of_registered_poor_households(
    actors, tree, django_assert_num_queries
):
    # Given a registered-poor household with a grade-1 disabled head, one with a seriously ill head,
    # one with a grade-3 disabled head, and a non-registered household with a grade-1 head
    severe = make_household(actors.ad, tree.village, members=1, registered_poor=True)
    _flag(actors, severe.head_id, disability_category="4", disability_grade=1)
    ill = make_household(actors.ad, tree.village2, members=1, registered_poor=True, head_name="李大山")
    _flag(actors, ill.head_id, serious_illness=True)
    mild = make_household(actors.ad, tree.village, members=1, registered_poor=True, head_name="赵大山")
    _flag(actors, mild.head_id, disability_category="4", disability_grade=3)
    not_poor = make_household(actors.ad, tree.village, members=1, head_name="钱大山")
    _flag(actors, not_poor.head_id, disability_category="4", disability_grade=1)
    other_county = make_household(actors.ad, tree.other_village, members=1, registered_poor=True, head_name="孙大山")
    _flag(actors, other_county.head_id, serious_illness=True)
    # When the township lists candidates (in one query)
    with django_assert_num_queries(1):
        found = [(m.household_id, m.person_id) for m in selectors.discovery_candidates(scope=actors.tr)]
    # Then only the first two, in its own area
    assert found == [(severe.pk, severe.head_id), (ill.pk, ill.head_id)]
    # And a household with an open application drops out
    intake(actors, severe, scope=actors.tr, discovered_by="active_discovery")
    assert [m.household_id for m in selectors.discovery_candidates(scope=actors.tr)] == [ill.pk]
