"""The three demo flows end to end: signed webhooks in, the processor, a flow-aware assistant, the action
worker calling Harbour Stays' own system (demo_brand) on a local server, a person approving the payment,
and what the customer receives."""

from __future__ import annotations

import functools
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.support import harness
from tests.support.servers import eventually, serve_asgi
from touchpoint.app import create_app
from touchpoint.assistant.base import AssistantInput, Decision
from touchpoint.assistant.engines import EngineRegistry
from touchpoint.assistant.flows import payments
from touchpoint.assistant.flows.runner import (
    active_session,
    continue_flow,
    flow_context,
    outcome_decision,
    start_flow,
)
from touchpoint.assistant.orchestrator import WorkspaceAssistant
from touchpoint.demo_brand import FULL, BrandStore, build_router
from touchpoint.demo_data import install_demo_flows
from touchpoint.kit.clock import utcnow
from touchpoint.models import Agent, Conversation, PaymentRequest, Workspace


class FlowFirstAssistant:
    """What the orchestrator does with flows, in small: a running flow gets the message; a trigger word
    starts one; anything else goes to the real assistant."""

    TRIGGERS = (("change", "change_reservation"), ("pay", "pay_bill"), ("status", "booking_status"))

    def __init__(self, fallback: WorkspaceAssistant) -> None:
        self.fallback = fallback

    async def respond(self, session, message: AssistantInput) -> Decision:
        ctx = await flow_context(session, workspace_id=message.workspace_id, conversation_id=message.conversation_id,
                                 contact_id=message.contact_id)
        running = await active_session(session, message.conversation_id)
        if running is not None:
            return outcome_decision(await continue_flow(session, ctx, running, message.text))
        for word, flow in self.TRIGGERS:
            if word in message.text.lower():
                return outcome_decision(await start_flow(session, ctx, flow))
        return await self.fallback.respond(session, message)


@pytest.fixture
def flow_app(monkeypatch, settings):
    fallback = WorkspaceAssistant(EngineRegistry(settings))
    monkeypatch.setattr(harness, "create_app", functools.partial(create_app, assistant=FlowFirstAssistant(fallback)))


async def _demo(h, brand_url: str) -> None:
    async with h.runtime.transaction() as session:
        workspace = await session.get(Workspace, h.workspace_id)
        await install_demo_flows(session, workspace, brand_url=brand_url)


async def _chat(h, sender: str, text: str, expect: int) -> list[str]:
    """Say `text` and wait until the customer has received `expect` messages in all."""
    await h.say(sender, text)
    return await eventually(lambda: h.brand.texts() if len(h.brand.received) >= expect else None)


def _brand_app() -> FastAPI:
    app = FastAPI()
    app.include_router(build_router(BrandStore()))
    return app


async def test_change_a_reservation(settings, flow_app):
    async with serve_asgi(_brand_app()) as brand_url, harness.running(settings) as h:
        await _demo(h, f"{brand_url}/demo-brand")
        texts = await _chat(h, "u-ana", "Hi, I need to change my reservation", 1)
        assert "What's your booking reference?" in texts[-1]
        texts = await _chat(h, "u-ana", "sure, it's hb-1234", 2)
        assert texts[-1] == "What's your new arrival date?"
        arrival = utcnow().date() + timedelta(days=30)
        while any((day.month, day.day) in FULL for day in (arrival + timedelta(days=n) for n in range(3))):
            arrival += timedelta(days=7)  # the hotel is full over Christmas and New Year's Eve
        spoken = f"{arrival.day} {arrival.strftime('%B')} {arrival.year}"
        texts = await _chat(h, "u-ana", spoken, 3)
        assert texts[-1] == "And for how many nights?"
        texts = await _chat(h, "u-ana", "20", 4)
        assert "more than 14" in texts[-1]
        texts = await _chat(h, "u-ana", "2 nights", 5)
        day = f"{arrival.day} {arrival.strftime('%B')}" + ("" if arrival.year == utcnow().year else f" {arrival.year}")
        assert texts[-1] == f"Change booking HB-1234 to {day} for 2 nights? (yes/no)"
        texts = await _chat(h, "u-ana", "no", 7)
        assert texts[-2:] == ["No problem, let's go through it again.",
                              "Sure, I can change your reservation. What's your booking reference? It looks like "
                              "HB-1234."]
        await _chat(h, "u-ana", "HB-1234", 8)
        await _chat(h, "u-ana", spoken, 9)
        texts = await _chat(h, "u-ana", "3", 10)
        assert texts[-1] == f"Change booking HB-1234 to {day} for 3 nights? (yes/no)"
        texts = await _chat(h, "u-ana", "yes", 12)
        assert texts[-2] == "One moment, I'm checking availability…"
        departure = arrival + timedelta(days=3)
        assert texts[-1] == (f"Done! Booking HB-1234 now starts on {day} and ends on {departure.day} "
                             f"{departure.strftime('%B')} {departure.year} (3 nights, Garden room). You'll get an "
                             "updated confirmation by email.")


