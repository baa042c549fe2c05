"""Fair claiming across channel accounts: a backlog on one account never holds up another account's
messages, and what an account cannot send soon waits in the table (postponed, no attempt counted), not
in the dispatcher's memory."""

from __future__ import annotations

from tests.delivery.support import (
    UNLIMITED,
    CountingBrand,
    another_api_account,
    bulk_queue,
    open_conversations,
    outbox,
)
from tests.support.harness import API_SECRET, running
from tests.support.servers import eventually


async def test_a_backlog_on_one_account_does_not_hold_up_another(settings):
    # Batches of 10 and a slow account (2 messages a second) with 40 messages queued ahead of 5 for a
    # fast account: claiming in queue order, the fast account's messages would wait behind batch after
    # batch of the slow one's (some 20 seconds).
    settings = settings.model_copy(update={"dispatch_batch_size": 10})
    brand = CountingBrand(secret=API_SECRET)
    async with running(settings, brand=brand, account_settings={"rate_per_second": 2}) as h:
        fast = await another_api_account(h, **UNLIMITED)
        slow_conversations = await open_conversations(h, 40, prefix="slow")
        fast_conversations = await open_conversations(h, 5, prefix="fast", account_id=fast.id)
        await bulk_queue(h, [(c, f"slow {c}") for c in slow_conversations]
                         + [(c, f"fast {c}") for c in fast_conversations])

        def fast_ones_arrived() -> bool:
            return sum(text.startswith("fast") for text in brand.texts()) == 5

        await eventually(fast_ones_arrived, timeout=15)
        # The slow account was paced meanwhile (its limit, not the fast account's backlog, decides)...
        assert sum(text.startswith("slow") for text in brand.texts()) <= 6
        # ...and its backlog waits in the table: postponed with the reason, no attempt counted; leased
        # only what it can send in the next moments (2) and sends that finished but await their record.
        slow = [row for row in await outbox(h) if row.channel_account_id != fast.id]
        waiting = [row for row in slow if row.status == "pending"]
        assert len(waiting) >= 30
        assert {row.attempts for row in waiting} == {0}
        assert any(row.last_error == "rate limited" and row.available_at > row.created_at for row in waiting)
        assert sum(row.status == "leased" for row in slow) <= 4


async def test_every_account_gets_its_rate_when_all_have_a_backlog(settings):
    # Three accounts with backlogs queued one after the other: each is sent at its own pace, so the last
    # one queued starts right away rather than after the others are done.
    settings = settings.model_copy(update={"dispatch_batch_size": 10})
    brand = CountingBrand(secret=API_SECRET)
    async with running(settings, brand=brand, account_settings={"rate_per_second": 3}) as h:
        accounts = [None, (await another_api_account(h, rate_per_second=3)).id,
                    (await another_api_account(h, rate_per_second=3)).id]
        plan = []
        for number, account_id in enumerate(accounts):
            conversations = await open_conversations(h, 15, prefix=f"a{number}", account_id=account_id)
            plan += [(c, f"a{number} {c}") for c in conversations]
        await bulk_queue(h, plan)

        def each_started() -> bool:
            texts = brand.texts()
            return all(any(text.startswith(f"a{number} ") for text in texts) for number in range(3))

        await eventually(each_started, timeout=15)
        # Each account's first messages went out while the first account still had most of its backlog.
        assert sum(text.startswith("a0 ") for text in brand.texts()) <= 8
