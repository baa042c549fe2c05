"""Agent assist in the inbox: the side panel on a handed-over conversation, AI drafts that never send,
payment approvals, canned responses (API and management page), and the whole thing in a real browser."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.assistant.assist.fake_llm import FakeLlm
from tests.assistant.assist.scenarios import add_canned, payment_handoff
from tests.inbox.helpers import MARIA, SAM, conversation_of, other_workspace_conversation, sign_in
from tests.support.browser import CHROMIUM_ARGS, chromium_or_skip
from tests.support.harness import running
from tests.support.servers import serve_asgi
from touchpoint.assistant.assist.llm import CLOSE, OPEN
from touchpoint.models import AuditEntry, CannedResponse, Message, OutboxItem, PaymentRequest


@pytest.fixture(autouse=True)
def demo_without_canned(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests bring their own canned responses."""
    from touchpoint import demo

    monkeypatch.setattr(demo, "CANNED", [])


async def _seed(h, name: str = "Grace Hopper"):
    async with h.runtime.transaction() as session:
        if not (await session.execute(select(CannedResponse.id).limit(1))).first():
            await add_canned(session, h.workspace_id)
        return await payment_handoff(session, h.workspace_id, name=name)


async def _counts(h) -> tuple[int, int]:
    async with h.runtime.sessionmaker() as session:
        messages = (await session.execute(select(func.count()).select_from(Message))).scalar_one()
        outbox = (await session.execute(select(func.count()).select_from(OutboxItem))).scalar_one()
    return messages, outbox


async def test_handed_over_conversation_shows_the_assist_panel(settings):
    async with running(settings, run_background=False) as h:
        seeded = await _seed(h)
        maria = await sign_in(h)
        html = (await maria.get(f"/inbox/conversations/{seeded.conversation_id}")).text
        panel = html[html.index('id="assist-panel"'):]
        for fact in ("Grace Hopper, on Web chat, writes in English (VIP)",
                     "I want to pay my bill for booking HB-2291 but the payment link in the email doesn&#39;t open.",
                     "Ran the “pay_bill” flow: waiting for an agent to approve the payment",
                     "To Service: asked for a person (rule human_request), priority 1",
                     "<code>pay_bill</code>", 'data-pct="90"', "sentiment-negative", "English",
                     "Payment awaiting approval", "184.50", "HB-2291", "/invoice", "Company invoice",
                     "How do I pay my bill?", 'data-shortcut="payment-link"'):
            assert fact in panel, fact
        assert "Draft with AI" not in html and "AI summary" not in html  # no LLM configured: no button
        assert re.search(r'hx-post="/inbox/conversations/\d+/payments/\d+/approve"', panel)
        fragment = await maria.get(f"/inbox/conversations/{seeded.conversation_id}/assist",
                                   headers={"HX-Request": "true"})
        assert fragment.status_code == 200
        assert 'id="assist-panel"' in fragment.text and "Company invoice" in fragment.text
        assert fragment.headers["content-security-policy"].startswith("default-src 'self'")
        # Another workspace's conversation: not found, for the panel and for drafting alike.
        foreign = await other_workspace_conversation(h)
        assert (await maria.get(f"/inbox/conversations/{foreign}/assist")).status_code == 404
        assert (await maria.act(f"/inbox/conversations/{foreign}/draft")).status_code == 404
        # A conversation the bot never touched still renders (nothing to summarise is not an error).
        tom = await conversation_of(h, "Tom Baker")
        tom_page = await maria.get(f"/inbox/conversations/{tom.id}")
        assert tom_page.status_code == 200 and "My room was not cleaned yesterday" in tom_page.text
        await maria.aclose()


