"""Abuse limits of the public widget endpoints: Origin allow-list, per-visitor and per-IP rates, the
per-connection frame budget of a WebSocket.

Rates use the dispatcher's GCRA limiter (in memory, or Redis when several replicas share the load), so
a visitor cannot get around the limit by spreading calls over replicas. A budget of N per minute allows
a burst of N, then one every 60/N seconds.
"""

from __future__ import annotations

import collections
import math
import time
from typing import Any

from starlette.requests import HTTPConnection

from touchpoint.delivery.ratelimit import Limit, RateLimiter, make_rate_limiter
from touchpoint.kit.errors import Forbidden, RateLimited
from touchpoint.widget.accounts import WidgetAccount

# Many visitors can share one address (a hotel lobby, an office NAT), so the per-IP budget is wider.
IP_FACTOR = 10
# Reads (transcript polls, receipts) are cheaper than sends and the HTTP fallback polls every few seconds.
READ_FACTOR = 6


class TooManyRequests(RateLimited):
    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))
        self.details = {"retry_after": self.retry_after}

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


def limiter_of(state: Any) -> RateLimiter:
    """The app's widget limiter (made in the router lifespan; made here if a caller skipped it)."""
    limiter = getattr(state, "widget_limiter", None)
    if limiter is None:
        settings = state.runtime.settings
        limiter = make_rate_limiter(settings.redis_url)
        state.widget_limiter = limiter
    return limiter  # type: ignore[no-any-return]


def client_ip(connection: HTTPConnection) -> str:
    # Behind a proxy, uvicorn's --proxy-headers/--forwarded-allow-ips puts the real address here.
    return connection.client.host if connection.client else "unknown"


def _per_minute(key: str, per_minute: int) -> Limit:
    per_minute = max(per_minute, 1)
    return Limit(key, per_minute / 60.0, per_minute)


async def take(limiter: RateLimiter, limits: list[Limit], what: str) -> None:
    wait = await limiter.acquire(limits)
    if wait > 0:
        raise TooManyRequests(f"too many {what}; try again in a moment", wait)


def send_limits(rate_per_minute: int, account_key: str, visitor_id: str, ip: str) -> list[Limit]:
    return [_per_minute(f"wsend:{account_key}:{visitor_id}", rate_per_minute),
            _per_minute(f"wsend-ip:{ip}", rate_per_minute * IP_FACTOR)]


def read_limits(rate_per_minute: int, account_key: str, visitor_id: str, ip: str) -> list[Limit]:
    return [_per_minute(f"wread:{account_key}:{visitor_id}", rate_per_minute * READ_FACTOR),
            _per_minute(f"wread-ip:{ip}", rate_per_minute * READ_FACTOR * IP_FACTOR)]


def session_limits(rate_per_minute: int, ip: str) -> list[Limit]:
    return [_per_minute(f"wsession-ip:{ip}", rate_per_minute)]


def check_origin(account: WidgetAccount, connection: HTTPConnection) -> None:
    """Only the brand's own sites may embed its chat, when it lists them. Browsers always send Origin on
    cross-site calls and WebSockets; a missing one is accepted only for a same-origin request."""
    allowed = account.allowed_origins
    if not allowed:
        return
    origin = connection.headers.get("origin")
    own = f"{connection.url.scheme.replace('ws', 'http')}://{connection.url.netloc}".lower()
    if origin is None:
        if connection.headers.get("sec-fetch-site") == "same-origin":
            return
        raise Forbidden("this request did not say which site it came from", code="origin_not_allowed")
    normalized = origin.strip().rstrip("/").lower()
    if normalized == own or normalized in allowed:
        return
    raise Forbidden("this site is not allowed to embed this chat", code="origin_not_allowed")


class FrameWindow:
    """Frames a WebSocket may send in a sliding minute; beyond it the socket is closed (1008)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = max(per_minute, 1)
        self._times: collections.deque[float] = collections.deque()

    def allow(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        while self._times and now - self._times[0] >= 60.0:
            self._times.popleft()
        if len(self._times) >= self.per_minute:
            return False
        self._times.append(now)
        return True