async def test_pay_a_bill_with_a_person_approving_the_payment_link(settings, flow_app):
    async with serve_asgi(_brand_app()) as brand_url, harness.running(settings) as h:
        await _demo(h, f"{brand_url}/demo-brand")
        await _chat(h, "u-tom", "I want to pay my bill", 1)
        texts = await _chat(h, "u-tom", "HB-2345", 4)
        assert texts[1] == "Let me look up your bill…"
        assert texts[2].startswith("The balance on HB-2345 is 182.50 EUR. A colleague will check it")
        assert "connecting you with our service team" in texts[3]
        async with h.runtime.sessionmaker() as session:
            payment = (await session.execute(select(PaymentRequest))).scalar_one()
            conversation = await session.get(Conversation, payment.conversation_id)
            maria = (await session.execute(select(Agent).where(Agent.email == "maria@harbour.example"))).scalar_one()
        assert (payment.amount_cents, payment.currency, payment.status) == (18250, "EUR", "pending_approval")
        assert conversation.status == "queued"
        assert conversation.handoff_reason == "flow pay_bill: Approve payment link for HB-2345: 182.50 EUR"

        async with h.runtime.transaction() as session:
            await payments.approve_payment(session, request_id=payment.id, agent=maria)
        texts = await eventually(lambda: h.brand.texts() if len(h.brand.received) >= 5 else None)
        assert texts[4].startswith("Here is your secure payment link for 182.50 EUR (HB-2345): "
                                   "https://pay.harbour.example/p/")
        async with h.runtime.sessionmaker() as session:
            payment = await session.get(PaymentRequest, payment.id)
        assert payment.status == "link_sent"


async def test_booking_status_and_an_unknown_reference(settings, flow_app):
    async with serve_asgi(_brand_app()) as brand_url, harness.running(settings) as h:
        await _demo(h, f"{brand_url}/demo-brand")
        await _chat(h, "u-yuki", "what's the status of my booking?", 1)
        texts = await _chat(h, "u-yuki", "HB-9999", 2)
        assert texts[-1] == ("I couldn't find booking HB-9999. Please check the reference in your confirmation email "
                             "and ask me again.")
        await _chat(h, "u-yuki", "status please", 3)
        texts = await _chat(h, "u-yuki", "HB 2345", 4)
        assert texts[-1].startswith("Booking HB-2345: You're checked in: Sea view room until ")


async def test_the_demo_brand_is_served_only_in_demo_mode(settings, monkeypatch):
    monkeypatch.setattr(harness, "create_app", lambda *args, **kwargs: create_app(*args, **{**kwargs, "demo": False}))
    async with harness.running(settings, run_background=False) as h:
        assert (await h.client.get(f"{h.base_url}/demo-brand/status/HB-2345")).status_code == 404
    monkeypatch.undo()
    async with harness.running(settings, run_background=False) as h:  # the harness serves the demo
        answer = await h.client.get(f"{h.base_url}/demo-brand/status/HB-2345")
        assert answer.status_code == 200 and answer.json()["status"] == "checked_in"
        assert not any(p.startswith("/demo-brand") for p in
                       (await h.client.get(f"{h.base_url}/openapi.json")).json()["paths"])
