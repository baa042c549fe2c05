"""Inbox pages: sign in and out, the conversation list, a conversation, and the HTMX fragments that keep
them current. Routes stay thin: reading in a session, writing in `runtime.transaction()`, logic in
inbox.service. Actions (POST) live in inbox.actions, the WebSocket in inbox.realtime."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from touchpoint.inbox import actions, assist, auth, canned_pages, realtime, service
from touchpoint.inbox.deps import (
    MAX_ID,
    CsrfAgent,
    CurrentAgent,
    InboxRoute,
    RowId,
    RuntimeDep,
    signed_in_agent,
)
from touchpoint.inbox.templating import templates
from touchpoint.kit.clock import utcnow
from touchpoint.runtime import Runtime

router = APIRouter(tags=["inbox"], route_class=InboxRoute, include_in_schema=False)
router.include_router(actions.router)
router.include_router(realtime.router)
router.include_router(assist.router)
router.include_router(canned_pages.router)


def safe_next(target: str | None) -> str:
    """Only ever redirect into the inbox after login: never to another site (`//evil`, `/\\evil`)."""
    if target and target.startswith("/inbox") and not target.startswith(("//", "/\\")) and "\\" not in target:
        return target
    return "/inbox"


def _throttle(runtime: Runtime) -> auth.LoginThrottle:
    throttle = runtime.state.get("login_throttle")
    if throttle is None:
        throttle = runtime.state["login_throttle"] = auth.make_login_throttle(runtime.settings.redis_url)
    return throttle  # type: ignore[no-any-return]


def _login_page(request: Request, runtime: Runtime, *, next_url: str, email: str = "", error: str | None = None,
                status_code: int = 200) -> Response:
    token = auth.load_login_token(runtime.settings, request.cookies.get(auth.LOGIN_CSRF_COOKIE))
    if token is None:
        token = auth.new_login_token()
    response = templates.TemplateResponse(
        request, "inbox/login.html",
        {"agent": None, "csrf_token": token, "next_url": next_url, "email": email, "error": error},
        status_code=status_code)
    auth.set_login_cookie(response, runtime.settings, token)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/login")
async def login_form(request: Request, runtime: RuntimeDep, next: str | None = None) -> Response:
    if await signed_in_agent(runtime, request.cookies.get(auth.SESSION_COOKIE)) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, runtime, next_url=safe_next(next))


@router.post("/login")
async def login(request: Request, runtime: RuntimeDep, email: Annotated[str, Form(max_length=320)] = "",
                password: Annotated[str, Form(max_length=1000)] = "",
                csrf_token: Annotated[str, Form(max_length=200)] = "",
                next: Annotated[str, Form(max_length=2000)] = "/inbox") -> Response:
    next_url = safe_next(next)
    expected = auth.load_login_token(runtime.settings, request.cookies.get(auth.LOGIN_CSRF_COOKIE))
    if not auth.tokens_match(expected, csrf_token):
        return _login_page(request, runtime, next_url=next_url, email=email, status_code=403,
                           error="The sign-in form had expired. Please try again.")
    ip = request.client.host if request.client else "unknown"
    throttle = _throttle(runtime)
    wait = await throttle.retry_after(email, ip)
    if wait:
        minutes = max(1, round(wait / 60))
        plural = "s" if minutes > 1 else ""
        return _login_page(request, runtime, next_url=next_url, email=email, status_code=429,
                           error=f"Too many failed attempts. Try again in {minutes} minute{plural}.")
    async with runtime.sessionmaker() as session:
        agent = await service.authenticate(session, email, password)
    if agent is None:
        await throttle.failed(email, ip)
        return _login_page(request, runtime, next_url=next_url, email=email, status_code=401,
                           error="That email and password do not match an account.")
    await throttle.succeeded(email, ip)
    response = RedirectResponse(next_url, status_code=303)
    auth.set_session_cookie(response, runtime.settings, auth.new_session(
        agent_id=agent.id, workspace_id=agent.workspace_id, password_hash=agent.password_hash))
    auth.clear_login_cookie(response, runtime.settings)
    return response


@router.post("/logout")
async def logout(runtime: RuntimeDep, _agent: CsrfAgent) -> Response:
    response = RedirectResponse("/login", status_code=303)
    auth.clear_session_cookie(response, runtime.settings)
    return response


def _team_id(team: str | None) -> int | None:
    return int(team) if team and team.isdigit() else None


@router.get("/inbox")
async def inbox(request: Request, runtime: RuntimeDep, agent: CurrentAgent, view: str | None = None,
                team: str | None = None) -> Response:
    async with runtime.sessionmaker() as session:
        page = await service.list_page(session, agent, view=view, team_id=_team_id(team))
    return templates.TemplateResponse(request, "inbox/list.html", {"agent": agent, "page": page},
                                      headers={"Cache-Control": "no-store"})


@router.get("/inbox/list")
async def inbox_list(request: Request, runtime: RuntimeDep, agent: CurrentAgent, view: str | None = None,
                     team: str | None = None) -> Response:
    async with runtime.sessionmaker() as session:
        page = await service.list_page(session, agent, view=view, team_id=_team_id(team))
    return templates.TemplateResponse(request, "inbox/_list.html", {"agent": agent, "page": page},
                                      headers={"Cache-Control": "no-store"})


@router.get("/inbox/conversations/{conversation_id}")
async def conversation(request: Request, runtime: RuntimeDep, agent: CurrentAgent, conversation_id: RowId) -> Response:
    async with runtime.sessionmaker() as session:
        page = await service.conversation_page(session, agent, conversation_id)
        panel = await assist.panel_for_page(request, runtime, session, page)
    # The reply form's idempotency key: submitting the same form twice sends one message.
    context = {"agent": agent, "page": page, "assist": panel, "reply_key": secrets.token_urlsafe(16),
               "now": utcnow()}
    return templates.TemplateResponse(request, "inbox/conversation.html", context,
                                      headers={"Cache-Control": "no-store"})


@router.get("/inbox/conversations/{conversation_id}/panel")
async def conversation_panel(request: Request, runtime: RuntimeDep, agent: CurrentAgent,
                             conversation_id: RowId) -> Response:
    """The header with status and actions, re-rendered after any change to the conversation."""
    async with runtime.sessionmaker() as session:
        page = await service.conversation_page(session, agent, conversation_id)
    return templates.TemplateResponse(request, "inbox/_panel.html", {"agent": agent, "page": page},
                                      headers={"Cache-Control": "no-store"})


@router.get("/inbox/conversations/{conversation_id}/messages")
async def conversation_messages(request: Request, runtime: RuntimeDep, agent: CurrentAgent, conversation_id: RowId,
                                after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> Response:
    """Messages newer than `after`, appended to the transcript by inbox.js."""
    async with runtime.sessionmaker() as session:
        transcript = await service.messages_after(session, agent, conversation_id, after)
    return templates.TemplateResponse(request, "inbox/_messages.html", {"agent": agent, "transcript": transcript},
                                      headers={"Cache-Control": "no-store"})


@router.get("/inbox/conversations/{conversation_id}/messages/{message_id}")
async def conversation_message(request: Request, runtime: RuntimeDep, agent: CurrentAgent, conversation_id: RowId,
                               message_id: RowId) -> Response:
    """One message again, when its delivery status changed."""
    async with runtime.sessionmaker() as session:
        transcript = await service.one_message(session, agent, conversation_id, message_id)
    return templates.TemplateResponse(request, "inbox/_messages.html", {"agent": agent, "transcript": transcript},
                                      headers={"Cache-Control": "no-store"})
