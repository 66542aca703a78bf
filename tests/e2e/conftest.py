"""End-to-end browser tests: Playwright's sync API drives Debian's chromium (headless) against pytest-django's
`live_server` (a real HTTP server on a thread, with a transactional database).

* Runs in the SQLite pass of `make test` only: the PostgreSQL pass (DOUDI_DB_TESTS_ONLY=1) deselects these tests,
  as they test the pages, not the database.
* Chromium missing: skipped with the reason, except under CI=true (`.ci/run` installs it), where it fails.
* Playwright's sync API keeps an asyncio loop in the main thread; Django then refuses ORM calls from that thread
  (SynchronousOnlyOperation) unless DJANGO_ALLOW_ASYNC_UNSAFE is set: the fixture sets it while the browser runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from doudi.testing.fixtures import PASSWORD

E2E_DIR = Path(__file__).parent
CHROMIUM = os.environ.get("DOUDI_E2E_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_MS = 20_000


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end browser test (Playwright + chromium; SQLite pass only)")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    e2e = [item for item in items if E2E_DIR in Path(str(item.fspath)).parents]
    for item in e2e:
        item.add_marker(pytest.mark.e2e)
    if os.environ.get("DOUDI_DB_TESTS_ONLY") == "1" and e2e:
        chosen = set(map(id, e2e))
        config.hook.pytest_deselected(items=e2e)
        items[:] = [item for item in items if id(item) not in chosen]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true requires the end-to-end test; .ci/run installs chromium)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _unavailable(f"chromium not found at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        _unavailable("playwright is not installed")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def open_as(browser: Any, live_server: Any, users: Any) -> Iterator[Callable[[str], Any]]:
    """`open_as("county_approver")` → a Playwright page logged in as that fixture user (one browser context per
    role, kept for the test, so several roles can work on the same case side by side)."""
    contexts: dict[str, Any] = {}
    pages: dict[str, Any] = {}

    def build(role_name: str) -> Any:
        if role_name in pages:
            return pages[role_name]
        context = browser.new_context(base_url=live_server.url, locale="zh-CN", accept_downloads=True)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        login(page, getattr(users, role_name).username)
        contexts[role_name], pages[role_name] = context, page
        return page

    yield build
    for context in contexts.values():
        context.close()


def login(page: Any, username: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.locator("form.stacked button[type=submit]").click()
    page.wait_for_url(re.compile(r"^(?!.*/login/).*$"))
