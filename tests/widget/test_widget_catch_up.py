"""Pushes are hints: a push the visitor never gets (a Redis blip, a socket that was reconnecting) must not
leave the customer looking at silence. The widget reads the transcript again while its accepted message
has no answer."""

from __future__ import annotations

from typing import Any

from tests.support.browser import CHROMIUM_ARGS, WAIT_MS, chromium_or_skip
from tests.support.harness import running


async def test_an_answer_whose_push_was_lost_still_reaches_the_visitor(settings):
    chromium = chromium_or_skip()
    from playwright.async_api import async_playwright, expect

    async with running(settings) as h, async_playwright() as pw:
        hub = h.runtime.hub
        deliver = hub.publish
        lost: list[dict[str, Any]] = []

        async def lossy_publish(topic: str, event: dict[str, Any]) -> None:
            if topic.startswith("visitor:") and event.get("type") == "message":
                lost.append(event)  # the hint for the bot's answer never arrives
                return
            await deliver(topic, event)

        hub.publish = lossy_publish  # type: ignore[method-assign]
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{h.base_url}/demo")
            await page.get_by_role("button", name="Open chat").click()
            await expect(page.locator(".head p")).to_contain_text("Online", timeout=WAIT_MS)
            box = page.get_by_label("Your message")
            await box.fill("is breakfast included?")
            await box.press("Enter")
            answer = page.locator(".row.bot .bubble", has_text="Breakfast is included")
            await expect(answer).to_be_visible(timeout=WAIT_MS)
            assert lost, "the answer should have been published (and dropped) before the widget caught up"
        finally:
            await browser.close()
