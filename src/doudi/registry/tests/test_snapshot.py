import datetime as dt
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from doudi.core.errors import PermissionDenied
from doudi.core.scope import scope_for
from doudi.registry import services
from doudi.registry.snapshot import snapshot_registry
from doudi.testing.fixtures import make_household


def test_a_snapshot_holds_the_scopes_live_caseload_as_typed_parquet(tree, county_scope, users, tmp_path):
    # given two households in the county and one in the other county
    first = make_household(county_scope, tree.village, members=3)
    make_household(county_scope, tree.village2, members=1)
    make_household(scope_for(users.admin), tree.other_village, members=2)
    services.item_add(
        scope=county_scope,
        household_id=first.pk,
        kind_group="income",
        data={"kind": "wage", "monthly_amount": "1500.25", "start_date": "2025-01-01"},
    )
    services.item_add(
        scope=county_scope,
        household_id=first.pk,
        kind_group="income",
        data={"kind": "wage", "monthly_amount": "99.00", "start_date": "2025-01-01", "end_date": "2025-02-01"},
    )
    services.item_add(
        scope=county_scope,
        household_id=first.pk,
        kind_group="asset",
        data={"kind": "deposit", "value": "20000", "count": 1, "start_date": "2025-01-01"},
    )
    # when the county snapshots its caseload
    snap = snapshot_registry(scope=county_scope, directory=tmp_path, as_of=dt.date(2025, 6, 1))
    # then only in-scope live rows in force on the date are there, with Decimal money
    assert snap.rows == {"households": 2, "persons": 4, "incomes": 1, "assets": 1, "expenses": 0}
    incomes = pq.read_table(snap.path("incomes")).to_pylist()
    assert incomes == [
        {"household_id": first.pk, "person_id": None, "kind": "wage", "monthly_amount": Decimal("1500.25")}
    ]
    persons = pq.read_table(snap.path("persons"))
    assert persons.schema.field("birth_date").type.__str__() == "date32[day]"
    assert set(pq.read_table(snap.path("households")).column("region_code").to_pylist()) == {
        tree.village.code,
        tree.village2.code,
    }


def test_supervisors_cannot_snapshot_personal_records(tree, users, tmp_path):
    with pytest.raises(PermissionDenied):
        snapshot_registry(scope=scope_for(users.supervisor), directory=tmp_path, as_of=dt.date(2025, 1, 1))
