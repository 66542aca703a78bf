"""Batch tests run without Django (``-p no:django``).

The root conftest's autouse fixtures that need pytest-django are replaced here by no-ops of the same name.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing() -> None:
    """No Django settings to speed up in batch tests."""