async def test_draft_with_ai_fills_the_reply_box_and_sends_nothing(settings):
    fake = FakeLlm()
    async with serve_asgi(fake.app()) as llm_url:
        configured = settings.model_copy(update={"llm_base_url": llm_url + "/v1", "llm_model": "local-model",
                                                 "llm_timeout_seconds": 0.5})
        async with running(configured, run_background=False) as h:
            seeded = await _seed(h)
            maria = await sign_in(h)
            page = (await maria.get(f"/inbox/conversations/{seeded.conversation_id}")).text
            assert f'data-draft-url="/inbox/conversations/{seeded.conversation_id}/draft"' in page
            assert "AI summary" in page
            before = await _counts(h)
            url = f"/inbox/conversations/{seeded.conversation_id}"
            # CSRF first: without the token the provider is never called.
            refused = await maria.act(url + "/draft", csrf=None)
            assert refused.status_code == 403 and fake.requests == []
            drafted = await maria.act(url + "/draft")
            assert drafted.status_code == 200, drafted.text
            assert drafted.json() == {"draft": fake.reply}
            prompt = fake.user_prompt()
            assert f"{OPEN}\nthis is taking forever, can I talk to a person please\n{CLOSE}" in prompt
            assert "How do I pay my bill?" in prompt  # the knowledge base's answer as a fact
            assert fake.requests[-1]["json"]["model"] == "local-model"
            summary = await maria.act(url + "/ai-summary")
            assert summary.status_code == 200 and summary.json() == {"summary": fake.reply}
            # Failures: a visible "drafting unavailable", never a 500; still nothing created.
            for mode in ("error500", "garbage", "slow"):
                fake.mode = mode
                failed = await maria.act(url + "/draft")
                assert failed.status_code == 503, mode
                assert failed.json()["error"]["code"] == "drafting_unavailable"
                assert failed.json()["error"]["message"].startswith("Drafting is unavailable")
            assert await _counts(h) == before  # no message, no outbox row: a draft is only text
            await maria.aclose()


async def test_drafting_when_no_provider_is_configured(settings):
    async with running(settings, run_background=False) as h:
        seeded = await _seed(h)
        maria = await sign_in(h)
        response = await maria.act(f"/inbox/conversations/{seeded.conversation_id}/draft")
        assert response.status_code == 503 and response.json()["error"]["code"] == "drafting_not_configured"
        await maria.aclose()


async def test_payment_approval_and_rejection_from_the_inbox(settings):
    async with running(settings, run_background=False) as h:
        first = await _seed(h)
        second = await _seed(h, name="Alan Turing")
        maria = await sign_in(h)
        base = f"/inbox/conversations/{first.conversation_id}/payments"
        # A payment of another conversation cannot be decided through this one.
        wrong = await maria.act(f"{base}/{second.payment_id}/approve")
        assert wrong.status_code == 404
        assert (await maria.act(f"{base}/{first.payment_id}/approve", csrf=None)).status_code == 403
        approved = await maria.act(f"{base}/{first.payment_id}/approve")
        assert approved.status_code == 204 and "tp:changed" in approved.headers["hx-trigger"]
        again = await maria.act(f"{base}/{first.payment_id}/reject", {"note": "changed my mind"})
        assert again.status_code == 409
        rejected = await maria.act(f"/inbox/conversations/{second.conversation_id}/payments/{second.payment_id}/reject",
                                   {"note": "  Amount   does not match\nthe invoice  "}, htmx=False)
        assert rejected.status_code == 303
        async with h.runtime.sessionmaker() as session:
            payments = {p.id: p for p in (await session.execute(select(PaymentRequest))).scalars()}
            audit = [a.action for a in (await session.execute(
                select(AuditEntry).where(AuditEntry.subject_type == "payment_request"))).scalars()]
            told = [m.text for m in (await session.execute(select(Message).where(
                Message.conversation_id == second.conversation_id, Message.sender_kind == "bot")
                .order_by(Message.id))).scalars()]
        assert payments[first.payment_id].status == "approved"
        assert payments[second.payment_id].status == "rejected"
        assert payments[second.payment_id].note == "Amount does not match the invoice"
        assert payments[first.payment_id].decided_by == payments[second.payment_id].decided_by is not None
        assert sorted(audit) == ["payment.approve", "payment.reject"]
        assert "can't take this payment online" in told[-1]  # the customer is told, politely
        # Decided payments leave the panel.
        panel = (await maria.get(f"/inbox/conversations/{first.conversation_id}/assist")).text
        assert "Payment awaiting approval" not in panel
        await maria.aclose()


