"""The extractive summary and the assist panel on realistic conversations, on both databases."""

from __future__ import annotations

from datetime import timedelta

from tests.assistant.assist.scenarios import add_canned, payment_handoff
from touchpoint.assistant.assist import service as assist
from touchpoint.assistant.assist.summary import condense, is_human_request, is_substantive, summarize
from touchpoint.contacts.service import resolve_identity
from touchpoint.kit.clock import utcnow
from touchpoint.models import AssistantDecision, Contact, Conversation, Message


def msg(id_: int, sender: str, text: str, content: dict | None = None, language: str | None = None) -> Message:
    return Message(id=id_, sender_kind=sender, text=text, content=content or {}, language=language,
                   direction="in" if sender == "contact" else "out", status="received")


async def _panel(session, conversation_id: int, **kwargs) -> assist.AssistPanel:
    conversation = await session.get(Conversation, conversation_id)
    contact = await session.get(Contact, conversation.contact_id)
    return await assist.assist_panel(session, conversation=conversation, contact=contact, channel="Web chat",
                                     team_name="Service", **kwargs)


async def test_payment_handoff_summary_and_panel(db):
    async with db.sessions() as session, session.begin():
        await add_canned(session, db.workspace_id)
        seeded = await payment_handoff(session, db.workspace_id)
    async with db.sessions() as session:
        panel = await _panel(session, seeded.conversation_id)
    s = panel.summary
    assert s.who == "Grace Hopper, on Web chat, writes in English (VIP)"
    # The customer's own words, without the greeting; the follow-up request as "then"; "HB-2291" alone
    # (a flow answer) and "can I talk to a person" (the handover, reported below) are not requests.
    assert s.asked == "I want to pay my bill for booking HB-2291 but the payment link in the email doesn't open."
    assert s.latest == "ok but can I also get an invoice with my company name on it?"
    assert "Did not understand and asked to rephrase once" in s.bot
    flow_line = next(line for line in s.bot if "pay_bill" in line)
    assert "waiting for an agent to approve the payment" in flow_line
    assert "booking reference HB-2291" in flow_line and "amount 184.50 EUR" in flow_line
    assert s.handover == "To Service: asked for a person (rule human_request), priority 1"
    assert s.handed_over_at is not None
    assert [label for label, _ in s.lines()] == ["Customer", "Asked", "Then", "Bot", "Bot", "Handover"]
    # What the bot understood: the request behind the handover, not "human_request" itself.
    assert (panel.intent, panel.confidence) == ("pay_bill", 0.91)
    assert panel.sentiment == -0.55 and panel.sentiment_label == "negative"
    assert (panel.language, panel.language_label) == ("en", "English")
    assert (panel.flow_name, panel.flow_status) == ("pay_bill", "waiting_approval")
    assert panel.slots == {"booking_reference": "HB-2291", "amount": "184.50 EUR"}
    assert (panel.handoff_rule, panel.handoff_reason) == ("human_request", "asked for a person")
    assert [(p.reference, p.amount_cents) for p in panel.pending_payments] == [("HB-2291", 18450)]
    # Suggestions for both requests, newest first, each with its source: the invoice canned response, the
    # knowledge base's bill answer (the demo FAQ, found by words) and the broken-link canned response.
    assert [(x.source, x.title) for x in panel.suggestions] == [
        ("canned", "Company invoice"), ("knowledge", "How do I pay my bill?"), ("canned", "Payment link not working")]
    assert panel.suggestions[0].ref.startswith("canned:") and panel.suggestions[0].title == "Company invoice"
    assert {c.shortcut for c in panel.canned} == {"invoice", "payment-link", "late-checkout", "wifi"}
    assert panel.llm_enabled is False


async def test_bot_answered_from_the_knowledge_base_then_customer_complained(db):
    """A conversation stored by the older FAQ assistant (no decision rows: each bot message carries its
    decision and source) that ended in a complaint the policy handed over."""
    async with db.sessions() as session, session.begin():
        seeded = await payment_handoff(session, db.workspace_id, name="Bo Lind")
        conversation = await session.get(Conversation, seeded.conversation_id)
        # Start over as a different story on a fresh conversation of the same contact.
        fresh = Conversation(workspace_id=db.workspace_id, contact_id=conversation.contact_id,
                             channel_account_id=conversation.channel_account_id, status="queued",
                             handoff_reason="complaint", priority=2, last_message_at=utcnow())
        session.add(fresh)
        await session.flush()
        rows = [("contact", "Is breakfast included in my rate?", {}),
                ("bot", "Breakfast is included in every flexible rate.", {"rule": "faq_match", "decision": {
                    "rule": "faq_match", "intent": "faq:3", "confidence": 0.8},
                    "source": {"faq_id": 3, "question": "Is breakfast included?"}}),
                ("contact", "And is there parking?", {}),
                ("bot", "Yes, we have a garage.", {"rule": "faq_match", "decision": {
                    "rule": "faq_match", "intent": "faq:6", "confidence": 0.7},
                    "source": {"knowledge_id": 6, "title": "Is there parking?", "url": None}}),
                ("contact", "The room smelled of smoke and the staff was rude. I expect a refund!!", {})]
        for sender, text, content in rows:
            session.add(Message(workspace_id=db.workspace_id, conversation_id=fresh.id,
                                channel_account_id=fresh.channel_account_id, sender_kind=sender, text=text,
                                content=content, direction="in" if sender == "contact" else "out",
                                status="received" if sender == "contact" else "read"))
        await session.flush()
        fresh_id = fresh.id
    async with db.sessions() as session:
        panel = await _panel(session, fresh_id)
    s = panel.summary
    assert s.asked == "Is breakfast included in my rate?"
    assert s.latest == "The room smelled of smoke and the staff was rude. I expect a refund!!"
    assert s.bot == ("Answered from the knowledge base: “Is breakfast included?”, “Is there parking?”",)
    assert s.handover == "To Service: complaint, priority 2"
    assert panel.intent == "faq:6" and panel.confidence == 0.7
    # No decision rows recorded a mood: the policy's scorer reads the latest request.
    assert panel.sentiment is not None and panel.sentiment_label == "negative"
    assert panel.flow_name is None and panel.slots == {} and panel.pending_payments == []


