"""The inbox in a real browser (headless Chromium): sign in, the list updating live, replying."""

from __future__ import annotations

import pytest

from tests.support.browser import CHROMIUM_ARGS, chromium_or_skip
from tests.support.harness import running
from tests.support.servers import eventually


@pytest.fixture
def chromium_path() -> str:
    return chromium_or_skip()


async def test_agent_works_the_inbox_in_a_browser(settings, chromium_path):
    from playwright.async_api import async_playwright, expect

    async with running(settings) as h, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1360, "height": 820})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            # Console errors include Content-Security-Policy violations: the pages must need none.
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

            await page.goto(h.base_url + "/inbox")
            assert "/login" in page.url  # signed out: sent to the login page first
            await page.fill("input[name=email]", "maria@harbour.example")
            await page.fill("input[name=password]", "harbour-demo-2026")
            await page.click("button[type=submit]")
            await page.wait_for_url("**/inbox")
            await expect(page.locator(".conv-row .name")).to_have_text(["Tom Baker"])
            await page.wait_for_selector("body[data-realtime=ready]")
            await expect(page.locator("#live")).to_have_text("Live")

            # A customer asks for a person on the custom API channel while the list is open: the row
            # appears without a reload (the marker set on this window survives).
            await page.evaluate("window.__sameDocument = true")
            response = await h.say("guest-42", "Can I talk to a human please?")
            assert response.status_code == 200
            new_row = page.locator(".conv-row", has_text="Guest-42")
            await expect(new_row).to_be_visible(timeout=15000)
            await expect(page.locator(".tab.active .count")).to_have_text("2")
            assert await page.evaluate("window.__sameDocument === true")
            await page.screenshot(path="/tmp/inbox-list.png")

            # Open the waiting conversation, reply with the keyboard, see it in the transcript.
            await new_row.click()
            await page.wait_for_url("**/inbox/conversations/*")
            await page.wait_for_selector("body[data-realtime=subscribed]")
            await expect(page.locator(".msg-contact .msg-text")).to_have_text(["Can I talk to a human please?"])
            await page.press("body", "r")
            await page.keyboard.type("Hi, this is Maria. What can I do for you?")
            await page.keyboard.press("Control+Enter")
            sent = page.locator(".msg-agent", has_text="What can I do for you?")
            await expect(sent).to_have_count(1)
            await expect(page.locator("#reply-text")).to_have_value("")
            # The dispatcher delivers it to the brand; the receipt of that arrives in the page live.
            await eventually(lambda: "Hi, this is Maria. What can I do for you?" in h.brand.texts())
            await expect(sent.locator(".dstatus")).to_have_text("sent", timeout=15000)
            # Every outbound line shows its delivery status as receipts arrive, not the state at first render.
            await expect(page.locator(".msg-system .dstatus")).to_have_text(["sent", "sent"], timeout=15000)
            await expect(page.locator("#conv-panel .pill")).to_have_text("Assigned")
            await page.screenshot(path="/tmp/inbox-conversation.png")
            assert errors == []
        finally:
            await browser.close()