async def test_canned_responses_api(settings):
    from tests.api.support import api_for, other_workspace

    async with running(settings, run_background=False) as h:
        api = await api_for(h)
        created = await api.post("/canned-responses", {"shortcut": "parking", "title": "Parking",
                                                        "text": "Garage with 40 spaces, 12 EUR a day."})
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["shortcut"] == "parking" and body["team_id"] is None
        canned_id = body["id"]
        assert (await api.get(f"/canned-responses/{canned_id}")).json()["title"] == "Parking"
        dup = await api.post("/canned-responses", {"shortcut": "parking", "title": "Again", "text": "x"})
        assert dup.status_code == 409 and dup.json()["error"]["code"] == "shortcut_taken"
        for bad, field in (({"shortcut": "Has Space", "title": "t", "text": "x"}, "invalid_shortcut"),
                           ({"shortcut": "-dash", "title": "t", "text": "x"}, "invalid_shortcut"),
                           ({"shortcut": "ok", "title": "   ", "text": "x"}, "invalid_title"),
                           ({"shortcut": "ok", "title": "t", "text": "\n \t"}, "invalid_text"),
                           ({"shortcut": "ok", "title": "t", "text": "x", "team_id": 999999}, "team_not_found")):
            response = await api.post("/canned-responses", bad)
            assert response.status_code == 422 and response.json()["error"]["code"] == field, (bad, response.text)
        for bad in ({"shortcut": "ok", "title": "t"}, {"shortcut": "ok", "title": "t", "text": "x", "extra": 1},
                    {"shortcut": "ok", "title": "t", "text": "nul\u0000byte"},
                    {"shortcut": "ok", "title": "t", "text": "x" * 4001}, {"shortcut": "ok", "title": "t",
                                                                           "text": "x", "team_id": 2**70}):
            response = await api.post("/canned-responses", bad)
            assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error", bad
        changed = await api.patch(f"/canned-responses/{canned_id}", {"text": "Garage: 40 spaces, 12 EUR a day.",
                                                                     "shortcut": "/Garage"})
        assert changed.status_code == 200 and changed.json()["shortcut"] == "garage"
        assert (await api.patch(f"/canned-responses/{canned_id}", {"shortcut": None})).status_code == 422
        listed = await api.get("/canned-responses", query="GARAGE")
        assert [r["shortcut"] for r in listed.json()["data"]] == ["garage"]
        # Another workspace's key sees nothing of it.
        other = await api_for(h, await other_workspace(h), name="other")
        assert (await other.get(f"/canned-responses/{canned_id}")).status_code == 404
        assert (await other.get("/canned-responses")).json() == {"data": []}
        deleted = await h.client.delete(f"{h.base_url}/api/v1/canned-responses/{canned_id}", headers=api.headers())
        assert deleted.status_code == 204
        assert (await api.get(f"/canned-responses/{canned_id}")).status_code == 404
        assert (await api.get("/canned-responses/0")).status_code == 422
        async with h.runtime.sessionmaker() as session:
            actions = [a.action for a in (await session.execute(select(AuditEntry).where(
                AuditEntry.subject_type == "canned_response").order_by(AuditEntry.id))).scalars()]
        assert actions == ["canned_response.create", "canned_response.update", "canned_response.delete"]


