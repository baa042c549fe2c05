"""The queue primitives every dispatcher relies on (db/queue.py), on both databases: concurrent claimers
(separate engines, as separate processes would have) never hold the same row, never hold two rows of
one lane at once, and take each lane in id order; expired leases come back; retries keep their lane."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from touchpoint.db import queue
from touchpoint.db.engine import make_engine, make_sessionmaker
from touchpoint.db.migrate import upgrade
from touchpoint.kit.clock import utcnow
from touchpoint.models import Timer, Workspace

# Timers are a queue like the outbox (same columns, same claim code) with fewer foreign keys to fill.
LANES, PER_LANE = 20, 8


@pytest.fixture
async def engines(settings) -> AsyncIterator[list]:
    engines = [make_engine(settings) for _ in range(2)]
    await upgrade(engines[0])
    try:
        yield engines
    finally:
        for engine in engines:
            await engine.dispose()


async def seed(engine, lanes: int = LANES, per_lane: int = PER_LANE) -> int:
    now = utcnow()
    async with make_sessionmaker(engine)() as session, session.begin():
        workspace = Workspace(slug=f"ws-{random.randrange(10**9)}", name="Queue test", settings={})
        session.add(workspace)
        await session.flush()
        # Interleaved inserts, so a lane's rows are not adjacent ids.
        await session.execute(insert(Timer), [
            {"workspace_id": workspace.id, "kind": "test", "lane": f"lane-{lane}", "status": "pending",
             "available_at": now, "attempts": 0, "payload": {"n": n}, "created_at": now}
            for n in range(per_lane) for lane in range(lanes)])
        return workspace.id


async def test_concurrent_claimers_hold_each_row_once_and_each_lane_in_order(engines):
    await seed(engines[0])
    claimed: list[tuple[str, int, str]] = []  # (lane, id, owner) in claim order
    in_flight: dict[str, str] = {}  # lane -> owner holding its head right now
    overlaps: list[str] = []

    async def claimer(owner: str, engine) -> None:
        sessions = make_sessionmaker(engine)
        idle_rounds = 0
        while idle_rounds < 3:
            async with sessions() as session, session.begin():
                rows = await queue.claim(session, Timer, owner=owner, now=utcnow(), lease_seconds=60, limit=7)
                batch = [(row.lane, row.id) for row in rows]
            if not batch:
                idle_rounds += 1
                await asyncio.sleep(0.01)
                continue
            idle_rounds = 0
            for lane, row_id in batch:
                if lane in in_flight:
                    overlaps.append(f"{owner} claimed {row_id} while {in_flight[lane]} holds {lane}")
                in_flight[lane] = owner
                claimed.append((lane, row_id, owner))
            await asyncio.sleep(random.random() / 200)  # "sending"
            async with sessions() as session, session.begin():
                for lane, row_id in batch:
                    # Released before the commit makes the next row claimable, so a claim of it
                    # seen while the lane is still marked would be a real overlap.
                    del in_flight[lane]
                    assert await queue.complete(session, Timer, row_id, owner=owner)

    await asyncio.gather(*(claimer(f"worker-{i}", engines[i % 2]) for i in range(4)))

    assert overlaps == []
    ids = [row_id for _, row_id, _ in claimed]
    assert len(ids) == len(set(ids)) == LANES * PER_LANE
    for lane in {lane for lane, _, _ in claimed}:
        lane_ids = [row_id for row_lane, row_id, _ in claimed if row_lane == lane]
        assert lane_ids == sorted(lane_ids)
    assert len({owner for _, _, owner in claimed}) > 1  # they really competed


async def test_expired_lease_is_claimed_again_and_the_old_owner_cannot_finish(engines):
    await seed(engines[0], lanes=1, per_lane=2)
    sessions = make_sessionmaker(engines[0])
    now = utcnow()
    async with sessions() as session, session.begin():
        [first] = await queue.claim(session, Timer, owner="crashed", now=now, lease_seconds=30, limit=10)
    async with sessions() as session, session.begin():
        # Still leased: nothing of the lane is claimable, not even the row behind it.
        assert await queue.claim(session, Timer, owner="other", now=now + timedelta(seconds=29),
                                 lease_seconds=30, limit=10) == []
        [again] = await queue.claim(session, Timer, owner="other", now=now + timedelta(seconds=31),
                                    lease_seconds=30, limit=10)
    assert (again.id, again.attempts, again.lease_owner) == (first.id, 2, "other")
    async with sessions() as session, session.begin():
        assert not await queue.complete(session, Timer, first.id, owner="crashed")
        assert not await queue.retry_later(session, Timer, first.id, owner="crashed", at=now, error="late")
        assert await queue.complete(session, Timer, first.id, owner="other")


async def test_retry_keeps_the_lane_head_and_a_rate_limit_wait_refunds_the_attempt(engines):
    await seed(engines[0], lanes=1, per_lane=2)
    sessions = make_sessionmaker(engines[0])
    now = utcnow()
    later = now + timedelta(seconds=90)
    async with sessions() as session, session.begin():
        [head] = await queue.claim(session, Timer, owner="w", now=now, lease_seconds=30, limit=10)
        assert await queue.retry_later(session, Timer, head.id, owner="w", at=later, error="HTTP 503")
    async with sessions() as session, session.begin():
        assert await queue.claim(session, Timer, owner="w", now=later - timedelta(seconds=1),
                                 lease_seconds=30, limit=10) == []
        [again] = await queue.claim(session, Timer, owner="w", now=later, lease_seconds=30, limit=10)
        assert (again.id, again.attempts) == (head.id, 2)
        assert await queue.retry_later(session, Timer, head.id, owner="w", at=later, error="rate limited",
                                       refund_attempt=True)
    async with sessions() as session:
        row = (await session.execute(select(Timer).where(Timer.id == head.id))).scalar_one()
    assert (row.status, row.attempts, row.last_error, row.lease_owner) == ("pending", 1, "rate limited", None)
