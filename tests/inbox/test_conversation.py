"""The conversation page and every agent action: what changes, what is audited, what reaches the customer."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from tests.inbox.helpers import (
    MARIA,
    SAM,
    audit_actions,
    conversation_of,
    other_workspace_conversation,
    reload,
    sign_in,
)
from tests.support.harness import running
from tests.support.servers import eventually
from touchpoint.contacts.service import record_consent
from touchpoint.kit.clock import utcnow
from touchpoint.models import Agent, Contact, Message, Timer
from touchpoint.workspaces import repository as workspaces_repo


async def test_conversation_page_shows_contact_consent_and_transcript(settings):
    async with running(settings, run_background=False) as h:
        maria = await sign_in(h)
        yuki = await conversation_of(h, "Yuki Tanaka")
        page = await maria.get(f"/inbox/conversations/{yuki.id}")
        assert page.status_code == 200
        html = page.text
        for fact in ("Yuki Tanaka", "yuki@example.com", "Asia/Tokyo", "ja", "Web chat", "Sam Carter", "Sales"):
            assert fact in html, fact
        assert "opted in" in html and "booking_form" in html  # the demo's consent record
        assert "Do you offer group rates for 12 people in May?" in html
        assert re.search(r'class="msg msg-contact msg-in"', html)
        assert re.search(r'class="msg msg-agent msg-out"[\s\S]*?dstatus-read', html)
        await maria.aclose()


async def test_another_workspace_is_not_found(settings):
    async with running(settings, run_background=False) as h:
        foreign = await other_workspace_conversation(h)
        maria = await sign_in(h)
        for path in ("", "/panel", "/messages?after=0"):
            response = await maria.get(f"/inbox/conversations/{foreign}{path}")
            assert response.status_code == 404, path
            assert "Secret Customer" not in response.text and "private matter" not in response.text
        async with h.runtime.sessionmaker() as session:
            foreign_message = (await session.execute(
                select(Message.id).where(Message.conversation_id == foreign))).scalar_one()
        assert (await maria.get(f"/inbox/conversations/{foreign}/messages/{foreign_message}")).status_code == 404
        tom = await conversation_of(h, "Tom Baker")
        assert (await maria.get(f"/inbox/conversations/{tom.id}/messages/{foreign_message}")).status_code == 404
        for action, data in (("reply", {"text": "hi"}), ("note", {"text": "hi"}), ("take-over", {}),
                             ("resolve", {}), ("to-bot", {}), ("snooze", {"minutes": "60"})):
            response = await maria.act(f"/inbox/conversations/{foreign}/{action}", data)
            assert response.status_code == 404, action
        # Nor can Maria hand Tom's conversation to the other workspace's agent.
        async with h.runtime.sessionmaker() as session:
            eve = select(Agent.id).where(Agent.email == "eve@elsewhere.example")
            eve_id = (await session.execute(eve)).scalar_one()
        assert (await maria.act(f"/inbox/conversations/{tom.id}/assign", {"agent_id": eve_id})).status_code == 404
        assert (await reload(h, foreign)).status == "bot"
        assert (await reload(h, tom.id)).agent_id is None
        assert [m.text for m in await h.messages(foreign)] == ["private matter"]
        await maria.aclose()


async def test_customer_text_is_escaped(settings):
    async with running(settings) as h:
        attack = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'
        await h.say("mallory", attack)
        conversation = await eventually(lambda: _conversation_with_message(h, attack))
        maria = await sign_in(h)
        html = (await maria.get(f"/inbox/conversations/{conversation}")).text
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp;" in html
        fragment = (await maria.get(f"/inbox/conversations/{conversation}/messages?after=0")).text
        assert "<script>alert" not in fragment and "&lt;script&gt;" in fragment
        listing = (await maria.get("/inbox?view=bot")).text
        assert "<script>alert" not in listing
        await maria.aclose()


async def _conversation_with_message(h, text):
    for message in await h.messages():
        if message.text == text:
            return message.conversation_id
    return None


async def test_reply_is_delivered_through_the_send_gate_to_the_brand(settings):
    async with running(settings) as h:
        await h.say("user-9", "I want to talk to a human please")
        conversation = await eventually(lambda: _queued(h))
        maria = await sign_in(h)
        response = await maria.act(f"/inbox/conversations/{conversation}/reply",
                                   {"text": "Hi, Maria here. How can I help?", "idempotency_key": "k-1"})
        assert response.status_code == 204
        assert '"tp:changed"' in response.headers["HX-Trigger"]
        texts = await eventually(lambda: "Hi, Maria here. How can I help?" in h.brand.texts() and h.brand.texts())
        assert "Maria joined the conversation" in texts  # taking the conversation is announced first
        assert h.brand.received[-1]["recipient"]["id"] == "user-9"
        reply = await eventually(lambda: _agent_message(h, conversation, "sent"))
        assert reply.gate["action"] == "send" and reply.purpose == "service"
        row = await reload(h, conversation)
        assert row.status == "assigned" and row.agent_id is not None
        # The same form submitted again (double click, retry) does not send twice.
        again = await maria.act(f"/inbox/conversations/{conversation}/reply",
                                {"text": "Hi, Maria here. How can I help?", "idempotency_key": "k-1"})
        assert again.status_code == 204
        agent_messages = [m for m in await h.messages(conversation) if m.sender_kind == "agent"]
        assert len(agent_messages) == 1
        page = (await maria.get(f"/inbox/conversations/{conversation}")).text
        assert re.search(r"Hi, Maria here\. How can I help\?</div>\s*<footer class=\"delivery\">\s*"
                         r"<span class=\"dstatus dstatus-sent\">sent</span>", page)
        empty = await maria.act(f"/inbox/conversations/{conversation}/reply", {"text": "   "})
        assert empty.status_code == 422 and "empty" in empty.text
        await maria.aclose()


async def _queued(h):
    """The newest conversation on the harness's API channel that waits for an agent."""
    async with h.runtime.sessionmaker() as session:
        account = await workspaces_repo.account_by_key(session, h.account_key)
    rows = [c for c in await h.conversations() if c.status == "queued" and c.channel_account_id == account.id]
    return rows[-1].id if rows else None


