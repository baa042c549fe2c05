"""Sending and reading messages through /api/v1, end to end to the brand's endpoint on the custom API
channel, with Idempotency-Key replays and the send gate's verdict in the answer."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from tests.api.support import agent_id, api_conversation, api_for, audit_entries, one
from tests.support.harness import running
from tests.support.servers import eventually
from touchpoint.models import Conversation, Message, OutboxItem


async def _count(h, model, *where) -> int:
    async with h.runtime.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(model).where(*where))).scalar() or 0)


async def _status(h, message_id: int) -> str:
    return (await one(h, Message, Message.id == message_id)).status


async def test_agent_message_reaches_the_brand(settings):
    async with running(settings) as h:
        api = await api_for(h)
        conversation = await api_conversation(h)
        maria = await agent_id(h, "maria@harbour.example")
        sent = await api.post(f"/conversations/{conversation.id}/messages",
                              {"text": "Hi, Maria here. How can I help?", "sender": "agent", "agent_id": maria})
        assert sent.status_code == 201, sent.text
        body = sent.json()
        assert body["status"] == "queued" and body["sender"] == "agent" and body["agent_id"] == maria
        assert body["gate"]["action"] == "send" and body["gate"]["reasons"] == []

        await eventually(lambda: "Hi, Maria here. How can I help?" in h.brand.texts())
        delivered = next(m for m in h.brand.received if m["text"] == "Hi, Maria here. How can I help?")
        assert delivered["recipient"]["id"] == "user-1"
        await eventually(lambda: _is_sent(h, body["id"]))
        # The agent took the conversation, as replying from the inbox does; the API key is in the audit log.
        taken = await one(h, Conversation, Conversation.id == conversation.id)
        assert taken.status == "assigned" and taken.agent_id == maria
        sends = await audit_entries(h, "message.send")
        assert [(e.actor_type, e.actor_id, e.subject_id) for e in sends] == [("api_key", api.key_id, body["id"])]

        listed = (await api.get(f"/conversations/{conversation.id}/messages")).json()["data"]
        assert listed[0]["text"] == "hello there" and listed[0]["direction"] == "in"
        assert body["id"] in [m["id"] for m in listed]
        after = (await api.get(f"/conversations/{conversation.id}/messages", after=listed[0]["id"], limit=1)).json()
        assert after["data"][0]["id"] == listed[1]["id"] and after["next_after"] == listed[1]["id"]


async def _is_sent(h, message_id: int) -> bool:
    return await _status(h, message_id) == "sent"


async def test_idempotency_key_replays_and_the_brand_gets_one_message(settings):
    async with running(settings) as h:
        api = await api_for(h)
        conversation = await api_conversation(h)
        maria = await agent_id(h, "maria@harbour.example")
        url = f"/conversations/{conversation.id}/messages"
        request = {"text": "Your late check-out is confirmed.", "sender": "agent", "agent_id": maria}
        key = {"Idempotency-Key": "checkout-confirm-1"}

        first = await api.post(url, request, headers=key)
        assert first.status_code == 201, first.text
        # Same body with keys reordered and the default spelled out: still the same request.
        replay = await api.post(url, {"agent_id": maria, "purpose": "service", **request}, headers=key)
        assert replay.status_code == 200, replay.text
        assert replay.json()["id"] == first.json()["id"]
        assert replay.headers["idempotent-replayed"] == "true"

        await eventually(lambda: _is_sent(h, first.json()["id"]))
        assert h.brand.texts().count("Your late check-out is confirmed.") == 1
        assert await _count(h, Message, Message.text == "Your late check-out is confirmed.") == 1
        assert await _count(h, OutboxItem, OutboxItem.message_id == first.json()["id"]) == 1

        mismatch = await api.post(url, {**request, "text": "Something else"}, headers=key)
        assert mismatch.status_code == 409
        assert mismatch.json()["error"]["code"] == "idempotency_mismatch"
        # The conversation is part of the request: the same key and body elsewhere is a different request.
        elsewhere = await one(h, Conversation, Conversation.status == "queued")
        moved = await api.post(f"/conversations/{elsewhere.id}/messages", request, headers=key)
        assert moved.status_code == 409 and moved.json()["error"]["code"] == "idempotency_mismatch"
        assert await _count(h, Message, Message.text == "Something else") == 0

        bad_key = await api.post(url, request, headers={"Idempotency-Key": "has space"})
        assert bad_key.status_code == 422


async def test_concurrent_requests_with_one_key_make_one_message(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        conversation = await one(h, Conversation, Conversation.status == "queued")
        request = {"text": "Your invoice is attached.", "sender": "system", "purpose": "transactional"}
        responses = await asyncio.gather(*(
            api.post(f"/conversations/{conversation.id}/messages", request, headers={"Idempotency-Key": "inv-9"})
            for _ in range(4)))
        assert sorted(r.status_code for r in responses) == [200, 200, 200, 201], [r.text for r in responses]
        assert len({r.json()["id"] for r in responses}) == 1
        assert await _count(h, Message, Message.text == "Your invoice is attached.") == 1


async def test_marketing_without_consent_is_suppressed_not_an_error(settings):
    async with running(settings) as h:
        api = await api_for(h)
        conversation = await api_conversation(h, sender="user-2")
        response = await api.post(f"/conversations/{conversation.id}/messages",
                                  {"text": "20% off this weekend!", "sender": "system", "purpose": "marketing"})
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["status"] == "suppressed" and body["status_reason"] == "no_consent"
        assert body["gate"] == {"action": "suppress", "reasons": ["no_consent"], "until": None}
        assert body["topic"] == "promotions" and body["purpose"] == "marketing"
        assert await _count(h, OutboxItem, OutboxItem.message_id == body["id"]) == 0

        # A transactional message to the same person goes out.
        receipt = await api.post(f"/conversations/{conversation.id}/messages",
                                 {"text": "Payment received, thank you.", "sender": "system",
                                  "purpose": "transactional", "content": {"amount": "120.00 EUR"}})
        assert receipt.status_code == 201 and receipt.json()["status"] == "queued"
        await eventually(lambda: "Payment received, thank you." in h.brand.texts())
        delivered = next(m for m in h.brand.received if m["text"] == "Payment received, thank you.")
        assert delivered["content"] == {"amount": "120.00 EUR"}  # nothing of ours leaks into content
        assert "20% off this weekend!" not in h.brand.texts()


async def test_message_requests_are_validated(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        conversation = await one(h, Conversation, Conversation.status == "queued")
        url = f"/conversations/{conversation.id}/messages"
        for body in ({"text": "hi", "sender": "agent"},
                     {"text": "hi", "sender": "agent", "agent_id": 1, "purpose": "marketing"},
                     {"text": "hi", "sender": "system", "agent_id": 1},
                     {"text": "", "sender": "system"},
                     {"text": "hi", "sender": "bot"},
                     {"text": "hi", "sender": "system", "purpose": "spam"},
                     {"text": "hi", "sender": "system", "content": {"x": [[[[[[[[[1]]]]]]]]]}}):
            response = await api.post(url, body)
            assert response.status_code == 422, (body, response.text)
            assert response.json()["error"]["code"] == "validation_error"
        unknown_agent = await api.post(url, {"text": "hi", "sender": "agent", "agent_id": 424242})
        assert unknown_agent.status_code == 404
        assert await _count(h, Message, Message.text == "hi") == 0
