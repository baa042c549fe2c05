"""Order within a conversation: messages reach the brand in the order they were queued, per
conversation, even when the brand throttles some sends and they are retried later."""

from __future__ import annotations

from tests.delivery.support import (
    UNLIMITED,
    CountingBrand,
    expected_order,
    finished,
    interleaved_plan,
    open_conversations,
    queue_texts,
)
from tests.support.harness import API_SECRET, running
from tests.support.servers import eventually

BUSY = (503, {"retry-after": "1"}, {"error": {"code": "busy"}})


async def test_each_conversation_arrives_in_queue_order_despite_retries(settings):
    brand = CountingBrand(secret=API_SECRET, script=[BUSY] * 4)
    async with running(settings, brand=brand, account_settings=UNLIMITED) as h:
        conversations = await open_conversations(h, 6)
        plan = interleaved_plan(conversations, 12)
        # Several transactions: the dispatcher is already sending (and being throttled) while more arrive.
        for start in range(0, len(plan), 24):
            await queue_texts(h, plan[start:start + 24])
        # Throttle again in the middle of the run, not only the first sends.
        await eventually(lambda: len(brand.received) >= len(plan) // 2, timeout=20)
        brand.script.extend([BUSY] * 3)

        rows = await finished(h, 30)

        assert [r.status for r in rows] == ["done"] * len(plan)
        assert brand.first_arrival_order() == expected_order(plan)
        # One dispatcher and no crash: every message exactly once, throttled ones included.
        arrivals = brand.arrivals()
        assert len(arrivals) == len(plan) and set(arrivals.values()) == {1}
        assert sorted(arrivals) == sorted(r.idempotency_key for r in rows)
        # Seven sends were refused with 503 and retried (a message may have been refused twice).
        assert brand.started == len(plan) + 7
        assert sum(r.attempts - 1 for r in rows) == 7
        ours = [m for m in await h.messages() if m.conversation_id in conversations]
        assert len(ours) == len(plan) and {m.status for m in ours} == {"sent"}
