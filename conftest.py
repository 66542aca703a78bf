from typing import Any

import pytest

pytest_plugins = ["doudi.testing.fixtures"]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Seven users per test with the production hasher cost seconds of setup; hashing strength is Django's."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _private_var_dir(settings: Any, tmp_path: Any) -> None:
    """Files the system keeps (bank-file batches, …) go to a directory of the test's own."""
    settings.VAR_DIR = tmp_path / "var"


DB_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback", "live_server"}


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """With DOUDI_DB_TESTS_ONLY=1 (the PostgreSQL pass of `make test`), keep only tests that touch the database:
    the pure rules and batch packages give the same answers whatever database Django uses."""
    import os

    if os.environ.get("DOUDI_DB_TESTS_ONLY") != "1":
        return
    keep, drop = [], []
    for item in items:
        uses_db = item.get_closest_marker("django_db") is not None or bool(
            DB_FIXTURES & set(getattr(item, "fixturenames", ()))
        )
        (keep if uses_db else drop).append(item)
    config.hook.pytest_deselected(items=drop)
    items[:] = keep


def pytest_configure(config: Any) -> None:
    import logging

    # py4j (PySpark) logs at INFO from atexit handlers after the streams are closed; keep it quiet.
    logging.getLogger("py4j").setLevel(logging.WARNING)
