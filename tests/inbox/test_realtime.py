"""The inbox WebSocket: session-cookie auth, origin check, workspace and conversation topics."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.inbox.helpers import conversation_of, other_workspace_conversation, sign_in
from tests.support.harness import running
from touchpoint.inbox import auth


def ws_url(h) -> str:
    return h.base_url.replace("http://", "ws://") + "/inbox/ws"


def cookie_header(agent) -> dict[str, str]:
    return {"Cookie": f"{auth.SESSION_COOKIE}={agent.http.cookies[auth.SESSION_COOKIE]}"}


async def next_event(ws, want: str, timeout: float = 10.0) -> dict:
    """The next event of type `want`, skipping others (events are hints; extra ones are fine)."""
    async with asyncio.timeout(timeout):
        while True:
            event = json.loads(await ws.recv())
            if event.get("type") == want:
                return event


async def test_socket_needs_a_session(settings):
    async with running(settings, run_background=False) as h:
        async with connect(ws_url(h)) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd.code == 4401
        maria = await sign_in(h)
        with pytest.raises(InvalidStatus):
            async with connect(ws_url(h), additional_headers=cookie_header(maria), origin="http://evil.example"):
                pass
        await maria.aclose()


@pytest.mark.parametrize("hub", ["memory", "redis"])
async def test_list_and_conversation_events_reach_the_agent(settings, hub):
    if hub == "redis":
        if not os.environ.get("TOUCHPOINT_TEST_REDIS_URL"):
            pytest.skip("TOUCHPOINT_TEST_REDIS_URL is not set: Redis hub variant skipped")
        settings = settings.model_copy(update={"redis_url": os.environ["TOUCHPOINT_TEST_REDIS_URL"]})
    async with running(settings) as h:
        maria = await sign_in(h)
        tom = await conversation_of(h, "Tom Baker")
        async with connect(ws_url(h), additional_headers=cookie_header(maria), origin=h.base_url) as ws:
            await next_event(ws, "ready")
            await h.say("walk-in", "I want to talk to a human please")
            changed = await next_event(ws, "conversation")
            assert changed["topic"] == f"ws:{h.workspace_id}"
            assert set(changed) >= {"conversation_id", "status", "change"}
            assert "text" not in changed  # hints only: the browser fetches rendered, escaped HTML

            await ws.send(json.dumps({"subscribe": f"conv:{tom.id}"}))
            assert (await next_event(ws, "subscribed"))["topic"] == f"conv:{tom.id}"
            await maria.act(f"/inbox/conversations/{tom.id}/note", {"text": "looking into it"})
            message = await next_event(ws, "message")
            assert message["topic"] == f"conv:{tom.id}"
            notes = [m for m in await h.messages(tom.id) if m.status == "note"]
            assert message["message_id"] == notes[-1].id

            await ws.send("not json")
            assert (await next_event(ws, "error"))["code"] == "bad_message"
        await maria.aclose()


async def test_cannot_subscribe_to_another_workspace(settings):
    async with running(settings, run_background=False) as h:
        foreign = await other_workspace_conversation(h)
        maria = await sign_in(h)
        async with connect(ws_url(h), additional_headers=cookie_header(maria)) as ws:
            await next_event(ws, "ready")
            await ws.send(json.dumps({"subscribe": f"conv:{foreign}"}))
            assert (await next_event(ws, "error")) == {"type": "error", "code": "not_found",
                                                       "topic": f"conv:{foreign}"}
            await ws.send(json.dumps({"subscribe": "ws:999"}))
            assert (await next_event(ws, "error"))["code"] == "unknown_topic"
        await maria.aclose()
