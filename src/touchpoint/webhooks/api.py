"""Webhook endpoints. Nothing is stored unless the signature checks out on the raw bytes; a database
that is briefly locked or down answers 503 so that the provider retries (nothing lost)."""

from __future__ import annotations

import json
import logging
import time

from fastapi import APIRouter, Request, Response
from sqlalchemy.exc import DBAPIError, OperationalError

from touchpoint.channels.base import AccountContext, PayloadError, SignatureError, WebhookRequest
from touchpoint.channels.registry import get_adapter
from touchpoint.kit.body import read_capped
from touchpoint.kit.errors import AppError
from touchpoint.runtime import Runtime
from touchpoint.webhooks.batching import committer_of
from touchpoint.workspaces.repository import account_by_key

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])
ACCOUNT_CACHE_SECONDS = 10.0


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


async def _account(runtime: Runtime, channel: str, key: str) -> AccountContext | None:
    """Accounts are read on every webhook; a short cache keeps the hot path to one write."""
    cache: dict[str, tuple[float, AccountContext | None, str]] = runtime.state.setdefault("account_cache", {})
    hit = cache.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1] if hit[2] == channel else None
    async with runtime.sessionmaker() as session:
        account = await account_by_key(session, key)
    context = None if account is None else AccountContext(
        account.id, account.workspace_id, account.key, runtime.box.open(account.credentials_sealed),
        dict(account.settings or {}))
    cache[key] = (time.monotonic() + ACCOUNT_CACHE_SECONDS, context, account.channel if account else "")
    return context if account is not None and account.channel == channel else None


def _plain(status: int, message: str) -> Response:
    """`message` is "code: human text"; the code is stable, the text says what to fix."""
    code, _, text = message.partition(": ")
    return Response(content=json.dumps({"error": {"code": code, "message": text or code}}),
                    status_code=status, media_type="application/json")


@router.get("/webhooks/{channel}/{key}", include_in_schema=False)
async def handshake(channel: str, key: str, request: Request) -> Response:
    runtime = _runtime(request)
    adapter = get_adapter(channel)
    account = await _account(runtime, channel, key) if adapter else None
    if adapter is None or account is None or not adapter.accepts_webhooks:
        return _plain(404, "not_found: unknown channel or account")
    reply = adapter.handshake(account, _as_webhook_request(request, b""))
    return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)


async def receive(request: Request) -> Response:
    """POST /webhooks/{channel}/{key}. A plain Starlette route, not a FastAPI one: it takes nothing but
    the raw request, and skipping the dependency and validation machinery is a third of its CPU time."""
    channel, key = request.path_params["channel"], request.path_params["key"]
    runtime = _runtime(request)
    metrics = request.app.state.metrics
    started = time.perf_counter()

    def result(label: str, response: Response) -> Response:
        metrics.webhooks.labels(channel if get_adapter(channel) else "unknown", label).inc()
        if label == "stored" or label == "duplicate":
            metrics.ack_latency.labels(channel).observe(time.perf_counter() - started)
        return response

    adapter = get_adapter(channel)
    if adapter is None or not adapter.accepts_webhooks:
        return result("unknown_channel", _plain(404, f"unknown_channel: no channel called {channel[:40]!r}"))
    try:
        body = await read_capped(request, runtime.settings.max_webhook_bytes)
    except AppError as exc:
        return result("too_large" if exc.status_code == 413 else "bad_request",
                      _plain(exc.status_code, f"{exc.code}: {exc.message}"))
    try:
        account = await _account(runtime, channel, key)
    except (OperationalError, DBAPIError):
        log.warning("webhook %s: database unavailable while reading the account", channel)
        return result("unavailable", _unavailable())
    if account is None:
        return result("unknown_account", _plain(404, "unknown_account: no such account on this channel"))
    webhook = _as_webhook_request(request, body)
    try:
        adapter.verify(account, webhook)
    except SignatureError as exc:
        log.info("webhook %s/%s: signature refused: %s", channel, account.id, exc)
        return result("bad_signature", _plain(exc.status_code, f"bad_signature: {exc}"))
    try:
        events = adapter.parse(account, webhook)
    except PayloadError as exc:
        log.info("webhook %s/%s: malformed payload: %s", channel, account.id, exc)
        return result("malformed", _plain(400, f"malformed: {exc}"))
    try:
        new = await committer_of(runtime).store(account, events)
    except (OperationalError, DBAPIError) as exc:
        log.warning("webhook %s/%s: database unavailable (%s); asking the provider to retry",
                    channel, account.id, exc.__class__.__name__)
        return result("unavailable", _unavailable())
    reply = adapter.ack(account, webhook)
    return result("stored" if new or not events else "duplicate",
                  Response(reply.body, status_code=reply.status_code, media_type=reply.media_type))


router.add_route("/webhooks/{channel}/{key}", receive, methods=["POST"], include_in_schema=False)


def _unavailable() -> Response:
    response = _plain(503, "unavailable: storage is busy, retry shortly")
    response.headers["Retry-After"] = "2"
    return response


def _as_webhook_request(request: Request, body: bytes) -> WebhookRequest:
    return WebhookRequest(method=request.method, url=str(request.url),
                          headers={k.lower(): v for k, v in request.headers.items()},
                          query=dict(request.query_params), body=body)
