"""Realistic conversations for the agent-assist tests, stored the way the live path stores them: customer
messages, bot replies carrying their decision, AssistantDecision rows, a flow session with slots, the
handoff's system message, and a payment waiting for approval.

Rows are inserted directly (no dispatcher): these tests are about what an agent sees, not delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.contacts.service import resolve_identity
from touchpoint.kit.clock import utcnow
from touchpoint.models import (
    AssistantDecision,
    CannedResponse,
    ChannelAccount,
    Conversation,
    FlowDefinition,
    FlowSession,
    Message,
    PaymentRequest,
    Team,
)

CANNED = [
    ("invoice", "Company invoice", "I can reissue the invoice with your company details. Please send the company "
     "name, address and VAT number and I'll email the corrected invoice today."),
    ("payment-link", "Payment link not working", "Sorry the payment link did not work. I've sent you a new secure "
     "payment link; it stays valid for 24 hours."),
    ("late-checkout", "Late check-out", "Late check-out until 1 pm is possible for 20 EUR; shall I book it for you?"),
    ("wifi", "Wifi password", "The wifi password is printed on your key card; the network is HarbourGuest."),
]


@dataclass(frozen=True)
class Seeded:
    conversation_id: int
    contact_id: int
    payment_id: int | None
    flow_session_id: int | None


async def add_canned(session: AsyncSession, workspace_id: int) -> list[CannedResponse]:
    rows = [CannedResponse(workspace_id=workspace_id, shortcut=s, title=t, text=x) for s, t, x in CANNED]
    session.add_all(rows)
    await session.flush()
    return rows


async def _account(session: AsyncSession, workspace_id: int) -> ChannelAccount:
    return (await session.execute(select(ChannelAccount).where(
        ChannelAccount.workspace_id == workspace_id, ChannelAccount.channel == "webchat"))).scalars().first()


async def _team(session: AsyncSession, workspace_id: int, slug: str) -> Team:
    return (await session.execute(select(Team).where(Team.workspace_id == workspace_id,
                                                     Team.slug == slug))).scalar_one()


class _Writer:
    def __init__(self, session: AsyncSession, conversation: Conversation) -> None:
        self.session = session
        self.conversation = conversation
        self.at = utcnow() - timedelta(minutes=20)

    async def say(self, sender: str, text: str, *, content: dict[str, Any] | None = None,
                  language: str | None = None) -> Message:
        self.at += timedelta(seconds=40)
        inbound = sender == "contact"
        message = Message(workspace_id=self.conversation.workspace_id, conversation_id=self.conversation.id,
                          channel_account_id=self.conversation.channel_account_id,
                          direction="in" if inbound else "out", sender_kind=sender, text=text,
                          content=content or {}, status="received" if inbound else "read",
                          language=language, status_at=self.at, created_at=self.at)
        self.session.add(message)
        await self.session.flush()
        self.conversation.last_message_at = self.at
        self.conversation.last_message_preview = text[:200]
        return message

    async def decide(self, message: Message, action: str, rule: str, *, intent: str | None = None,
                     confidence: float = 0.0, sentiment: float | None = 0.0, team: str | None = None) -> None:
        self.session.add(AssistantDecision(
            workspace_id=self.conversation.workspace_id, conversation_id=self.conversation.id, message_id=message.id,
            action=action, rule=rule, intent=intent, confidence=confidence, language="en", sentiment=sentiment,
            team_slug=team, scores={"confidence": confidence}, created_at=self.at))
        await self.session.flush()


async def payment_handoff(session: AsyncSession, workspace_id: int, *, name: str = "Grace Hopper") -> Seeded:
    """A VIP wants to pay her bill, the link failed; the bot runs the pay-bill flow (a payment now waits for
    approval), does not understand a follow-up about an invoice, and she asks for a person."""
    account = await _account(session, workspace_id)
    service = await _team(session, workspace_id, "service")
    contact, _ = await resolve_identity(session, workspace_id=workspace_id, channel_account_id=account.id,
                                        external_id=f"visitor-{name.lower().replace(' ', '-')}",
                                        profile={"name": name, "email": "grace@example.com"})
    contact.attributes = {"vip": True}
    conversation = Conversation(workspace_id=workspace_id, contact_id=contact.id, channel_account_id=account.id,
                                status="bot", last_message_at=utcnow())
    session.add(conversation)
    await session.flush()
    w = _Writer(session, conversation)
    m = await w.say("contact", "Hi there!", language="en")
    await w.decide(m, "answer", "small_talk:greeting", intent="greeting", confidence=0.97, sentiment=0.2)
    await w.say("bot", "Hello! How can I help with your stay?", content={"rule": "small_talk:greeting"})
    m = await w.say("contact", "Hello. I want to pay my bill for booking HB-2291 but the payment link in the email "
                    "doesn't open. Can you help?", language="en")
    await w.decide(m, "flow", "flow:pay_bill:active", intent="pay_bill", confidence=0.91, sentiment=-0.3)
    await w.say("bot", "I can help you pay. What is your booking reference?", content={"rule": "flow:pay_bill:active"})
    m = await w.say("contact", "HB-2291", language="en")
    await w.decide(m, "flow", "flow:pay_bill:waiting_approval", intent="pay_bill", confidence=0.0, sentiment=0.0)
    await w.say("bot", "Your balance is 184.50 EUR. I've prepared the payment; a colleague will approve it and send "
                "you a secure link.", content={"rule": "flow:pay_bill:waiting_approval"})
    m = await w.say("contact", "ok but can I also get an invoice with my company name on it?", language="en")
    await w.decide(m, "clarify", "no_answer", intent=None, confidence=0.21, sentiment=0.0)
    await w.say("bot", "I'm not sure I understood. Could you say it another way?",
                content={"rule": "no_answer", "quick_replies": ["Talk to a person"]})
    m = await w.say("contact", "this is taking forever, can I talk to a person please", language="en")
    await w.decide(m, "escalate", "human_request", intent="human_request", confidence=0.96, sentiment=-0.55,
                   team="service")
    # The demo's own pay_bill flow when the workspace has one; the session only needs a row to point at.
    definition = (await session.execute(select(FlowDefinition).where(
        FlowDefinition.workspace_id == workspace_id, FlowDefinition.name == "pay_bill"))).scalars().first()
    if definition is None:
        definition = FlowDefinition(workspace_id=workspace_id, name="pay_bill", version=1, source="name: pay_bill",
                                    definition={"name": "pay_bill"})
        session.add(definition)
        await session.flush()
    flow = FlowSession(workspace_id=workspace_id, conversation_id=conversation.id, flow_id=definition.id,
                       flow_name="pay_bill", status="waiting_approval", step="approve",
                       slots={"booking_reference": "HB-2291", "amount": "184.50 EUR"})
    session.add(flow)
    await session.flush()
    # Not linked to the flow session: approving then needs no real flow definition (the flows tests cover
    # what an approval does to a flow); the inbox tests are about the agent's controls.
    payment = PaymentRequest(workspace_id=workspace_id, conversation_id=conversation.id, contact_id=contact.id,
                             reference="HB-2291", amount_cents=18450, currency="EUR")
    session.add(payment)
    conversation.status = "queued"
    conversation.team_id = service.id
    conversation.handoff_reason = "asked for a person"
    conversation.handed_off_at = w.at
    conversation.priority = 1
    await w.say("system", "You're next in line: connecting you with our service team.",
                content={"event": "handoff", "decision": {"rule": "human_request", "intent": "human_request"}})
    await session.flush()
    return Seeded(conversation.id, contact.id, payment.id, flow.id)
