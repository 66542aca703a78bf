"""Rate limiting for public (anonymous) endpoints: fixed-window counters in the database.

A counter per (bucket, client, window): one atomic ``UPDATE … SET count = count + 1`` (or an INSERT when the
window starts), then a read of the count; the rows of ended windows are deleted when a new window starts. The
counters live in the database (``core.RateCounter``), like the failed logins, so that every worker process and
every application server counts against one budget without a cache server. The client is the caller's IP
address, hashed with the secret key before it becomes part of a key (no address is kept in the clear).
Counting commits at once (requests are not atomic), so a submission that fails later still counts.

**Behind a reverse proxy** every request arrives from the proxy's address, so all visitors would share one
budget. Set `DOUDI_TRUSTED_PROXY_HOPS` to the number of proxies in front of the application (nginx alone = 1):
the client is then the address that many hops from the right of `X-Forwarded-For`, the one the nearest trusted
proxy saw. Left at 0 (the default), `X-Forwarded-For` is ignored, because any client can send that header and
would otherwise choose its own key. The proxy must *append* to the header (nginx:
`proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;`).
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest

from doudi.core.errors import ApplicationError
from doudi.core.models import RateCounter
from doudi.core.services import client_hash

P = ParamSpec("P")
R = TypeVar("R")


class RateLimited(ApplicationError):
    def __init__(self, retry_after: int) -> None:
        minutes = max(1, (retry_after + 59) // 60)
        super().__init__(
            "throttled",
            f"提交或查询过于频繁，请{minutes}分钟后再试。",
            None,
            status=429,
            extra={"retry_after": retry_after},
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    bucket: str
    limit: int
    window: int  # seconds


def client_ip(request: HttpRequest) -> str:
    """The caller's address: REMOTE_ADDR, or the right entry of X-Forwarded-For behind trusted proxies."""
    hops = int(getattr(settings, "DOUDI_TRUSTED_PROXY_HOPS", 0) or 0)
    remote = str(request.META.get("REMOTE_ADDR", "") or "")
    if hops <= 0:
        return remote
    forwarded = [p.strip() for p in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if p.strip()]
    if len(forwarded) < hops:
        return remote  # fewer entries than proxies: the request did not come through them all
    return forwarded[-hops]


def _key(bucket: str, client: str, window_start: int) -> str:
    digest = client_hash(client)[:32]
    return f"doudi:rl:{bucket}:{digest}:{window_start}"


def hit(limit: Limit, client: str, *, now: float | None = None) -> int:
    """Count one request of `client` in `limit.bucket`; raise RateLimited once the window's budget is spent."""
    moment = time.time() if now is None else now
    window_start = int(moment // limit.window) * limit.window
    count = _increment(_key(limit.bucket, client, window_start), ends=window_start + limit.window, now=moment)
    if count > limit.limit:
        raise RateLimited(retry_after=max(1, window_start + limit.window - int(moment)))
    return count


def _increment(key: str, *, ends: int, now: float) -> int:
    """Add one to the counter ``key`` (created for a window ending at ``ends``); returns its new value."""
    counters = RateCounter.objects
    with transaction.atomic():
        if not counters.filter(key=key).update(count=F("count") + 1):
            try:
                with transaction.atomic():
                    counters.create(key=key, count=1, expires_at=dt.datetime.fromtimestamp(ends, tz=dt.UTC))
            except IntegrityError:  # a concurrent request started the window first
                counters.filter(key=key).update(count=F("count") + 1)
            else:  # a new window: the counters of ended windows go
                counters.filter(expires_at__lte=dt.datetime.fromtimestamp(now, tz=dt.UTC)).delete()
        return int(counters.filter(key=key).values_list("count", flat=True).get())


def reset() -> None:
    """Forget every counter (the access-matrix tests call public forms more often than a person may)."""
    RateCounter.objects.all().delete()


def check(request: HttpRequest, *limits: Limit) -> None:
    client = client_ip(request)
    for limit in limits:
        hit(limit, client)


def limited(
    *limits: Limit, methods: frozenset[str] = frozenset({"POST"})
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a view: requests with one of `methods` count against every limit (RateLimited when spent)."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            request: Any = args[0]
            if request.method in methods:
                check(request, *limits)
            return view(*args, **kwargs)

        return wrapper

    return decorate
