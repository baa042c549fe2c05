"""WS /widget/v1/ws against the real server: send and ack, live bot replies, read receipts, echoes to
other tabs, isolation between visitors, and the polite closes for abuse."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support.harness import running
from tests.support.servers import eventually
from tests.widget.helpers import bearer, send, session_token
from touchpoint.models import Message

FRAME_WAIT = 15.0  # an upper bound for a stuck test, not a timing assertion


def ws_url(h, token: str) -> str:
    return h.base_url.replace("http://", "ws://") + f"/widget/v1/ws?token={token}"


async def next_frames(ws, until, seen=None):
    """Read frames until one satisfies `until`; returns every frame read."""
    seen = [] if seen is None else seen
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), FRAME_WAIT))
        seen.append(frame)
        if until(frame):
            return seen


def is_type(kind):
    return lambda frame: frame.get("type") == kind


async def status_of(h, message_id):
    async with h.runtime.sessionmaker() as db:
        return (await db.execute(select(Message.status).where(Message.id == message_id))).scalar()


async def test_round_trip_with_live_reply_and_read_receipt(settings):
    async with running(settings) as h:
        token, _ = await session_token(h)
        async with connect(ws_url(h, token)) as ws:
            await next_frames(ws, is_type("ready"))
            client_id = str(uuid.uuid4())
            await ws.send(json.dumps({"type": "message", "client_id": client_id, "text": "is breakfast included?"}))
            frames = await next_frames(ws, lambda f: f.get("type") == "message"
                                       and f["message"]["sender"] == "bot")
            ack = [f for f in frames if f["type"] == "ack"]
            assert ack == [{"type": "ack", "client_id": client_id, "status": "stored"}]
            reply = frames[-1]["message"]
            assert "Breakfast is included" in reply["text"] and reply["direction"] == "out"
            assert "decision" not in reply["content"]

            # Resending the same client_id (a retry after a lost ack) is acknowledged as a duplicate.
            await ws.send(json.dumps({"type": "message", "client_id": client_id, "text": "is breakfast included?"}))
            again = await next_frames(ws, is_type("ack"))
            assert again[-1]["status"] == "duplicate"

            await ws.send(json.dumps({"type": "read", "message_id": reply["id"]}))
            await eventually(lambda: _has_status(h, reply["id"], "read"))
        assert h.app.state.metrics.widget.labels("ws_message", "stored")._value.get() == 1


async def _has_status(h, message_id, status):
    return await status_of(h, message_id) == status


async def test_http_receipts_move_status_forward_never_back(settings):
    async with running(settings) as h:
        token, _ = await session_token(h)
        await send(h, token, "Do you have wifi?")

        async def reply_sent():
            async with h.runtime.sessionmaker() as db:
                return (await db.execute(select(Message).where(
                    Message.direction == "out", Message.text.contains("wifi"), Message.status == "sent"))).scalar()

        reply = await eventually(reply_sent)
        url = f"{h.base_url}/widget/v1/receipts"
        delivered = await h.client.post(url, json={"message_id": reply.id, "status": "delivered"},
                                        headers=bearer(token))
        assert delivered.status_code == 200 and delivered.json() == {"stored": 1, "waiting": 0}
        await eventually(lambda: _has_status(h, reply.id, "delivered"))
        read = await h.client.post(url, json={"message_id": reply.id}, headers=bearer(token))
        assert read.json()["stored"] == 1
        await eventually(lambda: _has_status(h, reply.id, "read"))
        late = await h.client.post(url, json={"message_id": reply.id, "status": "delivered"}, headers=bearer(token))
        assert late.json()["stored"] == 0
        assert await status_of(h, reply.id) == "read"

        # Someone else's session cannot mark this visitor's messages.
        other, _ = await session_token(h)
        foreign = await h.client.post(url, json={"message_id": reply.id + 1000}, headers=bearer(other))
        assert foreign.json() == {"stored": 0, "waiting": 0}


async def test_other_tabs_get_an_echo_and_other_visitors_get_nothing(settings):
    async with running(settings) as h:
        token, session = await session_token(h)
        resumed, _ = await session_token(h, visitor_token=session["visitor_token"])
        stranger, _ = await session_token(h)
        async with connect(ws_url(h, token)) as tab1, connect(ws_url(h, resumed)) as tab2, \
                connect(ws_url(h, stranger)) as other:
            for ws in (tab1, tab2, other):
                await next_frames(ws, is_type("ready"))
            client_id = str(uuid.uuid4())
            await tab1.send(json.dumps({"type": "message", "client_id": client_id, "text": "Is there parking?"}))
            tab1_frames = await next_frames(tab1, lambda f: f.get("type") == "message")
            tab2_frames = await next_frames(tab2, lambda f: f.get("type") == "message")
            assert {"type": "echo", "client_id": client_id, "text": "Is there parking?"} in tab2_frames
            assert not any(f["type"] == "echo" for f in tab1_frames)
            assert tab1_frames[-1]["message"]["id"] == tab2_frames[-1]["message"]["id"]

            # The stranger's own reply arrives after the first visitor's was published: had the first one
            # leaked to this socket, it would be among these frames.
            await other.send(json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "text": "hello"}))
            mine = await next_frames(other, lambda f: f.get("type") == "message")
            assert all("parking" not in json.dumps(f).lower() for f in mine)


async def test_bad_token_oversized_frame_and_flooding_close_politely(settings):
    async with running(settings.model_copy(update={"widget_rate_per_minute": 5})) as h:
        async with connect(ws_url(h, "not-a-token")) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), FRAME_WAIT)
        assert closed.value.rcvd.code == 1008 and closed.value.rcvd.reason == "session_invalid"

        token, _ = await session_token(h)
        async with connect(ws_url(h, token)) as ws:
            await next_frames(ws, is_type("ready"))
            await ws.send(json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "text": "x" * 20_000}))
            with pytest.raises(ConnectionClosed) as closed:
                await next_frames(ws, lambda f: False)
        assert closed.value.rcvd.code == 1009

        async with connect(ws_url(h, token)) as ws:
            await next_frames(ws, is_type("ready"))
            too_long = "y" * (settings.max_widget_message_chars + 1)
            await ws.send(json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "text": too_long}))
            error = await next_frames(ws, is_type("error"))
            assert error[-1]["code"] == "message_too_long"
            with pytest.raises(ConnectionClosed) as closed:
                for _ in range(10):
                    await ws.send(json.dumps({"type": "read", "message_id": 1}))
                await next_frames(ws, lambda f: False)
        assert closed.value.rcvd.code == 1008 and "slow down" in closed.value.rcvd.reason
        metrics = h.app.state.metrics.widget
        assert metrics.labels("ws", "too_large")._value.get() == 1
        assert metrics.labels("ws", "rate_limited")._value.get() == 1
        assert metrics.labels("ws", "session_invalid")._value.get() == 1
