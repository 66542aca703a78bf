"""Rate limiting with counters in the database: a fixed window per bucket and client; the client from
REMOTE_ADDR, or from X-Forwarded-For only behind the configured number of trusted proxies."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from doudi.core import ratelimit
from doudi.core.models import RateCounter

pytestmark = pytest.mark.django_db


def test_a_client_may_use_its_budget_then_is_refused_until_the_window_ends():
    limit = ratelimit.Limit("t", limit=3, window=60)
    now = 1_000_040.0  # 20 s into the window that starts at 1_000_020
    assert [ratelimit.hit(limit, "1.2.3.4", now=now) for _ in range(3)] == [1, 2, 3]
    with pytest.raises(ratelimit.RateLimited) as exc:
        ratelimit.hit(limit, "1.2.3.4", now=now)
    assert exc.value.status == 429 and exc.value.retry_after == 40 and exc.value.code == "throttled"
    assert ratelimit.hit(limit, "5.6.7.8", now=now) == 1  # another client
    assert ratelimit.hit(ratelimit.Limit("other", 3, 60), "1.2.3.4", now=now) == 1  # another bucket
    assert ratelimit.hit(limit, "1.2.3.4", now=now + 60) == 1  # the next window


def test_counter_keys_do_not_contain_the_address():
    key = ratelimit._key("t", "203.0.113.7", 0)
    assert "203.0.113.7" not in key
    ratelimit.hit(ratelimit.Limit("t", 3, 60), "203.0.113.7")
    keys = list(RateCounter.objects.values_list("key", flat=True))
    assert keys and all("203.0.113" not in k for k in keys)


def test_the_count_is_one_row_in_the_database_shared_by_every_worker_and_ended_windows_are_deleted():
    limit = ratelimit.Limit("shared", limit=5, window=60)
    now = 2_000_010.0
    ratelimit.hit(limit, "1.2.3.4", now=now)
    ratelimit.hit(limit, "1.2.3.4", now=now + 1)
    # Another process reads the same row: what it counts continues the same budget.
    (row,) = RateCounter.objects.all()
    assert row.count == 2 and row.expires_at.timestamp() == 2_000_040
    assert ratelimit.hit(limit, "1.2.3.4", now=now + 2) == 3
    # The next window starts a new counter, and the ended one is deleted then.
    assert ratelimit.hit(limit, "1.2.3.4", now=now + 60) == 1
    assert RateCounter.objects.count() == 1 and RateCounter.objects.get().expires_at.timestamp() == 2_000_100


def test_reset_forgets_every_counter():
    limit = ratelimit.Limit("r", limit=1, window=60)
    ratelimit.hit(limit, "1.2.3.4")
    with pytest.raises(ratelimit.RateLimited):
        ratelimit.hit(limit, "1.2.3.4")
    ratelimit.reset()
    assert ratelimit.hit(limit, "1.2.3.4") == 1


def test_x_forwarded_for_is_ignored_without_trusted_proxies(settings):
    settings.DOUDI_TRUSTED_PROXY_HOPS = 0
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.1.1.1")
    assert ratelimit.client_ip(request) == "10.0.0.1"


def test_behind_one_proxy_the_address_it_saw_is_the_client(settings):
    settings.DOUDI_TRUSTED_PROXY_HOPS = 1
    # A client may forge the left entries; the proxy appends the address it saw.
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.4")
    assert ratelimit.client_ip(request) == "198.51.100.4"
    bare = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1")
    assert ratelimit.client_ip(bare) == "10.0.0.1"


def test_the_decorator_counts_only_the_given_methods():
    calls = []

    @ratelimit.limited(ratelimit.Limit("deco", limit=1, window=60))
    def view(request):
        calls.append(request.method)
        return "ok"

    factory = RequestFactory()
    assert view(factory.get("/")) == "ok" and view(factory.get("/")) == "ok"
    assert view(factory.post("/")) == "ok"
    with pytest.raises(ratelimit.RateLimited):
        view(factory.post("/"))
