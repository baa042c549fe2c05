"""Agent sessions: a signed cookie, its CSRF token, and the login throttle.

The session is a cookie signed with itsdangerous (settings.secret_key), so the server keeps no session
table. It carries the agent and workspace ids, the per-session CSRF token, a fingerprint of the password
hash (changing a password ends every session of that agent) and its issue time (sessions expire after
SESSION_MAX_AGE whatever the browser does with the cookie).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

from touchpoint.config import Settings

SESSION_COOKIE = "tp_session"
LOGIN_CSRF_COOKIE = "tp_login_csrf"
SESSION_MAX_AGE = 12 * 3600  # one long shift; then the agent signs in again
LOGIN_CSRF_MAX_AGE = 24 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True, slots=True)
class SessionData:
    agent_id: int
    workspace_id: int
    csrf: str
    password_fingerprint: str
    issued_at: float

    @property
    def expires_at(self) -> float:
        return self.issued_at + SESSION_MAX_AGE


def password_fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=f"touchpoint.inbox.{purpose}")


def new_session(*, agent_id: int, workspace_id: int, password_hash: str) -> SessionData:
    return SessionData(agent_id, workspace_id, secrets.token_urlsafe(24), password_fingerprint(password_hash),
                       time.time())


def dump_session(settings: Settings, data: SessionData) -> str:
    return _serializer(settings, "session").dumps(
        {"a": data.agent_id, "w": data.workspace_id, "c": data.csrf, "p": data.password_fingerprint,
         "t": data.issued_at})


def load_session(settings: Settings, cookie: str | None) -> SessionData | None:
    """The session in the cookie, or None when it is missing, forged, malformed or expired."""
    if not cookie:
        return None
    try:
        raw: Any = _serializer(settings, "session").loads(cookie, max_age=SESSION_MAX_AGE)
        data = SessionData(int(raw["a"]), int(raw["w"]), str(raw["c"]), str(raw["p"]), float(raw["t"]))
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    return data if data.expires_at > time.time() else None


def set_session_cookie(response: Response, settings: Settings, data: SessionData) -> None:
    response.set_cookie(SESSION_COOKIE, dump_session(settings, data), max_age=SESSION_MAX_AGE, path="/",
                        httponly=True, samesite="lax", secure=settings.cookie_secure)


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.cookie_secure)


def tokens_match(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected).encode(), str(given).encode())


# Login CSRF: before there is a session, the login form is tied to a signed cookie holding a random token
# (double submit), so another site cannot sign a browser into an account of its choosing.

def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def dump_login_token(settings: Settings, token: str) -> str:
    return _serializer(settings, "login").dumps(token)


def load_login_token(settings: Settings, cookie: str | None) -> str | None:
    if not cookie:
        return None
    try:
        value = _serializer(settings, "login").loads(cookie, max_age=LOGIN_CSRF_MAX_AGE)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def set_login_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(LOGIN_CSRF_COOKIE, dump_login_token(settings, token), max_age=LOGIN_CSRF_MAX_AGE,
                        path="/login", httponly=True, samesite="lax", secure=settings.cookie_secure)


def clear_login_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login", httponly=True, samesite="lax",
                           secure=settings.cookie_secure)


# Failed-login throttle. Keys are (email, ip) and ip alone: the first stops guessing one agent's password,
# the second stops one address spraying many emails.

FAILURE_WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_EMAIL_IP = 5
MAX_FAILURES_PER_IP = 50


def throttle_keys(email: str, ip: str) -> list[tuple[str, int]]:
    email_hash = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]
    return [(f"login:{ip}:{email_hash}", MAX_FAILURES_PER_EMAIL_IP), (f"login-ip:{ip}", MAX_FAILURES_PER_IP)]


class MemoryLoginThrottle:
    """One process (embedded mode). Bounded: the oldest keys go first when it is full."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._failures: OrderedDict[str, list[float]] = OrderedDict()
        self._max_keys = max_keys

    def _recent(self, key: str, now: float) -> list[float]:
        stamps = [t for t in self._failures.get(key, ()) if t > now - FAILURE_WINDOW_SECONDS]
        if stamps:
            self._failures[key] = stamps
        else:
            self._failures.pop(key, None)
        return stamps

    async def retry_after(self, email: str, ip: str) -> int:
        """Seconds until another attempt is allowed; 0 when allowed now."""
        now = time.time()
        wait = 0.0
        for key, limit in throttle_keys(email, ip):
            stamps = self._recent(key, now)
            if len(stamps) >= limit:
                wait = max(wait, stamps[-limit] + FAILURE_WINDOW_SECONDS - now)
        return int(wait) + 1 if wait > 0 else 0

    async def failed(self, email: str, ip: str) -> None:
        now = time.time()
        for key, _limit in throttle_keys(email, ip):
            self._failures[key] = [*self._recent(key, now), now]
            self._failures.move_to_end(key)
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)

    async def succeeded(self, email: str, ip: str) -> None:
        self._failures.pop(throttle_keys(email, ip)[0][0], None)


class RedisLoginThrottle:
    """Several processes (scale-out): failures are counted in Redis so every replica sees them. A fixed
    window per key (INCR + EXPIRE) is enough for a throttle. Logins are rare, so a short-lived connection
    per attempt costs nothing and leaves no pool to close."""

    def __init__(self, url: str) -> None:
        self._url = url

    async def retry_after(self, email: str, ip: str) -> int:
        import redis.asyncio as redis

        async with redis.from_url(self._url) as client:
            wait = 0
            for key, limit in throttle_keys(email, ip):
                count = int(await client.get(key) or 0)
                if count >= limit:
                    wait = max(wait, int(await client.ttl(key)), 1)
            return wait

    async def failed(self, email: str, ip: str) -> None:
        import redis.asyncio as redis

        async with redis.from_url(self._url) as client:
            for key, _limit in throttle_keys(email, ip):
                async with client.pipeline(transaction=True) as pipe:
                    pipe.incr(key)
                    pipe.expire(key, FAILURE_WINDOW_SECONDS, nx=True)
                    await pipe.execute()

    async def succeeded(self, email: str, ip: str) -> None:
        import redis.asyncio as redis

        async with redis.from_url(self._url) as client:
            await client.delete(throttle_keys(email, ip)[0][0])


LoginThrottle = MemoryLoginThrottle | RedisLoginThrottle


def make_login_throttle(redis_url: str | None) -> LoginThrottle:
    return RedisLoginThrottle(redis_url) if redis_url else MemoryLoginThrottle()
