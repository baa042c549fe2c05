"""Payments: the bot prepares, a person approves or rejects, only then does the customer get a link."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.assistant.flows.support import FakeBrandApi, world
from tests.support.servers import serve_asgi
from touchpoint.assistant.flows import payments
from touchpoint.kit.errors import Conflict, NotFound
from touchpoint.models import Agent, AuditEntry, Message, PaymentRequest
from touchpoint.workspaces import service as workspaces

PAY = """\
name: pay
slots:
  ref: {type: text, prompt: "Reference?"}
steps:
  - ask: ref
  - id: bill
    action: {url: "/bills/{ref}", expect: [amount, currency]}
  - id: approve
    approval:
      amount: "{bill.amount}"
      currency: "{bill.currency}"
      reference: "{ref}"
      reason: "Pay {payment.amount} for {ref}"
      message: "Your balance is {payment.amount}; a colleague will send you a link."
      link: {url: /links, body: {ref: "{payment.reference}", cents: "{payment.amount_cents}"}}
      sent: "Pay {payment.amount} here: {payment.url}"
      rejected: "Sorry, no online payment for {ref}."
"""
LINK_URL = PAY.replace('link: {url: /links, body: {ref: "{payment.reference}", cents: "{payment.amount_cents}"}}',
                       'link_url: "https://pay.example/{payment.reference}?cents={payment.amount_cents}"')


async def _agent(w) -> Agent:
    async with w.runtime.sessionmaker() as session:
        agent = await session.get(Agent, w.agent_id)
        assert agent is not None
        return agent


async def _payment(w) -> PaymentRequest:
    async with w.runtime.sessionmaker() as session:
        return (await session.execute(select(PaymentRequest))).scalar_one()


async def _prepare(w, brand) -> PaymentRequest:
    await w.start("pay")
    await w.say("R-1")
    await w.run_actions()
    return await _payment(w)


async def test_the_bot_prepares_the_payment_and_a_person_must_approve_it(settings):
    brand = FakeBrandApi()
    brand.on("/bills/R-1", (200, {"amount": "182.50", "currency": "eur"}))
    brand.on("/links", (201, {"url": "https://pay.example/abc"}))
    async with serve_asgi(brand.app()) as url, world(settings, PAY, base_url=url, allow_private_urls=True) as w:
        payment = await _prepare(w, brand)
        assert (payment.amount_cents, payment.currency, payment.reference, payment.status) == \
            (18250, "EUR", "R-1", "pending_approval")
        texts = await w.bot_texts()
        assert texts[-2] == "Your balance is 182.50 EUR; a colleague will send you a link."
        assert "connecting you" in texts[-1]
        conversation = await w.conversation()
        assert conversation.status == "queued" and conversation.handoff_reason == "flow pay: Pay 182.50 EUR for R-1"
        assert (await w.flow_session()).status == "waiting_approval"
        assert brand.hits("/links") == 0  # nothing before a person says yes

        async with w.runtime.transaction() as session:
            approved = await payments.approve_payment(session, request_id=payment.id, agent=await _agent(w))
        assert approved.status == "approved"
        await w.run_actions()
        assert brand.received[-1]["json"] == {"ref": "R-1", "cents": 18250}
        async with w.runtime.sessionmaker() as session:
            link = (await session.execute(select(Message).where(Message.conversation_id == w.conversation_id)
                                          .order_by(Message.id.desc()))).scalars().first()
            audit = (await session.execute(select(AuditEntry).where(AuditEntry.action == "payment.approve"))
                     ).scalar_one()
        # Transactional: it goes out although a person owns the conversation.
        assert link.text == "Pay 182.50 EUR here: https://pay.example/abc"
        assert link.status == "queued" and link.purpose == "transactional"
        assert link.content["event"] == "payment_link"
        assert audit.actor_id == w.agent_id and audit.details["amount_cents"] == 18250
        payment = await _payment(w)
        assert payment.status == "link_sent" and payment.payment_url == "https://pay.example/abc"
        assert payment.decided_by == w.agent_id
        assert (await w.flow_session()).status == "completed"

        async with w.runtime.transaction() as session:
            with pytest.raises(Conflict) as again:
                await payments.approve_payment(session, request_id=payment.id, agent=await _agent(w))
        assert again.value.code == "payment_decided"


async def test_a_link_url_template_sends_the_link_at_once(settings):
    brand = FakeBrandApi()
    brand.on("/bills/R-1", (200, {"amount": 20, "currency": "GBP"}))
    async with serve_asgi(brand.app()) as url, world(settings, LINK_URL, base_url=url, allow_private_urls=True) as w:
        payment = await _prepare(w, brand)
        async with w.runtime.transaction() as session:
            await payments.approve_payment(session, request_id=payment.id, agent=await _agent(w))
        assert (await w.bot_texts())[-1] == "Pay 20.00 GBP here: https://pay.example/R-1?cents=2000"
        assert (await _payment(w)).status == "link_sent"


async def test_rejecting_tells_the_customer_politely_and_ends_the_flow(settings):
    brand = FakeBrandApi()
    brand.on("/bills/R-1", (200, {"amount": "5", "currency": "EUR"}))
    async with serve_asgi(brand.app()) as url, world(settings, PAY, base_url=url, allow_private_urls=True) as w:
        payment = await _prepare(w, brand)
        async with w.runtime.transaction() as session:
            await payments.reject_payment(session, request_id=payment.id, agent=await _agent(w), note="disputed")
        assert (await w.bot_texts())[-1] == "Sorry, no online payment for R-1."
        payment = await _payment(w)
        assert (payment.status, payment.note) == ("rejected", "disputed")
        assert (await w.flow_session()).status == "cancelled"
        assert (await w.conversation()).status == "queued"  # still with people, who can write
        assert brand.hits("/links") == 0


async def test_a_failed_link_action_is_said_and_noted_for_the_agent(settings):
    brand = FakeBrandApi()
    brand.on("/bills/R-1", (200, {"amount": "5", "currency": "EUR"}))
    brand.on("/links", (200, {"url": "javascript:alert(1)"}))
    async with serve_asgi(brand.app()) as url, world(settings, PAY, base_url=url, allow_private_urls=True) as w:
        payment = await _prepare(w, brand)
        async with w.runtime.transaction() as session:
            await payments.approve_payment(session, request_id=payment.id, agent=await _agent(w))
        await w.run_actions()
        assert (await w.bot_texts())[-1] == payments.LINK_FAILED
        payment = await _payment(w)
        assert payment.status == "approved" and "usable 'url'" in payment.note
        assert (await w.flow_session()).status == "failed"


async def test_an_amount_that_is_not_money_hands_over_instead_of_asking_for_approval(settings):
    brand = FakeBrandApi()
    brand.on("/bills/R-1", (200, {"amount": "lots", "currency": "EUR"}))
    async with serve_asgi(brand.app()) as url, world(settings, PAY, base_url=url, allow_private_urls=True) as w:
        await w.start("pay")
        await w.say("R-1")
        await w.run_actions()
        async with w.runtime.sessionmaker() as session:
            assert (await session.execute(select(PaymentRequest))).first() is None
        conversation = await w.conversation()
        assert conversation.status == "queued" and "not a valid positive amount" in conversation.handoff_reason


async def test_another_workspace_cannot_decide_the_payment(settings):
    brand = FakeBrandApi()
    brand.on("/bills/R-1", (200, {"amount": "5", "currency": "EUR"}))
    async with serve_asgi(brand.app()) as url, world(settings, PAY, base_url=url, allow_private_urls=True) as w:
        payment = await _prepare(w, brand)
        async with w.runtime.transaction() as session:
            other = await workspaces.create_workspace(session, w.runtime.box, slug="other", name="Other")
            eve = await workspaces.add_agent(session, workspace=other, email="eve@other.example", name="Eve",
                                             password="other-password")
        async with w.runtime.transaction() as session:
            with pytest.raises(NotFound):
                await payments.approve_payment(session, request_id=payment.id, agent=eve)
        assert (await _payment(w)).status == "pending_approval"