async def _agent_message(h, conversation_id, status):
    rows = [m for m in await h.messages(conversation_id) if m.sender_kind == "agent" and m.status == status]
    return rows[-1] if rows else None


async def test_suppressed_reply_shows_reason_and_gate_verdict(settings):
    async with running(settings) as h:
        await h.say("user-stop", "I want to talk to a human please")
        conversation = await eventually(lambda: _queued(h))
        async with h.runtime.transaction() as session:
            row = await reload(h, conversation)
            contact = await session.get(Contact, row.contact_id)
            await record_consent(session, contact=contact, topic="*", channel="*", granted=False, source="test")
        maria = await sign_in(h)
        await maria.act(f"/inbox/conversations/{conversation}/reply", {"text": "Are you there?"})
        page = (await maria.get(f"/inbox/conversations/{conversation}")).text
        message = next(m for m in await h.messages(conversation) if m.text == "Are you there?")
        # Opted out after their last message: the gate keeps even an agent's service reply back.
        assert message.status == "suppressed" and message.status_reason == "opted_out"
        assert re.search(r"Are you there\?</div>\s*<footer class=\"delivery\">\s*"
                         r"<span class=\"dstatus dstatus-suppressed\">suppressed</span>", page)
        assert "Reason: <code>opted_out</code>" in page
        assert "Send gate: suppress · because opted_out · checked reachable, consent" in page
        assert "Are you there?" not in h.brand.texts()
        await maria.aclose()


async def test_take_over_assign_team_snooze_resolve_hand_back_and_note(settings):
    async with running(settings, run_background=False) as h:
        maria = await sign_in(h)
        tom = await conversation_of(h, "Tom Baker")
        base = f"/inbox/conversations/{tom.id}"
        async with h.runtime.sessionmaker() as session:
            sam = await workspaces_repo.agent_by_email(session, SAM, h.workspace_id)
            me = await workspaces_repo.agent_by_email(session, MARIA, h.workspace_id)
            sales = {t.slug: t for t in await workspaces_repo.teams_of(session, h.workspace_id)}["sales"]
        assert sam is not None and me is not None

        assert (await maria.act(base + "/take-over")).status_code == 204
        row = await reload(h, tom.id)
        assert row.status == "assigned" and row.agent_id == me.id

        # Plain form posts work too and land back on the conversation.
        plain = await maria.act(base + "/assign", {"agent_id": sam.id}, htmx=False)
        assert plain.status_code == 303 and plain.headers["location"] == base
        assert (await reload(h, tom.id)).agent_id == sam.id

        assert (await maria.act(base + "/team", {"team_id": sales.id})).status_code == 204
        row = await reload(h, tom.id)
        assert row.team_id == sales.id and row.status == "queued" and row.agent_id is None

        assert (await maria.act(base + "/note", {"text": "VIP guest, be nice"})).status_code == 204
        note = [m for m in await h.messages(tom.id) if m.status == "note"]
        assert [n.text for n in note] == ["VIP guest, be nice"]
        assert not [m for m in await h.messages(tom.id) if m.text == "VIP guest, be nice" and m.status != "note"]

        before = utcnow()
        assert (await maria.act(base + "/snooze", {"minutes": "60"})).status_code == 204
        row = await reload(h, tom.id)
        assert row.status == "snoozed"
        assert before + timedelta(minutes=59) < row.snoozed_until < utcnow() + timedelta(minutes=61)
        async with h.runtime.sessionmaker() as session:
            timers = (await session.execute(select(Timer).where(Timer.subject_id == tom.id))).scalars().all()
        assert len(timers) == 1 and timers[0].kind == "snooze_wake"
        assert (await maria.act(base + "/snooze", {"minutes": "7"})).status_code == 422

        assert (await maria.act(base + "/resolve")).status_code == 204
        row = await reload(h, tom.id)
        assert row.status == "resolved" and row.resolved_at is not None
        assert (await maria.act(base + "/snooze", {"minutes": "60"})).status_code == 409

        assert (await maria.act(base + "/to-bot")).status_code == 204
        row = await reload(h, tom.id)
        assert row.status == "bot" and row.agent_id is None

        actions = [(a.action, a.actor_type) for a in await audit_actions(h, tom.id)]
        assert actions == [("conversation.assign", "agent"), ("conversation.assign", "agent"),
                           ("conversation.assign_team", "agent"), ("conversation.snooze", "agent"),
                           ("conversation.resolve", "agent"), ("conversation.to_bot", "agent")]
        entries = await audit_actions(h, tom.id)
        assert {e.actor_id for e in entries} == {me.id}
        assert entries[1].details["agent_id"] == sam.id and entries[2].details["team_id"] == sales.id
        page = (await maria.get(base)).text
        assert "Internal note · Maria Lopez" in page and "VIP guest, be nice" in page
        assert "pill-bot" in page
        await maria.aclose()


