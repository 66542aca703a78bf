from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from doudi.core.scope import scope_for
from doudi.testing.fixtures import make_household


@pytest.fixture
def client_for(users: Any) -> Any:
    """A logged-in test client for one of the fixture users, by attribute name ("county_approver", ...)."""

    def build(role_name: str, **extra: Any) -> Client:
        client = Client(**extra)
        client.force_login(getattr(users, role_name))
        return client

    return build


@pytest.fixture
def household(tree: Any, county_scope: Any) -> Any:
    """A household of two in 甲村 of the test county."""
    return make_household(county_scope, tree.village, members=2, head_name="王大山")


@pytest.fixture
def other_household(tree: Any, users: Any) -> Any:
    """A household in the other county (its own approver created it)."""
    return make_household(scope_for(users.outsider), tree.other_village, members=1, head_name="外县人")
