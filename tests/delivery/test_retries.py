"""Retries: throttling (429/503 + Retry-After) comes back no sooner than the brand asked; a refusal
(4xx) fails at once with the brand's reason and is never retried; transient failures stop after
max_send_attempts. Time passing is simulated by making the row due, never by sleeping."""

from __future__ import annotations

from datetime import timedelta

from tests.delivery.support import (
    UNLIMITED,
    CountingBrand,
    make_due_now,
    message,
    open_conversations,
    outbox_row,
    queue_texts,
    wait_for_row,
)
from tests.support.harness import API_SECRET, running
from tests.support.servers import eventually
from touchpoint.delivery.dispatcher import backoff_seconds
from touchpoint.kit.clock import utcnow


def test_backoff_honours_retry_after_and_grows_without_it():
    assert all(backoff_seconds(1, 30.0) >= 30.0 for _ in range(50))
    assert all(0.5 <= backoff_seconds(1, None) <= 1.5 for _ in range(50))
    assert all(4.0 <= backoff_seconds(4, None) <= 12.0 for _ in range(50))
    assert all(backoff_seconds(30, None) <= 450.0 for _ in range(50))  # capped


async def test_throttled_send_waits_at_least_retry_after_and_holds_its_lane(settings):
    brand = CountingBrand(secret=API_SECRET)
    async with running(settings, brand=brand, account_settings=UNLIMITED) as h:
        first, second = await open_conversations(h, 2)
        for status, retry_after in ((503, 30), (429, 45)):
            brand.script.append((status, {"retry-after": str(retry_after)}, {"error": {"code": "slow_down"}}))
            before = utcnow()
            throttled, behind = await queue_texts(h, [(first, f"{status}-a"), (first, f"{status}-b")])

            row = await wait_for_row(h, throttled, lambda r: r.status == "pending" and r.attempts == 1)
            assert f"HTTP {status}" in (row.last_error or "")
            assert row.available_at >= before + timedelta(seconds=retry_after)
            assert (await message(h, throttled)).status == "queued"
            # The dispatcher keeps working for other conversations meanwhile...
            [unrelated] = await queue_texts(h, [(second, f"{status}-elsewhere")])
            await wait_for_row(h, unrelated, lambda r: r.status == "done")
            # ...but nothing overtakes the throttled message in its own conversation.
            assert (await outbox_row(h, behind)).attempts == 0

            await make_due_now(h, throttled)
            await wait_for_row(h, behind, lambda r: r.status == "done")
            texts = [m["text"] for m in brand.received if m["conversation_id"] == first]
            assert texts[-2:] == [f"{status}-a", f"{status}-b"]
            row = await outbox_row(h, throttled)
            assert (row.status, row.attempts) == ("done", 2)
            assert (await message(h, throttled)).status == "sent"


async def test_refused_send_fails_at_once_with_the_brand_reason(settings):
    brand = CountingBrand(secret=API_SECRET)
    brand.script.append((400, {}, {"error": {"code": "invalid_recipient", "message": "no such user"}}))
    async with running(settings, brand=brand, account_settings=UNLIMITED) as h:
        [conversation] = await open_conversations(h, 1)
        refused, after = await queue_texts(h, [(conversation, "to nobody"), (conversation, "next one")])

        row = await wait_for_row(h, refused, lambda r: r.status == "failed")
        assert row.attempts == 1 and "HTTP 400" in (row.last_error or "")
        refused_message = await message(h, refused)
        assert (refused_message.status, refused_message.status_reason) == ("failed", "provider:invalid_recipient")
        # A failed message does not block its conversation, and is never tried again.
        await wait_for_row(h, after, lambda r: r.status == "done")
        [again] = await queue_texts(h, [(conversation, "and another")])
        await wait_for_row(h, again, lambda r: r.status == "done")
        assert brand.started == 3
        assert [m["text"] for m in brand.received] == ["next one", "and another"]
        assert (await outbox_row(h, refused)).attempts == 1


async def test_transient_failures_give_up_after_max_send_attempts(settings):
    settings = settings.model_copy(update={"max_send_attempts": 3})
    brand = CountingBrand(secret=API_SECRET)
    brand.script.extend([(503, {}, {"error": {"code": "down"}})] * 3)
    async with running(settings, brand=brand, account_settings=UNLIMITED) as h:
        [conversation] = await open_conversations(h, 1)
        [doomed] = await queue_texts(h, [(conversation, "never makes it")])

        async def gave_up():
            row = await outbox_row(h, doomed)
            if row.status == "pending" and row.available_at > utcnow():
                await make_due_now(h, doomed)
            return row if row.status == "failed" else None

        row = await eventually(gave_up, timeout=20)
        assert row.attempts == 3 and "HTTP 503" in (row.last_error or "")
        failed = await message(h, doomed)
        assert (failed.status, failed.status_reason) == ("failed", "gave_up_after_retries")
        assert brand.started == 3 and brand.received == []


async def test_an_outbound_url_inside_our_network_fails_with_a_reason_and_is_not_retried(settings):
    """SSRF guard: with private URLs not allowed, the brand's loopback endpoint is refused."""
    guarded = settings.model_copy(update={"allow_private_urls": False})
    async with running(guarded, brand=CountingBrand(secret=API_SECRET), account_settings=UNLIMITED) as h:
        [conversation] = await open_conversations(h, 1)
        [queued] = await queue_texts(h, [(conversation, "hello")])
        row = await wait_for_row(h, queued, lambda r: r.status == "failed")
        assert row.attempts == 1
        failed = await message(h, queued)
        assert (failed.status, failed.status_reason) == ("failed", "unsafe_url")
        assert h.brand.started == 0
