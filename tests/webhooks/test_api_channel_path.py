"""The whole path on the custom API channel: signed webhook in, processed, bot reply out to the brand."""

from __future__ import annotations

from tests.support.harness import running
from tests.support.servers import eventually


async def test_faq_question_gets_answered_through_the_brand_endpoint(settings):
    async with running(settings) as h:
        response = await h.say("user-1", "Is breakfast included in the price?")
        assert response.status_code == 200, response.text
        texts = await eventually(lambda: h.brand.texts())
        assert "Breakfast is included" in texts[0]
        assert h.brand.received[0]["recipient"]["id"] == "user-1"
        messages = await eventually(lambda: _sent(h))
        assert messages[-1].external_id == f"brand-{h.brand.received[0]['id']}"


async def _sent(h):
    rows = await h.messages()
    out = [m for m in rows if m.direction == "out"]
    return out if out and out[-1].status == "sent" else None
