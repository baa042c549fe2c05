"""The widget in a real browser: a visitor on the demo brand's page opens the chat, asks a question,
sees the bot's answer live, reloads, and still has the conversation.

Needs Chromium at /usr/bin/chromium; skipped without it unless TOUCHPOINT_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.browser import CHROMIUM_ARGS, WAIT_MS, chromium_or_skip
from tests.support.harness import running

SCREENSHOT = Path(os.environ.get("TOUCHPOINT_WIDGET_SCREENSHOT", "/tmp/widget.png"))
# A network that lets no WebSocket through (some corporate proxies): every socket closes at once.
BROKEN_WEBSOCKET = """
window.WebSocket = function () {
  var socket = this;
  this.readyState = 3; this.send = function () {}; this.close = function () {};
  setTimeout(function () { if (socket.onclose) socket.onclose({code: 1006, reason: ""}); }, 5);
};
"""


@pytest.fixture
def chromium() -> str:
    return chromium_or_skip()


async def test_visitor_chats_on_the_demo_page_and_keeps_the_transcript_after_reload(settings, chromium):
    from playwright.async_api import async_playwright, expect

    async with running(settings) as h, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{h.base_url}/demo")
            await expect(page.get_by_role("heading", name="Rooms")).to_be_visible()

            launcher = page.get_by_role("button", name="Open chat")
            await launcher.click()
            dialog = page.get_by_role("dialog", name="Harbour Stays")
            await expect(dialog).to_be_visible()
            message_box = page.get_by_label("Your message")
            await expect(message_box).to_be_focused()
            await expect(dialog.get_by_text("Hi! How can we help with your stay?")).to_be_visible(timeout=WAIT_MS)

            await message_box.fill("is breakfast included?")
            await page.get_by_role("button", name="Send message").click()
            answer = page.locator(".row.bot .bubble", has_text="Breakfast is included")
            await expect(answer).to_be_visible(timeout=WAIT_MS)
            mine = page.locator(".row.mine")
            await expect(mine.locator(".bubble")).to_have_text(["is breakfast included?"])
            await expect(mine.locator(".state")).to_have_text(["Sent"], timeout=WAIT_MS)
            await expect(page.locator(".head p")).to_contain_text("Online")
            await page.screenshot(path=str(SCREENSHOT))

            await page.reload()
            # The panel reopens after a reload and the transcript comes back from the server.
            await expect(dialog).to_be_visible(timeout=WAIT_MS)
            await expect(answer).to_be_visible(timeout=WAIT_MS)
            await expect(mine.locator(".bubble")).to_have_text(["is breakfast included?"])

            # What a visitor types is shown as text, never run as markup.
            sneaky = '<img src=x onerror="window.pwned=1">'
            await message_box.fill(sneaky)
            await message_box.press("Enter")
            await expect(mine.locator(".bubble")).to_have_text(["is breakfast included?", sneaky])
            await expect(mine.locator(".state").nth(1)).to_have_text("Sent", timeout=WAIT_MS)
            assert await page.locator(".log img").count() == 0
            assert await page.evaluate("window.pwned === undefined")

            # Escape closes the chat and gives focus back to the launcher.
            await message_box.press("Escape")
            await expect(dialog).to_be_hidden()
            await expect(launcher).to_be_focused()

            # Without WebSockets the chat still works: HTTP POST to send, polling GET to receive.
            blocked = await browser.new_context()
            await blocked.add_init_script(BROKEN_WEBSOCKET)
            other = await blocked.new_page()
            other.on("pageerror", lambda exc: errors.append(str(exc)))
            await other.goto(f"{h.base_url}/demo")
            await other.get_by_role("button", name="Open chat").click()
            await other.get_by_label("Your message").fill("Can I bring my dog?")
            await other.get_by_label("Your message").press("Enter")
            await expect(other.locator(".row.bot .bubble", has_text="dogs are welcome")).to_be_visible(timeout=WAIT_MS)
            # A different browser is a different visitor: the first conversation is not shown here.
            await expect(other.locator(".row.mine .bubble")).to_have_text(["Can I bring my dog?"])
            assert errors == []
        finally:
            await browser.close()
    metrics = h.app.state.metrics.widget
    assert metrics.labels("ws", "connected")._value.get() >= 2
    assert metrics.labels("send", "stored")._value.get() == 1
