"""Widget credentials: the short-lived session token, the long-lived visitor token, the identity hash.

- The session token (Bearer on every widget call) names the channel account, the visitor and an expiry.
  It is signed with the settings secret, so the server keeps no session table.
- The visitor token lives in the browser's localStorage so an anonymous visitor finds their conversation
  after a reload. It only ever resumes anonymous visitors ("v:..."): a signed-in user must prove who they
  are with a fresh user_hash each session, so a shared computer does not leak their history after logout.
- user_hash = hex HMAC-SHA256(workspace widget secret, user_id), computed by the brand's own server.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from touchpoint.kit.signatures import constant_time_equals, hmac_sha256_hex

SESSION_SALT = "touchpoint.widget.session"
VISITOR_SALT = "touchpoint.widget.visitor"
SESSION_TTL_SECONDS = 3600
# The visitor token is re-issued on every session start, so this only ends visitors gone for a year.
VISITOR_TOKEN_MAX_AGE = 400 * 24 * 3600
VERIFIED_PREFIX = "u:"
ANONYMOUS_PREFIX = "v:"


class TokenError(Exception):
    """The token is not ours, was tampered with, or has expired. `code` is the stable error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class SessionClaims:
    account_key: str
    visitor_id: str
    expires_at: int
    name: str | None = None
    email: str | None = None

    @property
    def verified(self) -> bool:
        return self.visitor_id.startswith(VERIFIED_PREFIX)

    @property
    def user_id(self) -> str | None:
        return self.visitor_id[len(VERIFIED_PREFIX):] if self.verified else None


def new_anonymous_visitor_id() -> str:
    return ANONYMOUS_PREFIX + secrets.token_urlsafe(16)


def verified_visitor_id(user_id: str) -> str:
    return VERIFIED_PREFIX + user_id


def issue_session(secret_key: str, claims: SessionClaims) -> str:
    payload: dict[str, object] = {"a": claims.account_key, "v": claims.visitor_id, "x": claims.expires_at}
    if claims.name:
        payload["n"] = claims.name
    if claims.email:
        payload["e"] = claims.email
    return URLSafeSerializer(secret_key, salt=SESSION_SALT).dumps(payload)


def session_claims(secret_key: str, account_key: str, visitor_id: str, *, name: str | None = None,
                   email: str | None = None, ttl: int = SESSION_TTL_SECONDS) -> SessionClaims:
    return SessionClaims(account_key, visitor_id, int(time.time()) + ttl, name, email)


def read_session(secret_key: str, token: str, *, now: float | None = None) -> SessionClaims:
    try:
        data = URLSafeSerializer(secret_key, salt=SESSION_SALT).loads(token)
    except BadSignature as exc:
        raise TokenError("session_invalid", "the session token is not valid; start a new session") from exc
    if not isinstance(data, dict) or not isinstance(data.get("a"), str) or not isinstance(data.get("v"), str) \
            or not isinstance(data.get("x"), int):
        raise TokenError("session_invalid", "the session token is not valid; start a new session")
    if data["x"] <= (now if now is not None else time.time()):
        raise TokenError("session_expired", "the session has expired; start a new session")
    return SessionClaims(data["a"], data["v"], data["x"], data.get("n"), data.get("e"))


def issue_visitor_token(secret_key: str, account_key: str, visitor_id: str) -> str:
    return URLSafeTimedSerializer(secret_key, salt=VISITOR_SALT).dumps({"a": account_key, "v": visitor_id})


def read_visitor_token(secret_key: str, token: str, account_key: str) -> str | None:
    """The anonymous visitor id in a token we issued for this account, or None (then: a new visitor)."""
    try:
        data = URLSafeTimedSerializer(secret_key, salt=VISITOR_SALT).loads(token, max_age=VISITOR_TOKEN_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or data.get("a") != account_key:
        return None
    visitor_id = data.get("v")
    if not isinstance(visitor_id, str) or not visitor_id.startswith(ANONYMOUS_PREFIX):
        return None
    return visitor_id


def user_hash(widget_secret: str, user_id: str) -> str:
    """What the brand's server computes and passes to the widget as data-user-hash."""
    return hmac_sha256_hex(widget_secret, user_id)


def user_hash_matches(widget_secret: str, user_id: str, given: str | None) -> bool:
    if not widget_secret:
        return False
    return constant_time_equals(user_hash(widget_secret, user_id), (given or "").strip().lower())
