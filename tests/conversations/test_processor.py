"""The processor through the real path: signed webhook in, what the customer gets back, who owns it."""

from __future__ import annotations

from sqlalchemy import select

from tests.support.harness import running
from tests.support.servers import eventually
from touchpoint.conversations import service
from touchpoint.models import Agent, AuditEntry, ConsentRecord, Conversation, Team


async def _conversation_of(h, sender: str) -> Conversation:
    rows = await h.conversations()
    from touchpoint.models import ContactIdentity

    async with h.runtime.sessionmaker() as session:
        identity = (await session.execute(select(ContactIdentity).where(
            ContactIdentity.external_id == sender))).scalar_one()
    return next(c for c in rows if c.contact_id == identity.contact_id)


async def test_asking_for_a_person_hands_over_to_service_with_an_instant_acknowledgement(settings):
    async with running(settings) as h:
        await h.say("u-human", "Can I talk to a real person please?")
        texts = await eventually(lambda: h.brand.texts())
        assert "connecting you with our service team" in texts[0]
        conversation = await _conversation_of(h, "u-human")
        assert conversation.status == "queued"
        async with h.runtime.sessionmaker() as session:
            team = await session.get(Team, conversation.team_id)
            audit = (await session.execute(select(AuditEntry).where(
                AuditEntry.action == "conversation.handoff"))).scalars().all()
        assert team.slug == "service"
        assert audit[-1].details["reason"] == "asked for a person"


async def test_bot_stays_silent_while_a_human_owns_the_conversation(settings):
    async with running(settings) as h:
        await h.say("u-quiet", "agent")
        await eventually(lambda: len(h.brand.received) == 1)
        await h.say("u-quiet", "Is breakfast included?")
        conversation = await _conversation_of(h, "u-quiet")
        await eventually(lambda: _inbound_count(h, conversation.id, 2))
        # The FAQ answer would be an automated message: it must not be produced at all.
        messages = await h.messages(conversation.id)
        assert [m.sender_kind for m in messages] == ["contact", "system", "contact"]
        assert len(h.brand.received) == 1


async def test_agent_reply_arrives_and_resolve_returns_the_conversation_to_the_bot(settings):
    async with running(settings) as h:
        await h.say("u-agent", "human please")
        await eventually(lambda: len(h.brand.received) == 1)
        conversation = await _conversation_of(h, "u-agent")
        async with h.runtime.transaction() as session:
            agent = (await session.execute(select(Agent).where(Agent.email == "li@harbour.example"))).scalar_one()
            conv = await session.get(Conversation, conversation.id)
            await service.agent_reply(session, conversation=conv, agent=agent, text="Hi, Li here. How can I help?")
        texts = await eventually(lambda: h.brand.texts() if len(h.brand.received) >= 3 else None)
        assert texts[1] == "Li joined the conversation"
        assert texts[2] == "Hi, Li here. How can I help?"
        async with h.runtime.transaction() as session:
            conv = await session.get(Conversation, conversation.id)
            await service.resolve(session, conversation=conv, actor=service.Actor("agent", agent.id, agent.name))
        await h.say("u-agent", "Is there parking?")
        texts = await eventually(lambda: h.brand.texts() if len(h.brand.received) >= 4 else None)
        assert "garage" in texts[3]
        conversations = [c for c in await h.conversations() if c.contact_id == conversation.contact_id]
        assert [c.status for c in conversations] == ["resolved", "bot"]


async def test_stop_is_honoured_and_confirmed_and_start_undoes_it(settings):
    async with running(settings) as h:
        await h.say("u-stop", "STOP")
        texts = await eventually(lambda: h.brand.texts())
        assert "unsubscribed" in texts[0]
        async with h.runtime.sessionmaker() as session:
            records = (await session.execute(select(ConsentRecord).order_by(ConsentRecord.id))).scalars().all()
        assert (records[-1].topic, records[-1].channel, records[-1].granted, records[-1].source) == \
            ("*", "api", False, "keyword")
        await h.say("u-stop", "start")
        texts = await eventually(lambda: h.brand.texts() if len(h.brand.received) == 2 else None)
        assert "subscribed again" in texts[1]


async def test_two_misunderstandings_in_a_row_go_to_a_person(settings):
    async with running(settings) as h:
        await h.say("u-lost", "flibbertigibbet wobble")
        await eventually(lambda: len(h.brand.received) == 1)
        assert "not sure I understood" in h.brand.texts()[0]
        await h.say("u-lost", "zorp quux")
        texts = await eventually(lambda: h.brand.texts() if len(h.brand.received) == 2 else None)
        assert "connecting you" in texts[1]
        conversation = await _conversation_of(h, "u-lost")
        assert conversation.status == "queued"
        assert conversation.handoff_reason == "bot did not understand twice"


async def test_a_customer_writing_in_order_is_answered_in_order(settings):
    async with running(settings) as h:
        for text in ["Is breakfast included?", "Is there parking?", "Do you have wifi?"]:
            await h.say("u-order", text)
        texts = await eventually(lambda: h.brand.texts() if len(h.brand.received) == 3 else None)
        assert ["Breakfast" in texts[0], "garage" in texts[1], "wifi" in texts[2]] == [True, True, True]


async def _inbound_count(h, conversation_id: int, n: int) -> bool:
    messages = await h.messages(conversation_id)
    return sum(1 for m in messages if m.direction == "in") >= n and not await _pending_events(h)


async def _pending_events(h) -> bool:
    from touchpoint.models import InboundEvent

    async with h.runtime.sessionmaker() as session:
        rows = (await session.execute(select(InboundEvent).where(InboundEvent.status != "done"))).scalars().all()
    return bool(rows)


async def test_a_card_number_typed_into_chat_is_masked_before_storage_and_the_customer_is_warned(settings):
    from touchpoint.models import InboundEvent

    async with running(settings) as h:
        await h.say("u-card", "my card is 4242 4242 4242 4242, can you charge the balance?")
        texts = await eventually(lambda: h.brand.texts() if h.brand.texts() else None)
        assert "hidden the card number" in texts[0]
        conversation = await _conversation_of(h, "u-card")
        [inbound] = [m for m in await h.messages(conversation.id) if m.direction == "in"]
        assert "4242 4242 4242 4242" not in inbound.text and inbound.text.endswith("4242, can you charge the balance?")
        async with h.runtime.sessionmaker() as session:
            payloads = (await session.execute(select(InboundEvent.payload))).scalars().all()
        assert payloads and all("4242 4242 4242 4242" not in str(p) for p in payloads)
