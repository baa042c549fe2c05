"""Sending over HTTP, the transcript, dedup, limits, and verified visitors keeping their contact."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from tests.support.harness import running
from tests.support.servers import eventually
from tests.widget.helpers import (
    bot_replies,
    demo_user_hash,
    messages_with_text,
    send,
    session_token,
    transcript,
)
from touchpoint.contacts.service import resolve_identity
from touchpoint.conversations import service as conversations
from touchpoint.models import Agent, ContactIdentity, Conversation, InboundEvent, Message


async def _answered(h, token):
    data = await transcript(h, token)
    return data if bot_replies(data) else None


async def test_http_send_then_the_bot_reply_is_in_the_transcript(settings):
    async with running(settings) as h:
        token, session = await session_token(h, name="Ana Silva")
        client_id = str(uuid.uuid4())
        response = await send(h, token, "is breakfast included?", client_id=client_id)
        assert response.status_code == 202, response.text
        assert response.json() == {"client_id": client_id, "status": "stored"}

        data = await eventually(lambda: _answered(h, token))
        mine, reply = data["messages"][0], bot_replies(data)[0]
        assert mine["direction"] == "in" and mine["client_id"] == client_id
        assert mine["text"] == "is breakfast included?"
        assert "Breakfast is included" in reply["text"] and reply["status"] in ("sent", "delivered", "read")
        # The bot's decision audit (rule, scores) is for agents, never for the visitor.
        assert "decision" not in reply["content"] and "rule" not in reply["content"]
        assert data["unprocessed"] == []

        later = await transcript(h, token, after=reply["id"])
        assert later["messages"] == []
        since_mine = await transcript(h, token, after=mine["id"])
        assert [m["id"] for m in since_mine["messages"]] == [m["id"] for m in data["messages"][1:]]

        # The visitor's identity is their channel id; the name they gave fills the contact.
        async with h.runtime.sessionmaker() as db:
            identity = (await db.execute(select(ContactIdentity).where(
                ContactIdentity.external_id == session["visitor"]["id"]))).scalar_one()
            conversation = (await db.execute(select(Conversation).where(
                Conversation.contact_id == identity.contact_id))).scalar_one()
        assert conversation.status == "bot"


async def test_same_client_id_twice_is_one_message(settings):
    async with running(settings) as h:
        token, _ = await session_token(h)
        client_id = str(uuid.uuid4())
        first = await send(h, token, "Do you have wifi?", client_id=client_id)
        second = await send(h, token, "Do you have wifi?", client_id=client_id)
        assert first.json()["status"] == "stored" and second.json()["status"] == "duplicate"
        await eventually(lambda: _answered(h, token))
        inbound = [m for m in await messages_with_text(h, "Do you have wifi?") if m.direction == "in"]
        assert len(inbound) == 1
        async with h.runtime.sessionmaker() as db:
            events = (await db.execute(select(func.count()).select_from(InboundEvent)
                                       .where(InboundEvent.provider_event_id.startswith(client_id)))).scalar()
        assert events == 1


async def test_another_visitor_reusing_a_client_id_is_not_swallowed(settings):
    async with running(settings) as h:
        alice, _ = await session_token(h)
        bob, _ = await session_token(h)
        client_id = str(uuid.uuid4())
        assert (await send(h, alice, "Is there parking?", client_id=client_id)).json()["status"] == "stored"
        assert (await send(h, bob, "Is there parking?", client_id=client_id)).json()["status"] == "stored"


async def test_bad_messages_get_precise_4xx(settings):
    async with running(settings) as h:
        token, _ = await session_token(h)
        limit = settings.max_widget_message_chars
        too_long = await send(h, token, "x" * (limit + 1))
        assert too_long.status_code == 413
        assert too_long.json()["error"]["code"] == "message_too_long"
        assert str(limit) in too_long.json()["error"]["message"]
        exactly = await send(h, token, "y" * limit)
        assert exactly.status_code == 202
        huge = await h.client.post(f"{h.base_url}/widget/v1/messages", content=b"{" + b" " * 200_000 + b"}",
                                   headers={"authorization": f"Bearer {token}", "content-type": "application/json"})
        assert huge.status_code == 413 and huge.json()["error"]["code"] == "payload_too_large"
        for text, code in (("   ", "empty_message"), ("a\x00b", "invalid_text")):
            response = await send(h, token, text)
            assert response.status_code == 400 and response.json()["error"]["code"] == code, response.text
        # A lone surrogate is not storable text: the JSON parser refuses it before we see it.
        surrogate = await h.client.post(
            f"{h.base_url}/widget/v1/messages",
            content=b'{"client_id": "%s", "text": "\\ud800"}' % str(uuid.uuid4()).encode(),
            headers={"authorization": f"Bearer {token}", "content-type": "application/json"})
        assert surrogate.status_code == 422 and surrogate.json()["error"]["code"] == "validation_error"
        not_uuid = await send(h, token, "hello", client_id="123")
        assert not_uuid.status_code == 400 and not_uuid.json()["error"]["code"] == "invalid_client_id"
        assert h.app.state.metrics.widget.labels("send", "message_too_long")._value.get() == 1


async def test_sending_too_fast_is_429_with_retry_after(settings):
    async with running(settings.model_copy(update={"widget_rate_per_minute": 3})) as h:
        token, _ = await session_token(h)
        statuses = [(await send(h, token, f"question {i}")).status_code for i in range(3)]
        assert statuses == [202, 202, 202]
        refused = await send(h, token, "one more")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        # Another visitor on the same address still gets through (the per-IP budget is wider).
        other, _ = await session_token(h)
        assert (await send(h, other, "hello")).status_code == 202
        assert h.app.state.metrics.widget.labels("send", "rate_limited")._value.get() == 1


async def test_verified_visitor_keeps_the_same_contact_across_sessions(settings):
    async with running(settings) as h:
        # The brand already knows this guest (e.g. from its booking system through the API channel).
        async with h.runtime.transaction() as db:
            from touchpoint.workspaces.repository import account_by_key

            api_account = await account_by_key(db, h.account_key)
            known, _ = await resolve_identity(db, workspace_id=h.workspace_id, channel_account_id=api_account.id,
                                              external_id="booking-42", profile={"external_ref": "guest-42",
                                                                                 "name": "Ana Silva"})
            known_id = known.id
        good = await demo_user_hash(h, "guest-42")
        first, _ = await session_token(h, user_id="guest-42", user_hash=good)
        await send(h, first, "Can I bring my dog?")
        await eventually(lambda: _answered(h, first))

        # Another device, another day: a new session, no visitor token, the same verified user.
        second, _ = await session_token(h, user_id="guest-42", user_hash=good)
        history = await transcript(h, second)
        assert history["messages"][0]["text"] == "Can I bring my dog?"
        await send(h, second, "Is there parking?")
        await eventually(lambda: _reply_count(h, second, 2))

        async with h.runtime.sessionmaker() as db:
            identities = (await db.execute(select(ContactIdentity).where(
                ContactIdentity.contact_id == known_id).order_by(ContactIdentity.id))).scalars().all()
            conversations_of = (await db.execute(select(Conversation).where(
                Conversation.contact_id == known_id))).scalars().all()
        assert [i.external_id for i in identities] == ["booking-42", "u:guest-42"]
        webchat = [c for c in conversations_of if c.channel_account_id != api_account.id]
        assert len(webchat) == 1

        # An anonymous visitor who merely claims the name is somebody else entirely.
        stranger, _ = await session_token(h, name="Ana Silva")
        assert (await transcript(h, stranger))["messages"] == []


async def _reply_count(h, token, n):
    data = await transcript(h, token)
    return data if len(bot_replies(data)) >= n else None


async def test_transcript_hides_notes_and_shows_agents_by_first_name(settings):
    async with running(settings) as h:
        token, _ = await session_token(h)
        await send(h, token, "Is breakfast included?")
        data = await eventually(lambda: _answered(h, token))
        conversation_id = (await messages_with_text(h, "Is breakfast included?"))[0].conversation_id
        async with h.runtime.transaction() as db:
            conversation = await db.get(Conversation, conversation_id)
            maria = (await db.execute(select(Agent).where(Agent.email == "maria@harbour.example"))).scalar_one()
            await conversations.add_note(db, conversation=conversation, agent=maria, text="VIP, upgrade them")
            await conversations.agent_reply(db, conversation=conversation, agent=maria,
                                            text="Good morning! <b>Welcome</b>")

        async def agent_visible():
            page = await transcript(h, token)
            return page if any(m["sender"] == "agent" for m in page["messages"]) else None

        page = await eventually(agent_visible)
        texts = [m["text"] for m in page["messages"]]
        assert "VIP, upgrade them" not in texts
        joined = [m for m in page["messages"] if m["content"].get("event") == "agent_joined"]
        assert joined and joined[0]["content"]["agent_name"] == "Maria" and joined[0]["sender"] == "system"
        agent = next(m for m in page["messages"] if m["sender"] == "agent")
        assert agent["agent_name"] == "Maria" and agent["text"] == "Good morning! <b>Welcome</b>"
        assert len(page["messages"]) > len(data["messages"])
        async with h.runtime.sessionmaker() as db:
            assert (await db.execute(select(func.count()).select_from(Message).where(
                Message.status == "note"))).scalar() == 1
