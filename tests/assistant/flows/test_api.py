"""/api/v1/assistant/flows and /api/v1/payments through a running server."""

from __future__ import annotations

from sqlalchemy import select

from tests.api.support import agent_id, api_for, other_workspace
from tests.support.harness import running
from touchpoint.assistant.flows.runner import FlowContext, active_session, continue_flow, start_flow
from touchpoint.demo_data import flow_sources
from touchpoint.models import Conversation, Message

DEPOSIT = """\
# a deposit, approved by a person
name: deposit
description: Take a deposit.
trigger_intents: [pay_deposit]
slots:
  amount: {type: number, prompt: "How much?", min: 1}
steps:
  - ask: amount
  - id: approve
    approval:
      amount: "{amount}"
      currency: EUR
      reference: DEP-1
      link_url: "https://pay.example/dep?amount={payment.amount_cents}"
"""


async def _put(api, name: str, source: str | bytes):
    return await api.h.client.put(f"{api.h.base_url}/api/v1/assistant/flows/{name}", content=source,
                                  headers=api.headers({"content-type": "application/yaml"}))


async def test_import_list_get_export_versions_and_delete(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        created = await _put(api, "deposit", DEPOSIT)
        assert created.status_code == 201, created.text
        assert created.json()["version"] == 1 and created.json()["trigger_intents"] == ["pay_deposit"]
        assert (await _put(api, "deposit", DEPOSIT)).status_code == 200  # same file: nothing new

        broken = await _put(api, "deposit", DEPOSIT.replace("ask: amount", "ask: amuont"))
        assert broken.status_code == 422
        error = broken.json()["error"]
        assert error["code"] == "invalid_flow" and error["message"].startswith("line 8:")
        assert error["details"]["errors"] == [{"line": 8, "reason": "step 'ask_amuont': 'amuont' is not a slot "
                                                                    "of this flow"}]
        assert (await api.get("/assistant/flows/deposit")).json()["version"] == 1  # still serving

        second = await _put(api, "deposit", DEPOSIT.replace("How much?", "How much, in euros?"))
        assert second.status_code == 201 and second.json()["version"] == 2
        listed = (await api.get("/assistant/flows")).json()
        # The demo workspace brings its own three flows.
        assert ("deposit", 2) in [(f["name"], f["version"]) for f in listed]
        assert "change_reservation" in [f["name"] for f in listed]
        detail = (await api.get("/assistant/flows/deposit")).json()
        assert [v["is_active"] for v in detail["versions"]] == [False, True]
        assert detail["definition"]["slots"]["amount"]["prompt"] == "How much, in euros?"

        exported = await api.get("/assistant/flows/deposit/export", version=1)
        assert exported.text == DEPOSIT and exported.headers["content-type"].startswith("application/yaml")

        rolled = await api.post("/assistant/flows/deposit/versions/1/activate")
        assert rolled.status_code == 200 and rolled.json()["version"] == 1
        assert (await api.get("/assistant/flows/deposit/export")).text == DEPOSIT

        deleted = await h.client.delete(f"{h.base_url}/api/v1/assistant/flows/deposit", headers=api.headers())
        assert deleted.status_code == 204
        assert (await api.get("/assistant/flows/deposit")).status_code == 404
        assert "deposit" not in [f["name"] for f in (await api.get("/assistant/flows")).json()]


async def test_bad_bodies_and_names_are_4xx_never_500(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        assert (await _put(api, "deposit", b"\xff\xfe binary")).status_code == 422
        assert (await _put(api, "deposit", "")).status_code == 422
        assert (await _put(api, "other_name", DEPOSIT)).json()["error"]["code"] == "invalid_flow"
        assert (await _put(api, "Bad-Name", DEPOSIT)).status_code == 422
        assert (await _put(api, "deposit", "name: deposit\n" + "x" * 300_000)).status_code == 413
        assert (await api.get("/assistant/flows/nothing")).status_code == 404
        other = await other_workspace(h)
        other_api = await api_for(h, other)
        assert (await _put(api, "deposit", DEPOSIT)).status_code == 201
        assert (await other_api.get("/assistant/flows/deposit")).status_code == 404


async def test_demo_flows_import_through_the_api(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        for name, source in flow_sources().items():
            assert (await _put(api, name, source)).status_code in (200, 201)


async def test_payments_are_listed_and_decided_through_the_api(settings):
    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        assert (await _put(api, "deposit", DEPOSIT)).status_code == 201
        async with h.runtime.transaction() as session:
            conversation = (await session.execute(select(Conversation).where(
                Conversation.workspace_id == h.workspace_id, Conversation.status == "bot"))).scalars().first()
            ctx = FlowContext(h.workspace_id, conversation.id, conversation.contact_id)
            started = await start_flow(session, ctx, "deposit")
            assert started.replies[0].text == "How much?"
            outcome = await continue_flow(session, ctx, await active_session(session, conversation.id), "40")
            assert outcome.status == "waiting_approval"
        pending = (await api.get("/payments", status="pending_approval")).json()
        assert [(p["reference"], p["amount_cents"], p["currency"]) for p in pending] == [("DEP-1", 4000, "EUR")]
        payment_id = pending[0]["id"]
        maria = await agent_id(h, "maria@harbour.example")

        assert (await api.post(f"/payments/{payment_id}/approve", {"agent_id": 999_999})).status_code == 404
        approved = await api.post(f"/payments/{payment_id}/approve", {"agent_id": maria})
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "link_sent"
        assert approved.json()["payment_url"] == "https://pay.example/dep?amount=4000"
        again = await api.post(f"/payments/{payment_id}/reject", {"agent_id": maria})
        assert again.status_code == 409 and again.json()["error"]["code"] == "payment_decided"
        assert (await api.post("/payments/424242/approve", {"agent_id": maria})).status_code == 404
        async with h.runtime.sessionmaker() as session:
            last = (await session.execute(select(Message).where(Message.conversation_id == conversation.id)
                                          .order_by(Message.id.desc()))).scalars().first()
        assert last.text.endswith("https://pay.example/dep?amount=4000")
