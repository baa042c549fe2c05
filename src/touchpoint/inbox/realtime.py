"""The inbox WebSocket, /inbox/ws: hints that something changed, never the data itself.

A connection is the signed-in agent's (session cookie, checked like a page request, plus an Origin check
because browsers send cookies on cross-site WebSocket handshakes). It is subscribed to `ws:{workspace}`
(conversation list changes) and, on request, to one `conv:{id}` of the same workspace at a time:

    client → {"subscribe": "conv:42"}      server → {"type": "subscribed", "topic": "conv:42"}
    server → {"type": "ready"}            (after connecting: reload from the database, events flow now)
    server → {"type": "conversation" | "message" | "status", ..., "topic": "..."}
    server → {"type": "resync"}           (events were dropped for a slow client: reload everything)

Events carry ids and statuses only, so nothing a customer wrote travels here unescaped; the browser asks
for the rendered fragment. The connection closes with 4401 when the session ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from touchpoint.conversations import repository as conversations_repo
from touchpoint.inbox import auth
from touchpoint.inbox.deps import signed_in_agent
from touchpoint.inbox.service import SignedInAgent
from touchpoint.realtime.events import workspace_topic
from touchpoint.runtime import Runtime

log = logging.getLogger(__name__)
router = APIRouter()
CONV_TOPIC = re.compile(r"^conv:(\d{1,18})$")
OUTGOING_LIMIT = 256
MAX_CLIENT_MESSAGE = 1000
CLOSE_LOGIN_REQUIRED = 4401
CLOSE_POLICY = 1008


def _origin_allowed(websocket: WebSocket, runtime: Runtime) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: it cannot have been tricked into sending someone's cookie
    netloc = urlsplit(origin).netloc.lower()
    allowed = {websocket.headers.get("host", "").lower()}
    if runtime.settings.public_url:
        allowed.add(urlsplit(runtime.settings.public_url).netloc.lower())
    return netloc in allowed


class Connection:
    """One browser tab: a single sender task drains `outgoing`; one pump task per subscribed topic."""

    def __init__(self, websocket: WebSocket, runtime: Runtime, agent: SignedInAgent) -> None:
        self.websocket = websocket
        self.runtime = runtime
        self.agent = agent
        self.outgoing: asyncio.Queue[dict[str, Any]] = asyncio.Queue(OUTGOING_LIMIT)
        self.conversation_pump: tuple[str, asyncio.Task[None]] | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def offer(self, event: dict[str, Any]) -> None:
        if self.outgoing.full():
            # A client that does not keep up loses the backlog, and is told to reload from the database.
            while not self.outgoing.empty():
                self.outgoing.get_nowait()
            event = {"type": "resync"}
        self.outgoing.put_nowait(event)

    async def send_loop(self) -> None:
        while True:
            event = await self.outgoing.get()
            await self.websocket.send_text(json.dumps(event, default=str))

    def start(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(self._guarded(coro))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _guarded(self, coro: Any) -> None:
        """A failed pump (hub down) or sender closes the socket: the browser reconnects and reloads,
        rather than staying connected to a subscription that no longer delivers."""
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except (WebSocketDisconnect, OSError) as exc:
            log.debug("inbox websocket gone: %r", exc)
            await self._close(1000, "closed")
        except Exception:
            log.exception("inbox websocket: realtime task failed; closing so the browser reconnects")
            await self._close(1011, "realtime error")

    async def pump(self, topic: str, ready: dict[str, Any]) -> None:
        async with self.runtime.hub.subscribe(topic) as events:
            self.offer(ready)
            async for event in events:
                self.offer(event)

    async def subscribe_conversation(self, topic: str) -> None:
        match = CONV_TOPIC.match(topic)
        if match is None:
            self.offer({"type": "error", "code": "unknown_topic", "topic": topic[:40]})
            return
        async with self.runtime.sessionmaker() as session:
            conversation = await conversations_repo.access_conversation(
                session, self.agent.workspace_id, int(match.group(1)))
        if conversation is None:
            self.offer({"type": "error", "code": "not_found", "topic": topic})
            return
        if self.conversation_pump and self.conversation_pump[0] == topic:
            self.offer({"type": "subscribed", "topic": topic})
            return
        self.unsubscribe_conversation()
        self.conversation_pump = (topic, self.start(self.pump(topic, {"type": "subscribed", "topic": topic})))

    def unsubscribe_conversation(self) -> None:
        if self.conversation_pump:
            self.conversation_pump[1].cancel()
            self.conversation_pump = None

    async def receive_loop(self) -> None:
        while True:
            raw = await self.websocket.receive_text()
            try:
                message = json.loads(raw) if len(raw) <= MAX_CLIENT_MESSAGE else None
            except ValueError:
                message = None
            if not isinstance(message, dict):
                self.offer({"type": "error", "code": "bad_message"})
                continue
            if isinstance(message.get("subscribe"), str):
                await self.subscribe_conversation(message["subscribe"])
            elif "unsubscribe" in message:
                self.unsubscribe_conversation()
            elif "ping" in message:
                self.offer({"type": "pong"})
            else:
                self.offer({"type": "error", "code": "bad_message"})

    async def run(self, seconds_left: float) -> None:
        self.start(self.send_loop())
        self.start(self.pump(workspace_topic(self.agent.workspace_id), {"type": "ready"}))
        try:
            async with asyncio.timeout(seconds_left):
                await self.receive_loop()
        except TimeoutError:
            await self._close(CLOSE_LOGIN_REQUIRED, "session expired")
        finally:
            for task in list(self.tasks):
                task.cancel()
            for task in list(self.tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self.websocket.close(code=code, reason=reason)


@router.websocket("/inbox/ws")
async def inbox_socket(websocket: WebSocket) -> None:
    runtime: Runtime = websocket.app.state.runtime
    if not _origin_allowed(websocket, runtime):
        log.info("inbox websocket refused: origin %r", websocket.headers.get("origin"))
        await websocket.close(code=CLOSE_POLICY)
        return
    cookie = websocket.cookies.get(auth.SESSION_COOKIE)
    agent = await signed_in_agent(runtime, cookie)
    session = auth.load_session(runtime.settings, cookie)
    await websocket.accept()
    if agent is None or session is None:
        # Accept first so the browser sees our close code and can go to the login page.
        await websocket.close(code=CLOSE_LOGIN_REQUIRED, reason="login required")
        return
    with contextlib.suppress(WebSocketDisconnect):
        await Connection(websocket, runtime, agent).run(max(1.0, session.expires_at - time.time()))
