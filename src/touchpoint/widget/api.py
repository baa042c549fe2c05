"""Web chat widget endpoints (thin): session, transcript, send, receipts; the WebSocket is in ws.py and
the demo page in demo_page.py. Logic lives in service.py, limits in guards.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypeVar

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError

from touchpoint.delivery.ratelimit import make_rate_limiter
from touchpoint.kit.body import read_capped
from touchpoint.kit.errors import AppError, Unauthorized
from touchpoint.runtime import Runtime
from touchpoint.widget import demo_page, guards, service, ws
from touchpoint.widget.accounts import load_account
from touchpoint.widget.auth import visitor_for
from touchpoint.widget.routing import CORS_HEADERS, WidgetRoute, set_result
from touchpoint.widget.schemas import ReceiptRequest, SendRequest, SessionRequest

PREFIX = "/widget/v1"
SMALL_BODY = 8 * 1024
Body = TypeVar("Body", bound=BaseModel)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Runs inside the app's lifespan, so the runtime (and its settings) exist here.
    app.state.widget_limiter = make_rate_limiter(app.state.runtime.settings.redis_url)
    try:
        yield
    finally:
        limiter, app.state.widget_limiter = app.state.widget_limiter, None
        await limiter.close()


router = APIRouter(tags=["widget"], route_class=WidgetRoute, lifespan=_lifespan)


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


async def _body(request: Request, model: type[Body], limit: int) -> Body:
    raw = await read_capped(request, limit)
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        raise AppError("request is not valid", code="validation_error", status_code=422,
                       details={"errors": details}) from exc


def _send_body_limit(max_chars: int) -> int:
    # JSON may escape each character as up to two \uXXXX sequences (12 bytes); anything bigger than that
    # cannot be an acceptable message and is refused before parsing.
    return max_chars * 12 + 2048


async def authenticate(request: Request) -> service.Visitor:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send the session token as 'Authorization: Bearer <token>'", code="session_missing")
    return await visitor_for(_runtime(request), token.strip(), request)


@router.options(PREFIX + "/{path:path}", include_in_schema=False)
async def preflight(path: str) -> Response:
    return Response(status_code=204, headers=CORS_HEADERS)


@router.post(PREFIX + "/session")
async def session(request: Request) -> JSONResponse:
    """Issue or resume a visitor. Verified users send user_id + user_hash; anonymous visitors send the
    visitor_token they were given last time (kept in localStorage) to find their conversation again."""
    runtime = _runtime(request)
    settings = runtime.settings
    body = await _body(request, SessionRequest, SMALL_BODY)
    account = await load_account(runtime, body.account)
    guards.check_origin(account, request)
    await guards.take(guards.limiter_of(request.app.state),
                      guards.session_limits(settings.widget_rate_per_minute, guards.client_ip(request)),
                      "new chat sessions from this address")
    result = service.start_session(account, settings.secret_key, body)
    set_result(request, "resumed" if result.resumed else "new")
    return JSONResponse({
        "session_token": result.session_token, "expires_in": result.expires_in,
        "visitor": {"id": result.visitor_id, "verified": result.verified},
        "visitor_token": result.visitor_token, "resumed": result.resumed,
        "config": account.public_config(settings.max_widget_message_chars),
        "endpoints": {"messages": PREFIX + "/messages", "receipts": PREFIX + "/receipts", "ws": PREFIX + "/ws"},
    })


@router.get(PREFIX + "/messages")
async def transcript(request: Request, after: Annotated[int | None, Query(ge=0)] = None) -> JSONResponse:
    """The visitor's transcript (oldest first), for a reload, a reconnect, or the polling fallback."""
    visitor = await authenticate(request)
    runtime = _runtime(request)
    await guards.take(guards.limiter_of(request.app.state),
                      guards.read_limits(runtime.settings.widget_rate_per_minute, visitor.account.key,
                                         visitor.id, guards.client_ip(request)), "requests")
    async with runtime.sessionmaker() as db:
        result = await service.transcript(db, visitor, after_id=after)
    return JSONResponse({"messages": result.messages, "unprocessed": result.unprocessed, "more": result.more})


@router.post(PREFIX + "/messages", status_code=202)
async def send(request: Request) -> JSONResponse:
    """The HTTP fallback of the WebSocket's send. Idempotent on client_id: a retry is the same message."""
    visitor = await authenticate(request)
    runtime = _runtime(request)
    settings = runtime.settings
    body = await _body(request, SendRequest, _send_body_limit(settings.max_widget_message_chars))
    client_id = service.check_client_id(body.client_id)
    text = service.check_text(body.text, settings.max_widget_message_chars)
    await guards.take(guards.limiter_of(request.app.state),
                      guards.send_limits(settings.widget_rate_per_minute, visitor.account.key, visitor.id,
                                         guards.client_ip(request)), "messages")
    async with runtime.transaction() as db:
        new = await service.send_message(db, visitor, client_id=client_id, text=text)
    set_result(request, "stored" if new else "duplicate")
    return JSONResponse({"client_id": client_id, "status": "stored" if new else "duplicate"}, status_code=202)


@router.post(PREFIX + "/receipts")
async def receipts(request: Request) -> JSONResponse:
    """The HTTP fallback of the WebSocket's read/delivered frames: everything up to message_id."""
    visitor = await authenticate(request)
    runtime = _runtime(request)
    body = await _body(request, ReceiptRequest, SMALL_BODY)
    await guards.take(guards.limiter_of(request.app.state),
                      guards.read_limits(runtime.settings.widget_rate_per_minute, visitor.account.key,
                                         visitor.id, guards.client_ip(request)), "requests")
    async with runtime.transaction() as db:
        stored, waiting = await service.mark_seen(db, visitor, up_to_id=body.message_id, status=body.status)
    return JSONResponse({"stored": stored, "waiting": waiting})


router.include_router(ws.router)
router.include_router(demo_page.router)
