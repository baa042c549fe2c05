"""The foundation's promise, end to end in a real browser: a customer chats through the widget, asks
for a person, an agent answers from the inbox, and the answer arrives in the widget."""

from __future__ import annotations

from tests.support.browser import CHROMIUM_ARGS, WAIT_MS, chromium_or_skip
from tests.support.harness import running


async def test_customer_on_the_widget_is_answered_by_an_agent_in_the_inbox(settings):
    chromium = chromium_or_skip()
    from playwright.async_api import async_playwright, expect

    async with running(settings) as h, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            customer = await (await browser.new_context()).new_page()
            agent = await (await browser.new_context()).new_page()
            errors: list[str] = []
            for page in (customer, agent):
                page.on("pageerror", lambda exc: errors.append(str(exc)))

            # The customer asks for a person and is acknowledged at once.
            await customer.goto(f"{h.base_url}/demo")
            await customer.get_by_role("button", name="Open chat").click()
            box = customer.get_by_label("Your message")
            await box.fill("I'd like to talk to a person about my bill")
            await box.press("Enter")
            await expect(customer.get_by_text("connecting you with our service team")).to_be_visible(
                timeout=WAIT_MS)

            # The agent finds the conversation waiting in the inbox and answers.
            await agent.goto(f"{h.base_url}/inbox")
            await agent.fill("input[name=email]", "maria@harbour.example")
            await agent.fill("input[name=password]", "harbour-demo-2026")
            await agent.click("button[type=submit]")
            await agent.wait_for_url("**/inbox")
            # The list previews what the customer wrote, not the system's acknowledgement.
            await agent.locator(".conv-row", has_text="talk to a person about my bill").click()
            transcript = agent.locator("#transcript")
            await expect(transcript.get_by_text("I'd like to talk to a person about my bill")).to_be_visible(
                timeout=WAIT_MS)
            reply = agent.locator("textarea[name=text]")
            await reply.fill("Hello, Maria here. I can help with your bill.")
            await agent.get_by_role("button", name="Send reply").click()
            await expect(agent.locator(".msg", has_text="Maria here").first).to_be_visible(timeout=WAIT_MS)

            # The answer arrives in the customer's widget, after the "joined" line, without a reload.
            await expect(customer.get_by_text("Maria joined the conversation")).to_be_visible(timeout=WAIT_MS)
            await expect(customer.get_by_text("Hello, Maria here. I can help with your bill.")).to_be_visible(
                timeout=WAIT_MS)
            assert errors == []
        finally:
            await browser.close()
