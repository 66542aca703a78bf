"""政策模拟: parameter changes applied to the registry caseload in scope, aggregates only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from doudi.core.errors import ApplicationError, PermissionDenied
from doudi.core.scope import scope_for
from doudi.policy import selectors
from doudi.registry import services
from doudi.testing.fixtures import make_household

URL = "policy:simulate"


def add_income(scope: Any, household: Any, amount: str, kind: str = "wage") -> None:
    services.item_add(
        scope=scope,
        household_id=household.pk,
        kind_group="income",
        data={"kind": kind, "monthly_amount": amount, "start_date": "2024-01-01"},
    )


@pytest.fixture
def caseload(tree: Any, users: Any, county_scope: Any) -> dict[str, Any]:
    """Test county: a poor household (eligible), one just above the standard, one well-off; one poor household
    in the other county."""
    poor = make_household(county_scope, tree.village, members=2, head_name="王大山")
    add_income(county_scope, poor, "300")
    edge = make_household(county_scope, tree.village2, members=2, head_name="李边缘")
    add_income(county_scope, edge, "1100")
    rich = make_household(county_scope, tree.village, members=1, head_name="赵富裕")
    add_income(county_scope, rich, "9000")
    outsider = scope_for(users.outsider)
    other = make_household(outsider, tree.other_village, members=2, head_name="外县人")
    add_income(outsider, other, "300")
    return {"poor": poor, "edge": edge, "rich": rich, "other": other}


def post(client: Any, **data: Any) -> Any:
    payload = {"path": "dibao.standard", "mode": "pct_up", "amount": "10", "effective_from": today()}
    payload.update(data)
    return client.post(reverse(URL), payload)


def today() -> str:
    return timezone.localdate().isoformat()


def row_of(result: Any, code: str) -> Any:
    return next(r.result for r in result.rows if r.region_code == code)


@pytest.mark.parametrize("role", ["county_approver", "supervisor", "admin"])
def test_the_simulation_page_opens_for_approvers_supervisors_and_administrators(client_for, caseload, role):
    response = client_for(role).get(reverse(URL))
    assert response.status_code == 200
    assert "政策模拟" in response.content.decode()


@pytest.mark.parametrize("role", ["village_worker", "township_reviewer", "county_verifier"])
def test_other_roles_are_refused_on_get_and_post(client_for, caseload, role):
    client = client_for(role)
    assert client.get(reverse(URL)).status_code == 403
    assert post(client).status_code == 403


def test_raising_the_standard_raises_the_cost_and_the_number_of_households_gaining(client_for, caseload):
    response = post(client_for("county_approver"), amount="10")
    assert response.status_code == 200
    result = response.context["result"]
    total = result.total
    # Only the approver's county is in the caseload
    assert total.households == 3 and [r.region_code for r in result.rows] == ["469001"]
    assert total.reform_cost > total.baseline_cost > 0
    assert total.change == total.reform_cost - total.baseline_cost
    assert total.gaining >= 1 and total.losing == 0 and total.no_longer_eligible == 0
    assert total.gaining + total.losing + total.unchanged == total.households
    # The well-off household is unchanged; the report shows figures, no personal data
    assert total.unchanged >= 1
    page = response.content.decode()
    for name in ("王大山", "李边缘", "赵富裕"):
        assert name not in page
    assert f"{total.reform_cost:.2f}" in page


def test_lowering_the_standard_makes_households_lose_and_some_become_ineligible(client_for, caseload):
    result = post(client_for("admin"), mode="pct_down", amount="20").context["result"]
    assert result.total.reform_cost < result.total.baseline_cost
    assert result.total.losing >= 1 and result.total.no_longer_eligible >= 1


def test_a_change_limited_to_one_county_changes_only_that_county(client_for, caseload):
    response = post(client_for("admin"), regions=["469001000000"], amount="10")
    assert response.status_code == 200
    result = response.context["result"]
    county, other = row_of(result, "469001"), row_of(result, "469002")
    assert county.change > 0 and county.gaining >= 1
    assert other.change == Decimal("0.00") and other.gaining == other.losing == 0
    assert other.baseline_cost > 0 and other.unchanged == other.households == 1
    assert result.regions == ["五指山市"]


def test_a_set_value_everywhere_applies_in_both_counties(client_for, caseload):
    result = post(client_for("supervisor"), mode="set", amount="900").context["result"]
    assert row_of(result, "469001").change > 0 and row_of(result, "469002").change > 0
    assert result.total.households == 4


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"path": "dibao.nope"}, "path"),
        ({"path": ""}, "path"),
        ({"amount": "-5"}, "amount"),
        ({"mode": "set", "amount": "-100"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"mode": "pct_down", "amount": "150"}, "amount"),
        ({"mode": "grow"}, "mode"),
        ({"effective_from": "2026-13-01"}, "effective_from"),
        ({"effective_from": "yesterday"}, "effective_from"),
        ({"effective_from": "2026-02-30"}, "effective_from"),
        ({"regions": ["469002000000"]}, "regions"),
    ],
)
def test_bad_input_is_refused_with_422_naming_the_field(client_for, caseload, data, field):
    response = post(client_for("county_approver"), **data)
    assert response.status_code == 422
    form = response.context["form"]
    assert field in form.errors, form.errors
    assert response.context["result"] is None


def test_the_selector_names_the_field_for_an_unknown_path_and_refuses_other_roles(users, caseload):
    scope = scope_for(users.admin)
    with pytest.raises(ApplicationError) as exc:
        selectors.policy_simulate(scope=scope, path="dibao.nope", mode="pct_up", amount="5")
    assert exc.value.field == "path" and exc.value.status == 422
    with pytest.raises(ApplicationError) as exc:
        selectors.policy_simulate(scope=scope, path="dibao.standard", mode="subtract", amount="5000")
    assert exc.value.field == "amount"
    with pytest.raises(PermissionDenied):
        selectors.policy_simulate(
            scope=scope_for(users.village_worker), path="dibao.standard", mode="pct_up", amount="5"
        )


def test_the_caseload_matches_the_case_input_of_each_household(users, caseload):
    """The bulk mapping gives the same tables as the per-case input the case workflow uses."""
    from doudi.cases.rules_input import household_case
    from doudi.rules import evaluate, load_parameters

    when = timezone.localdate()
    scope = scope_for(users.admin)
    tables = selectors.simulation_caseload(scope, when)
    assert tables["households"].num_rows == 4
    from doudi.rules.simulation import simulate_caseload

    params = load_parameters()
    report = simulate_caseload("dibao", tables, when, params, params)
    expected = sum(
        (evaluate("dibao", household_case(h, as_of=when), params).monthly_amount for h in caseload.values()),
        Decimal(0),
    )
    assert report.total.baseline_cost == expected


def test_the_parameter_list_links_to_the_simulation_for_allowed_roles(client_for, caseload):
    link = reverse(URL)
    assert link in client_for("county_approver").get(reverse("policy:parameter_list")).content.decode()
    assert link not in client_for("village_worker").get(reverse("policy:parameter_list")).content.decode()


def test_an_empty_caseload_gives_zero_figures_and_says_so(client_for, users):
    response = post(client_for("county_approver"))
    assert response.status_code == 200
    total = response.context["result"].total
    assert total.households == 0 and total.baseline_cost == total.reform_cost == Decimal("0.00")
    assert "管辖范围内没有在册家庭" in response.content.decode()
