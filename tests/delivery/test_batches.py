"""The dispatcher's set-based statements (delivery/batches.py) on both databases: a claim returns each lane
head with its message and recipient; a batch of mixed outcomes is recorded in one go, statuses only move
forward, a rate-limit wait is not an attempt, and a worker that lost its leases changes nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from tests.delivery.support import UNLIMITED, open_conversations, outbox, queue_texts
from tests.support.harness import running
from touchpoint.delivery import batches
from touchpoint.delivery.batches import Outcome
from touchpoint.kit.clock import as_utc, utcnow
from touchpoint.models import Message


async def test_a_claim_brings_what_sending_needs_and_only_lane_heads(settings):
    async with running(settings, run_background=False, account_settings=UNLIMITED) as h:
        first, second = await open_conversations(h, 2, prefix="rcpt")
        ids = await queue_texts(h, [(first, "one"), (second, "two"), (first, "three")])
        now = utcnow()
        async with h.runtime.transaction() as session:
            jobs = await batches.select_heads(session, now=now, limit=10)
            await batches.lease(session, jobs, owner="w1", now=now, lease_seconds=60)
        # "three" waits behind "one" in its conversation.
        assert [(job.message_id, job.text, job.recipient, job.attempts) for job in jobs] == [
            (ids[0], "one", "rcpt-0", 1), (ids[1], "two", "rcpt-1", 1)]
        assert {job.conversation_id for job in jobs} == {first, second}
        async with h.runtime.transaction() as session:
            assert await batches.select_heads(session, now=now, limit=10) == []  # leased: nothing claimable


async def test_a_batch_of_mixed_outcomes_is_recorded_in_one_go(settings):
    async with running(settings, run_background=False, account_settings=UNLIMITED) as h:
        conversations = await open_conversations(h, 6)
        ids = await queue_texts(h, [(c, f"to {c}") for c in conversations])
        now = utcnow()
        async with h.runtime.transaction() as session:
            jobs = {job.message_id: job for job in await batches.select_heads(session, now=now, limit=10)}
            await batches.lease(session, list(jobs.values()), owner="w1", now=now, lease_seconds=60)
        # A receipt raced ahead of the record for the second message: it is delivered already.
        async with h.runtime.transaction() as session:
            await session.execute(update(Message).where(Message.id == ids[1]).values(status="delivered"))
        later = now + timedelta(seconds=30)
        outcomes = [
            Outcome(jobs[ids[0]], "sent", "p-0"),
            Outcome(jobs[ids[1]], "sent", "p-1"),
            Outcome(jobs[ids[2]], "failed", error="HTTP 400", reason="provider:bad_recipient"),
            Outcome(jobs[ids[3]], "retry", error="HTTP 503", at=later),
            Outcome(jobs[ids[4]], "deferred", error="rate limited", at=later),
        ]
        async with h.runtime.transaction() as session:
            await batches.record(session, outcomes, owner="w1", now=utcnow())
        # Another worker (whose leases ran out and were taken over) recording the sixth changes nothing.
        async with h.runtime.transaction() as session:
            await batches.record(session, [Outcome(jobs[ids[5]], "sent", "p-5")], owner="w2", now=utcnow())

        messages = {m.id: m for m in await h.messages()}
        assert (messages[ids[0]].status, messages[ids[0]].external_id) == ("sent", "p-0")
        assert (messages[ids[1]].status, messages[ids[1]].external_id) == ("delivered", "p-1")  # never backwards
        assert (messages[ids[2]].status, messages[ids[2]].status_reason) == ("failed", "provider:bad_recipient")
        assert [messages[i].status for i in ids[3:]] == ["queued"] * 3
        assert messages[ids[5]].external_id is None
        rows = {row.message_id: row for row in await outbox(h)}
        assert [rows[i].status for i in ids] == ["done", "done", "failed", "pending", "pending", "leased"]
        assert (rows[ids[2]].last_error, rows[ids[3]].last_error) == ("HTTP 400", "HTTP 503")
        # Waiting for a rate-limit slot is not a failed attempt; a 503 is.
        assert (rows[ids[3]].attempts, rows[ids[4]].attempts) == (1, 0)
        assert all(abs((as_utc(rows[i].available_at) - later).total_seconds()) < 0.01 for i in ids[3:5])
        assert all(rows[i].lease_owner is None for i in ids[3:5]) and rows[ids[5]].lease_owner == "w1"


async def test_postponed_rows_keep_their_lane_and_count_no_attempt(settings):
    async with running(settings, run_background=False, account_settings=UNLIMITED) as h:
        [conversation] = await open_conversations(h, 1)
        ids = await queue_texts(h, [(conversation, "first"), (conversation, "second")])
        now = utcnow()
        later = now + timedelta(seconds=5)
        async with h.runtime.transaction() as session:
            [head] = await batches.select_heads(session, now=now, limit=10)
            await batches.postpone(session, [(head, later)], reason="rate limited")
        async with h.runtime.transaction() as session:
            # Not due yet, and the row behind it does not overtake it.
            assert await batches.select_heads(session, now=now, limit=10) == []
            [again] = await batches.select_heads(session, now=later, limit=10)
        assert (again.message_id, again.attempts) == (ids[0], 1)
        row = {r.message_id: r for r in await outbox(h)}[ids[0]]
        assert (row.status, row.attempts, row.last_error) == ("pending", 0, "rate limited")
