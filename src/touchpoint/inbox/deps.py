"""FastAPI plumbing for the inbox: the signed-in agent (`CurrentAgent`), CSRF checks (`CsrfAgent`), and
a route class that turns failures into pages a person can read instead of JSON.

A page request without a valid session is redirected to /login (HTMX requests get `HX-Redirect`, so the
whole page navigates instead of a login form being swapped into a fragment).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import OperationalError

from touchpoint.inbox import auth, repository
from touchpoint.inbox.service import SignedInAgent
from touchpoint.inbox.templating import templates
from touchpoint.kit.errors import AppError, Forbidden
from touchpoint.runtime import Runtime

log = logging.getLogger(__name__)

# Ids in URLs and forms stay within BIGINT: a larger number is a 422, not a database error.
MAX_ID = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


# Pages load only our own scripts and styles (no inline script, so an injected <script> would not run
# even if escaping failed somewhere), talk only to us, and cannot be framed (clickjacking).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class LoginRequired(Exception):
    """No valid session: send the browser to the login page."""


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


async def signed_in_agent(runtime: Runtime, cookie: str | None) -> SignedInAgent | None:
    """The agent behind a session cookie, re-checked against the database on every request: a
    deactivated agent or a changed password ends the session at once."""
    data = auth.load_session(runtime.settings, cookie)
    if data is None:
        return None
    async with runtime.sessionmaker() as session:
        found = await repository.agent_with_workspace(session, data.agent_id, data.workspace_id)
    if found is None:
        return None
    agent, workspace = found
    if not agent.is_active or auth.password_fingerprint(agent.password_hash) != data.password_fingerprint:
        return None
    return SignedInAgent(id=agent.id, workspace_id=workspace.id, name=agent.name, email=agent.email,
                         role=agent.role, csrf=data.csrf, workspace_name=workspace.name,
                         workspace_timezone=workspace.timezone)


async def current_agent(request: Request, runtime: RuntimeDep) -> SignedInAgent:
    agent = await signed_in_agent(runtime, request.cookies.get(auth.SESSION_COOKIE))
    if agent is None:
        raise LoginRequired()
    return agent


CurrentAgent = Annotated[SignedInAgent, Depends(current_agent)]


async def csrf_checked(request: Request, agent: CurrentAgent) -> SignedInAgent:
    """State-changing requests carry the session's CSRF token: HTMX in the X-CSRF-Token header, plain
    forms in a hidden field."""
    given = request.headers.get(auth.CSRF_HEADER)
    if not given:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(auth.CSRF_FIELD)
            given = value if isinstance(value, str) else None
    if not auth.tokens_match(agent.csrf, given):
        raise Forbidden("This form has expired or did not come from Touchpoint. Reload the page and try again.",
                        code="csrf_failed")
    return agent


CsrfAgent = Annotated[SignedInAgent, Depends(csrf_checked)]


def login_redirect(request: Request) -> Response:
    target = request.url.path
    if request.method != "GET" or is_htmx(request) or not target.startswith("/inbox"):
        target = "/inbox"
    elif request.url.query:
        target += "?" + request.url.query
    location = "/login?next=" + quote(target, safe="/")
    if is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def error_response(request: Request, status: int, code: str, message: str) -> Response:
    """An error as a page (or as a fragment for HTMX, which inbox.js shows as a notice)."""
    template = "inbox/_error.html" if is_htmx(request) else "inbox/error.html"
    return templates.TemplateResponse(request, template, {"status": status, "code": code, "message": message,
                                                          "agent": None}, status_code=status)


class InboxRoute(APIRoute):
    """Inbox routes answer in HTML: app errors keep their status and stable code but render as pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def inbox_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except LoginRequired:
                response = login_redirect(request)
            except AppError as exc:
                response = error_response(request, exc.status_code, exc.code, exc.message)
            except OperationalError as exc:
                # Storage briefly unavailable (SQLite busy, PostgreSQL restarting): nothing was committed.
                log.warning("inbox %s %s: database unavailable: %s", request.method, request.url.path,
                            exc.__class__.__name__)
                response = error_response(request, 503, "unavailable",
                                          "The database is busy; nothing was changed. Try again in a moment.")
            except RequestValidationError as exc:
                fields = ", ".join(str(e.get("loc", ["?"])[-1]) for e in exc.errors())
                response = error_response(request, 422, "validation_error",
                                          f"Some fields are missing or wrong: {fields}.")
            response.headers.update(SECURITY_HEADERS)
            return response

        return inbox_handler