async def test_a_bot_owned_conversation_has_no_handover_and_notes_stay_out(db):
    async with db.sessions() as session, session.begin():
        contact, _ = await resolve_identity(session, workspace_id=db.workspace_id,
                                            channel_account_id=await _webchat(session, db.workspace_id),
                                            external_id="v-notes", profile={"name": "Nia"})
        conversation = Conversation(workspace_id=db.workspace_id, contact_id=contact.id,
                                    channel_account_id=(await _webchat(session, db.workspace_id)), status="bot",
                                    last_message_at=utcnow())
        session.add(conversation)
        await session.flush()
        for sender, text, status in (("contact", "Can I bring my dog to the garden room?", "received"),
                                     ("agent", "Internal: she is a returning guest, be nice", "note")):
            session.add(Message(workspace_id=db.workspace_id, conversation_id=conversation.id,
                                channel_account_id=conversation.channel_account_id, sender_kind=sender, text=text,
                                direction="in" if sender == "contact" else "out", status=status))
        session.add(AssistantDecision(workspace_id=db.workspace_id, conversation_id=conversation.id,
                                      action="answer", rule="knowledge_answer", intent=None, confidence=0.6,
                                      language="en", sentiment=0.1, scores={}))
        await session.flush()
        conversation_id = conversation.id
    async with db.sessions() as session:
        panel = await _panel(session, conversation_id)
    assert panel.summary.handover is None
    assert panel.summary.asked == "Can I bring my dog to the garden room?"
    assert panel.summary.bot == ("Answered 1 question from the knowledge base",)
    assert "Internal" not in panel.summary.text()
    # The real knowledge base (the demo's FAQ, words only) suggests the dog answer, with its source.
    knowledge = [x for x in panel.suggestions if x.source == "knowledge"]
    assert knowledge and knowledge[0].title == "Can I bring my dog?"
    assert "dogs are welcome" in knowledge[0].text and knowledge[0].ref.startswith("knowledge:")
    assert panel.sentiment_label == "neutral"


async def _webchat(session, workspace_id: int) -> int:
    from sqlalchemy import select

    from touchpoint.models import ChannelAccount

    return (await session.execute(select(ChannelAccount.id).where(
        ChannelAccount.workspace_id == workspace_id, ChannelAccount.channel == "webchat"))).scalars().first()


def test_summary_of_a_human_request_only_and_of_nothing():
    only = summarize(contact_name=None, channel="SMS", conversation_status="queued",
                     handoff_reason="asked for a person",
                     messages=[msg(1, "contact", "hello"), msg(2, "contact", "AGENT please")],
                     decisions=[AssistantDecision(action="escalate", rule="human_request", intent="human_request",
                                                  confidence=1.0)])
    assert only.who == "Unknown contact, on SMS"
    assert only.asked == "AGENT please" and only.latest is None
    assert only.bot == ("Nothing yet: the bot did not answer before the handover",)
    assert only.handover == "To the team queue: asked for a person (rule human_request)"
    empty = summarize(contact_name="Ana", channel=None, messages=[])
    assert (empty.asked, empty.latest, empty.handover) == (None, None, None)
    assert empty.bot == ("No answers from the bot yet",)
    assert empty.text() == "Customer: Ana\nBot: No answers from the bot yet"


def test_condense_keeps_the_request_in_the_customers_words():
    assert condense("Hi there! Good morning. My card was charged twice for booking 4411.") == \
        "My card was charged twice for booking 4411."
    long = "I booked a room " + "with a sea view and a balcony " * 20 + "and got a room facing the car park."
    short = condense(long, limit=80)
    assert len(short) <= 81 and short.endswith("…") and short.startswith("I booked a room with a sea view")
    assert " " not in short[-3:-1]  # cut at a word, not inside one
    assert condense("ok") == "ok"  # nothing substantive: kept as is rather than dropped


def test_substance_and_human_requests_across_languages():
    assert is_substantive("予約を変更したいのですが")  # Japanese has no spaces
    assert is_substantive("Quiero cambiar mi reserva")
    assert not is_substantive("thanks!!") and not is_substantive("yes") and not is_substantive("HB-2291")
    assert is_human_request("can I speak to someone please") and is_human_request("human")
    assert not is_human_request("the person at reception was rude")


def test_summary_language_comes_from_the_latest_customer_message():
    at = utcnow()
    s = summarize(contact_name="Lea", channel="WhatsApp",
                  messages=[msg(1, "contact", "Bonjour, je voudrais changer ma réservation", language="fr"),
                            msg(2, "contact", "sorry, in English: I want to change my booking", language="en")],
                  conversation_status="assigned", handoff_reason="language not served", team_name="Service",
                  handed_over_at=at - timedelta(minutes=3))
    assert s.who == "Lea, on WhatsApp, writes in English"
    assert s.asked == "Bonjour, je voudrais changer ma réservation"
    assert s.latest == "sorry, in English: I want to change my booking"
    assert s.handover == "To Service: language not served"
