from __future__ import annotations

from typing import Any

import pytest
from django.test import Client


@pytest.fixture
def client_for(users: Any) -> Any:
    """A logged-in test client for one of the fixture users, by attribute name ("county_approver", ...)."""

    def build(role_name: str, **extra: Any) -> Client:
        client = Client(**extra)
        client.force_login(getattr(users, role_name))
        return client

    return build
