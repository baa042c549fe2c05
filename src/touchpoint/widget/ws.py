"""WS /widget/v1/ws?token=...: the visitor's live connection.

Client frames:  {"type": "message", "client_id", "text"} → {"type": "ack", "client_id", "status"}
                {"type": "read" | "delivered", "message_id"}  (everything up to that message)
Server frames:  {"type": "ready"} once subscribed (the widget then fetches what it missed over HTTP),
                {"type": "message", "message": {...}} for each message sent to the visitor,
                {"type": "echo", "client_id", "text"} for the visitor's own message sent from another tab,
                {"type": "status", "message_id", "status"}, {"type": "error", "code", "message", ...}.

Pushes are hints: the record is the database, which the widget reads again after any reconnect.
A frame that is too big closes the socket with 1009, too many frames a minute with 1008, as does a
session that is not valid (reason = the stable error code, so the widget knows to start a new session).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from touchpoint.kit.errors import AppError
from touchpoint.runtime import Runtime
from touchpoint.widget import guards, service
from touchpoint.widget.auth import visitor_for
from touchpoint.widget.schemas import ReceiptRequest, SendRequest

log = logging.getLogger(__name__)
router = APIRouter()

CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
# A receipt for a message pushed before the dispatcher recorded it as sent is retried for a few seconds.
SETTLE_INTERVAL = 0.25
SETTLE_TRIES = 40


def frame_limit(max_chars: int) -> int:
    # A frame holds one message plus a little JSON; twice the text limit leaves room for escapes.
    return max_chars * 2 + 1024


@router.websocket("/widget/v1/ws")
async def widget_socket(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    metrics = websocket.app.state.metrics.widget
    await websocket.accept()
    try:
        visitor = await visitor_for(runtime, websocket.query_params.get("token", ""), websocket)
    except AppError as exc:
        # Accept first, then close: a refused handshake reaches the browser as a bare 1006 without reason.
        metrics.labels("ws", exc.code).inc()
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await websocket.close(CLOSE_POLICY, reason=exc.code)
        return
    metrics.labels("ws", "connected").inc()
    await VisitorSocket(websocket, runtime, visitor).run()


class VisitorSocket:
    def __init__(self, websocket: WebSocket, runtime: Runtime, visitor: service.Visitor) -> None:
        self.websocket = websocket
        self.runtime = runtime
        self.visitor = visitor
        self.metrics = websocket.app.state.metrics.widget
        self.limiter = guards.limiter_of(websocket.app.state)
        self.connection_id = uuid.uuid4().hex
        settings = runtime.settings
        self.max_chars = settings.max_widget_message_chars
        self.window = guards.FrameWindow(settings.widget_rate_per_minute)
        self._send_lock = asyncio.Lock()
        self._receipt_targets: dict[str, int] = {}
        self._settler: asyncio.Task[None] | None = None

    async def run(self) -> None:
        async with self.runtime.hub.subscribe(self.visitor.topic) as events:
            await self.send({"type": "ready", "visitor_id": self.visitor.id})
            tasks = {asyncio.create_task(self._read()), asyncio.create_task(self._push(events))}
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if not task.cancelled() and task.exception() is not None:
                        log.error("widget socket for %s failed", self.visitor.id, exc_info=task.exception())
            finally:
                if self._settler is not None:
                    tasks.add(self._settler)
                for task in tasks:
                    if not task.done():
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await task
        await self.close(1000, "")

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._send_lock:
            if self.websocket.application_state == WebSocketState.CONNECTED:
                # The visitor may be gone mid-send; the reader sees the disconnect and ends the socket.
                with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                    await self.websocket.send_json(frame)

    async def close(self, code: int, reason: str) -> None:
        async with self._send_lock:
            if self.websocket.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                    await self.websocket.close(code, reason=reason)

    async def _refuse(self, code: int, result: str, reason: str) -> None:
        self.metrics.labels("ws", result).inc()
        await self.close(code, reason)

    async def _read(self) -> None:
        limit = frame_limit(self.max_chars)
        while True:
            try:
                message = await self.websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await self._refuse(CLOSE_POLICY, "binary_frame", "only JSON text frames are accepted")
                return
            if len(text) > limit:
                await self._refuse(CLOSE_TOO_BIG, "too_large", f"frame larger than {limit} characters")
                return
            if not self.window.allow():
                await self._refuse(CLOSE_POLICY, "rate_limited", "too many messages; slow down")
                return
            await self._handle(text)

    async def _handle(self, text: str) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
            await self.send({"type": "error", "code": "bad_frame", "message": "frames are JSON objects"})
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "message":
            await self._message(frame)
        elif kind in ("read", "delivered"):
            await self._receipt(frame)
        else:
            await self.send({"type": "error", "code": "bad_frame", "message": f"unknown frame type {kind!r}"[:120]})

    async def _message(self, frame: dict[str, Any]) -> None:
        client_id = frame.get("client_id") if isinstance(frame.get("client_id"), str) else None
        try:
            body = SendRequest.model_validate(frame)
            client_id = service.check_client_id(body.client_id)
            text = service.check_text(body.text, self.max_chars)
            await guards.take(self.limiter, guards.send_limits(
                self.runtime.settings.widget_rate_per_minute, self.visitor.account.key, self.visitor.id,
                guards.client_ip(self.websocket)), "messages")
            async with self.runtime.transaction() as db:
                new = await service.send_message(db, self.visitor, client_id=client_id, text=text,
                                                 via=self.connection_id)
        except ValidationError:
            await self._error(client_id, "validation_error", "a message frame needs client_id and text")
            return
        except AppError as exc:
            await self._error(client_id, exc.code, exc.message, **exc.details)
            return
        except (OperationalError, DBAPIError) as exc:
            log.warning("widget socket: database unavailable (%s)", exc.__class__.__name__)
            await self._error(client_id, "unavailable", "storage is busy, retry shortly")
            return
        status = "stored" if new else "duplicate"
        self.metrics.labels("ws_message", status).inc()
        await self.send({"type": "ack", "client_id": client_id, "status": status})

    async def _error(self, client_id: str | None, code: str, message: str, **details: Any) -> None:
        self.metrics.labels("ws_message", code).inc()
        await self.send({"type": "error", "client_id": client_id, "code": code, "message": message, **details})

    async def _receipt(self, frame: dict[str, Any]) -> None:
        try:
            body = ReceiptRequest.model_validate({"message_id": frame.get("message_id"), "status": frame["type"]})
        except ValidationError:
            await self.send({"type": "error", "code": "validation_error", "message": "message_id must be an id"})
            return
        if not await self._mark(body.status, body.message_id):
            self._receipt_targets[body.status] = max(self._receipt_targets.get(body.status, 0), body.message_id)
            if self._settler is None or self._settler.done():
                self._settler = asyncio.create_task(self._settle())

    async def _mark(self, status: str, up_to_id: int) -> bool:
        """True when every message up to the id got its receipt (or never will)."""
        try:
            async with self.runtime.transaction() as db:
                _stored, waiting = await service.mark_seen(db, self.visitor, up_to_id=up_to_id, status=status)
        except (OperationalError, DBAPIError):
            return False
        return waiting == 0

    async def _settle(self) -> None:
        for _ in range(SETTLE_TRIES):
            await asyncio.sleep(SETTLE_INTERVAL)
            for status, up_to_id in list(self._receipt_targets.items()):
                if await self._mark(status, up_to_id):
                    self._receipt_targets.pop(status, None)
            if not self._receipt_targets:
                return
        self._receipt_targets.clear()

    async def _push(self, events: AsyncIterator[dict[str, Any]]) -> None:
        async for event in events:
            kind = event.get("type")
            if kind == "message" and isinstance(event.get("id"), int):
                async with self.runtime.sessionmaker() as db:
                    pushed = await service.pushed_message(db, self.visitor, event["id"])
                if pushed is not None:
                    await self.send({"type": "message", "message": pushed})
            elif kind == "visitor_message" and event.get("via") != self.connection_id:
                await self.send({"type": "echo", "client_id": event.get("client_id"), "text": event.get("text")})
            elif kind == "status" and isinstance(event.get("message_id"), int):
                await self.send({"type": "status", "message_id": event["message_id"], "status": event.get("status")})
