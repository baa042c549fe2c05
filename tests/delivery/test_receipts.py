"""Receipts (signed status webhooks on the custom API channel) move a message's status forward only:
a late "delivered" never undoes "read"; "failed" after "delivered" is kept (the provider says the
message did not make it after all); a receipt for a message we never sent is ignored, not an error."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from tests.delivery.support import (
    UNLIMITED,
    CountingBrand,
    message,
    open_conversations,
    outbox_row,
    queue_texts,
    wait_for_row,
)
from tests.support.harness import API_SECRET, running
from tests.support.servers import eventually
from touchpoint.conversations import processor
from touchpoint.models import InboundEvent


def status_event(external_id: str, status: str, **extra: str) -> dict[str, str]:
    return {"type": "status", "id": f"st-{uuid.uuid4().hex}", "message_id": external_id, "status": status, **extra}


async def receipts_done(h, event_ids: list[str]) -> list[InboundEvent] | None:
    async with h.runtime.sessionmaker() as session:
        rows = list((await session.execute(
            select(InboundEvent).where(InboundEvent.provider_event_id.in_(event_ids)))).scalars())
    return rows if len(rows) == len(event_ids) and all(r.status == "done" for r in rows) else None


async def deliver(h, events: list[dict[str, str]]) -> list[InboundEvent]:
    """Post the receipts one request at a time, each processed before the next, in this order."""
    rows = []
    for event in events:
        response = await h.post_events([event])
        assert response.status_code == 200, response.text
        rows += await eventually(lambda event=event: receipts_done(h, [event["id"]]))
    return rows


async def test_receipts_only_move_status_forward_and_unknown_ones_are_ignored(settings, monkeypatch):
    # Unknown receipts are retried for a grace period first (see the early-receipt test); keep it short.
    monkeypatch.setattr(processor, "RECEIPT_GRACE", timedelta(seconds=0.3))
    async with running(settings, brand=CountingBrand(secret=API_SECRET), account_settings=UNLIMITED) as h:
        [conversation] = await open_conversations(h, 1)
        read_first, fails_late, stays = await queue_texts(
            h, [(conversation, "one"), (conversation, "two"), (conversation, "three")])
        await wait_for_row(h, stays, lambda r: r.status == "done")
        ids = {m: (await message(h, m)).external_id for m in (read_first, fails_late, stays)}
        assert all(value and value.startswith("brand-") for value in ids.values())

        await deliver(h, [status_event(ids[read_first], "read"), status_event(ids[read_first], "delivered"),
                          status_event(ids[read_first], "sent")])
        assert (await message(h, read_first)).status == "read"

        await deliver(h, [status_event(ids[fails_late], "delivered"),
                          status_event(ids[fails_late], "failed", error="handset unreachable")])
        failed = await message(h, fails_late)
        assert (failed.status, failed.status_reason) == ("failed", "handset unreachable")
        # Failed is terminal: nothing a receipt says afterwards revives it.
        await deliver(h, [status_event(ids[fails_late], "read")])
        assert (await message(h, fails_late)).status == "failed"

        await deliver(h, [status_event(ids[stays], "delivered")])
        assert (await message(h, stays)).status == "delivered"
        # A failure after the customer read it would be the provider contradicting itself: read stays.
        await deliver(h, [status_event(ids[stays], "read"), status_event(ids[stays], "failed")])
        assert (await message(h, stays)).status == "read"

        # A receipt for a message we never sent (or another account's): ignored, not an error.
        before = [(m.id, m.status) for m in await h.messages()]

        unknown = status_event("brand-no-such-message", "delivered")
        [row] = await deliver(h, [unknown])
        # Stored once, processed without error (no retry, nothing failed), and changed nothing.
        assert (row.status, row.attempts, row.last_error) == ("done", 1, None)
        assert [(m.id, m.status) for m in await h.messages()] == before
        # The provider retrying the same receipt is deduplicated at the door.
        response = await h.post_events([unknown])
        assert response.status_code == 200
        async with h.runtime.sessionmaker() as session:
            stored = (await session.execute(
                select(InboundEvent).where(InboundEvent.provider_event_id == unknown["id"]))).scalars().all()
        assert len(stored) == 1


async def test_a_receipt_that_overtakes_the_send_record_is_applied_once_the_send_is_recorded(settings):
    """Fast providers report "delivered" before their answer to our send reaches us; that receipt must
    not be lost just because we do not know the provider id yet."""
    brand = CountingBrand(secret=API_SECRET)
    brand.delay = 1.0
    async with running(settings, brand=brand, account_settings=UNLIMITED) as h:
        [conversation] = await open_conversations(h, 1)
        [queued] = await queue_texts(h, [(conversation, "your table is booked")])
        await eventually(lambda: brand.started >= 1)
        key = (await outbox_row(h, queued)).idempotency_key
        early = status_event(f"brand-{key}", "delivered")
        response = await h.post_events([early])
        assert response.status_code == 200
        await eventually(lambda: receipts_done(h, [early["id"]]), timeout=20)
        assert (await message(h, queued)).status == "delivered"
