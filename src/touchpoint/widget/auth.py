"""From a session token to a Visitor: signature and expiry, the account it names, the Origin allow-list,
and the workspace's verification mode as it is now (shared by the HTTP routes and the WebSocket)."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from touchpoint.kit.errors import NotFound, Unauthorized
from touchpoint.runtime import Runtime
from touchpoint.widget import guards, service, tokens
from touchpoint.widget.accounts import load_account


async def visitor_for(runtime: Runtime, token: str, connection: HTTPConnection) -> service.Visitor:
    try:
        claims = tokens.read_session(runtime.settings.secret_key, token)
    except tokens.TokenError as exc:
        raise Unauthorized(exc.message, code=exc.code) from exc
    try:
        account = await load_account(runtime, claims.account_key)
    except NotFound as exc:
        raise Unauthorized("this chat no longer exists", code="session_invalid") from exc
    guards.check_origin(account, connection)
    return service.check_visitor(account, claims)