async def test_canned_management_page(settings):
    async with running(settings, run_background=False) as h:
        maria = await sign_in(h)
        page = await maria.get("/inbox/canned")
        assert page.status_code == 200 and "No canned responses yet" in page.text
        form = {"shortcut": "breakfast", "title": "Breakfast hours", "text": "From 7 to 10:30 <b>daily</b>.",
                "team_id": ""}
        assert (await maria.act("/inbox/canned", form, htmx=False, csrf=None)).status_code == 403
        assert (await maria.act("/inbox/canned", form, htmx=False)).status_code == 303
        listed = (await maria.get("/inbox/canned")).text
        assert "/breakfast" in listed and "From 7 to 10:30 &lt;b&gt;daily&lt;/b&gt;." in listed
        # Refused input comes back with the reason and what was typed.
        bad = await maria.act("/inbox/canned", {**form, "shortcut": "no spaces please", "title": "Kept title"},
                              htmx=False)
        assert bad.status_code == 422 and "A shortcut is 1 to 64" in bad.text and 'value="Kept title"' in bad.text
        taken = await maria.act("/inbox/canned", form, htmx=False)
        assert taken.status_code == 409 and "already used" in taken.text
        assert (await maria.act("/inbox/canned", {**form, "shortcut": "x", "team_id": "abc"}, htmx=False)
                ).status_code == 422
        async with h.runtime.sessionmaker() as session:
            row = (await session.execute(select(CannedResponse))).scalar_one()
        edited = await maria.act(f"/inbox/canned/{row.id}", {**form, "title": "Breakfast"}, htmx=False)
        assert edited.status_code == 303
        # Agents who are not admins use canned responses but cannot change them.
        sam = await sign_in(h, SAM)
        sam_page = (await sam.get("/inbox/canned")).text
        assert "/breakfast" in sam_page and "New canned response" not in sam_page and "Save changes" not in sam_page
        assert (await sam.act(f"/inbox/canned/{row.id}/delete", htmx=False)).status_code == 403
        assert (await maria.act(f"/inbox/canned/{row.id}/delete", htmx=False)).status_code == 303
        assert (await maria.act(f"/inbox/canned/{row.id}/delete", htmx=False)).status_code == 404
        assert "No canned responses yet" in (await maria.get("/inbox/canned")).text
        await maria.aclose()
        await sam.aclose()


@pytest.fixture
def chromium_path() -> str:
    return chromium_or_skip()


async def test_agent_uses_assist_in_a_browser(settings, chromium_path):
    from playwright.async_api import async_playwright, expect

    fake = FakeLlm()
    async with serve_asgi(fake.app()) as llm_url:
        configured = settings.model_copy(update={"llm_base_url": llm_url, "llm_model": "local-model"})
        async with running(configured) as h, async_playwright() as playwright:
            seeded = await _seed(h)
            browser = await playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1440, "height": 900})
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                await page.goto(h.base_url + "/login")
                await page.fill("input[name=email]", MARIA)
                await page.fill("input[name=password]", "harbour-demo-2026")
                await page.click("button[type=submit]")
                await page.wait_for_url("**/inbox")
                await page.goto(f"{h.base_url}/inbox/conversations/{seeded.conversation_id}")
                await page.wait_for_selector("body[data-realtime=subscribed]")
                panel = page.locator("#assist-panel")
                await expect(panel.locator(".summary-asked")).to_contain_text("the payment link in the email")
                await expect(panel.locator(".summary-handover")).to_contain_text("asked for a person")
                first = panel.locator(".suggestion").first
                await expect(first.locator(".source-title")).to_have_text("Company invoice")
                await page.screenshot(path="/tmp/inbox-assist.png")

                # "Use" fills the reply box with the suggestion's text (nothing is sent).
                await first.locator("[data-use-suggestion]").click()
                reply = page.locator("#reply-text")
                await expect(reply).to_have_value(re.compile(r"^I can reissue the invoice with your company details"))
                await expect(reply).to_be_focused()

                # "/" (from anywhere on the page) opens the canned picker on the empty reply box; typing
                # filters it, Enter inserts the chosen response in place of "/wif".
                await reply.fill("")
                await page.press("body", "/")
                await expect(reply).to_be_focused()
                await expect(reply).to_have_value("/")
                await page.keyboard.type("wif")
                await expect(page.locator("#canned-picker")).to_be_visible()
                await expect(page.locator("#canned-picker .picker-item")).to_have_count(1)
                await page.keyboard.press("Enter")
                await expect(reply).to_have_value("The wifi password is printed on your key card; the network is "
                                                  "HarbourGuest.")
                await expect(page.locator("#canned-picker")).to_be_hidden()

                # Draft with AI: the draft lands in the box, marked as a draft; no message is created.
                before = await _counts(h)
                await reply.fill("")
                await page.click("[data-draft-url]")
                await expect(reply).to_have_value(fake.reply)
                await expect(page.locator("#composer-note")).to_contain_text("Nothing has been sent")
                assert await _counts(h) == before
                await page.screenshot(path="/tmp/inbox-assist-draft.png")

                # The Contact tab still has the contact's facts.
                await page.click("[data-side-tab=contact]")
                await expect(page.locator(".contact-panel")).to_be_visible()
                await expect(panel).to_be_hidden()
                assert errors == []
            finally:
                await browser.close()
