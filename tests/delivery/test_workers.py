"""`touchpoint worker` processes: several on PostgreSQL never send one message twice and keep each
conversation's order; a worker killed with SIGKILL mid-batch loses nothing (its leases run out and
another worker sends what it held, with the same idempotency key)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.delivery.support import (
    UNLIMITED,
    CountingBrand,
    bulk_queue,
    expected_order,
    finished,
    interleaved_plan,
    open_conversations,
    outbox,
    queue_texts,
    start_worker,
    wait_ready,
)
from tests.support.harness import API_SECRET, running
from tests.support.servers import eventually
from touchpoint.models import OutboxItem


async def test_two_workers_send_every_message_exactly_once_in_order(settings, tmp_path):
    if settings.is_sqlite:
        pytest.skip("SQLite has exactly one dispatcher, inside `touchpoint serve` (DESIGN §2); several "
                    "workers are the PostgreSQL deployment. test_claims.py checks claims stay exclusive there.")
    brand = CountingBrand(secret=API_SECRET)
    async with running(settings, brand=brand, run_background=False, account_settings=UNLIMITED) as h:
        conversations = await open_conversations(h, 50)
        # Batches of 25 lanes: each worker holds about half the conversations at any time, so the two
        # really claim side by side instead of one taking every lane head in one go.
        workers = [start_worker(settings, tmp_path, name, TOUCHPOINT_DISPATCH_BATCH_SIZE="25")
                   for name in ("a", "b")]
        try:
            await wait_ready(*workers)
            plan = interleaved_plan(conversations, 40)
            await bulk_queue(h, plan)  # one commit: both workers find all 2,000 at their next poll
            rows = await finished(h, 90)
        finally:
            for worker in workers:
                worker.stop()

        assert len(rows) == len(plan) and {r.status for r in rows} == {"done"}
        arrivals = brand.arrivals()
        duplicates = {key: n for key, n in arrivals.items() if n > 1}
        assert duplicates == {}
        assert sorted(arrivals) == sorted(r.idempotency_key for r in rows)
        assert brand.first_arrival_order() == expected_order(plan)
        # Both workers took part (the row keeps the owner that completed it).
        assert len({r.lease_owner for r in rows}) == 2, [w.log()[-2000:] for w in workers]
        for worker in workers:
            assert worker.process.returncode == 0, worker.log()[-3000:]


async def test_killed_worker_loses_nothing(settings, tmp_path):
    # Slow brand: a batch is in flight long enough to kill the worker in the middle of it.
    brand = CountingBrand(secret=API_SECRET, delay=0.3)
    lease = {"TOUCHPOINT_DISPATCH_LEASE_SECONDS": "2", "TOUCHPOINT_PROVIDER_TIMEOUT_SECONDS": "1"}
    async with running(settings, brand=brand, run_background=False, account_settings=UNLIMITED) as h:
        conversations = await open_conversations(h, 12)
        plan = interleaved_plan(conversations, 5)
        await queue_texts(h, plan)
        first = start_worker(settings, tmp_path, "first", **lease)
        second = None
        try:
            # The first batch (one message per conversation) is done and the second is at the brand.
            await eventually(lambda: brand.started >= len(conversations) + 4, timeout=30)
            first.kill()
            in_flight = {r.idempotency_key for r in await outbox(h) if r.status == "leased"}
            assert in_flight, "the worker was not killed mid-batch"

            second = start_worker(settings, tmp_path, "second", **lease)
            rows = await finished(h, 60)
        finally:
            first.stop()
            if second is not None:
                second.stop()

        assert {r.status for r in rows} == {"done"}
        messages = [m for m in await h.messages() if m.conversation_id in conversations]
        assert len(messages) == len(plan) and {m.status for m in messages} == {"sent"}
        # Every message arrived; only what the dead worker held at the time arrived twice.
        arrivals = brand.arrivals()
        assert sorted(arrivals) == sorted(r.idempotency_key for r in rows)
        duplicates = {key for key, n in arrivals.items() if n > 1}
        assert duplicates <= in_flight
        # A duplicate is the same message again under the same key, never different content.
        for key in duplicates:
            copies = [(m["text"], m["recipient"]["id"], m["conversation_id"]) for m in brand.received if m["id"] == key]
            assert len(set(copies)) == 1
        # Re-sent rows were claimed again: the lease ran out, no one completed them twice.
        async with h.runtime.sessionmaker() as session:
            retaken = (await session.execute(
                select(OutboxItem).where(OutboxItem.idempotency_key.in_(in_flight)))).scalars().all()
        assert all(r.attempts >= 2 for r in retaken)
        assert brand.first_arrival_order() == expected_order(plan)