async def test_resolved_conversation_is_not_reopened_when_a_newer_one_exists(settings):
    async with running(settings) as h:
        await h.say("repeat", "I want to talk to a human please")
        first = await eventually(lambda: _queued(h))
        maria = await sign_in(h)
        assert (await maria.act(f"/inbox/conversations/{first}/resolve")).status_code == 204
        await h.say("repeat", "I want to talk to a human please, again")
        second = await eventually(lambda: _newer_than(h, first))
        blocked = await maria.act(f"/inbox/conversations/{first}/take-over")
        assert blocked.status_code == 409 and "newer_conversation_open" in blocked.text
        page = (await maria.get(f"/inbox/conversations/{first}")).text
        assert f'href="/inbox/conversations/{second}"' in page
        await maria.aclose()


async def _newer_than(h, conversation_id):
    rows = [c.id for c in await h.conversations() if c.id > conversation_id]
    return rows[-1] if rows else None


async def test_fragments_render_new_messages_and_the_panel(settings):
    async with running(settings, run_background=False) as h:
        maria = await sign_in(h)
        tom = await conversation_of(h, "Tom Baker")
        last = max(m.id for m in await h.messages(tom.id))
        assert "msg" not in (await maria.get(f"/inbox/conversations/{tom.id}/messages?after={last}")).text
        await maria.act(f"/inbox/conversations/{tom.id}/note", {"text": "first note"})
        fragment = (await maria.get(f"/inbox/conversations/{tom.id}/messages?after={last}")).text
        assert fragment.count('class="msg ') == 1 and "first note" in fragment and "<html" not in fragment
        note_id = max(m.id for m in await h.messages(tom.id))
        one = (await maria.get(f"/inbox/conversations/{tom.id}/messages/{note_id}")).text
        assert f'id="m-{note_id}"' in one
        panel = (await maria.get(f"/inbox/conversations/{tom.id}/panel")).text
        assert panel.lstrip().startswith('<div id="conv-panel"') and "Take over" in panel
        await maria.aclose()


async def test_bad_input_is_a_clear_4xx_never_a_500(settings):
    async with running(settings, run_background=False) as h:
        maria = await sign_in(h)
        tom = await conversation_of(h, "Tom Baker")
        huge = str(2**70)
        base = f"/inbox/conversations/{tom.id}"
        for path in (f"/inbox/conversations/{huge}", "/inbox/conversations/abc", "/inbox/conversations/0",
                     f"{base}/messages?after=-1", f"{base}/messages/{huge}"):
            response = await maria.get(path)
            assert response.status_code == 422, path
            assert "text/html" in response.headers["content-type"]
        for action, data in (("assign", {"agent_id": huge}), ("assign", {}), ("team", {"team_id": "x"}),
                             ("snooze", {"minutes": "soon"}), ("assign", {"agent_id": "987654"}),
                             ("team", {"team_id": "987654"})):
            response = await maria.act(f"/inbox/conversations/{tom.id}/{action}", data)
            assert response.status_code in (404, 422), (action, data, response.status_code)
            assert 'class="toast' in response.text  # HTMX gets a fragment that inbox.js shows as a notice
        too_long = await maria.act(f"/inbox/conversations/{tom.id}/note", {"text": "x" * 4001})
        assert too_long.status_code == 422 and "too long" in too_long.text
        assert (await reload(h, tom.id)).status == "queued"
        await maria.aclose()
