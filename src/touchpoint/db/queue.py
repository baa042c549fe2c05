"""Claiming, completing and retrying rows of our durable queues (inbound events, outbox, timers).

Order within a lane: only the oldest unfinished row of a lane is claimable, so a lane's rows are
handled one at a time in id order, by whichever worker claims the head. This holds across workers on
PostgreSQL (SKIP LOCKED never lets a later row overtake: while the head exists as pending or leased,
the rows behind it are not eligible) and trivially on SQLite, where one dispatcher claims under
BEGIN IMMEDIATE.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from touchpoint.db.dialect import lock_skip_locked

Row = TypeVar("Row")

PENDING, LEASED, DONE, FAILED = "pending", "leased", "done", "failed"
UNFINISHED = (PENDING, LEASED)


async def claim(session: AsyncSession, model: type[Row], *, owner: str, now: datetime,
                lease_seconds: float, limit: int) -> Sequence[Row]:
    """Lease up to `limit` due lane heads. A crashed worker's expired leases are claimable again."""
    m: Any = model
    earlier = aliased(m)
    blocked = exists().where(earlier.lane == m.lane, earlier.status.in_(UNFINISHED), earlier.id < m.id)
    due = or_(and_(m.status == PENDING, m.available_at <= now),
              and_(m.status == LEASED, m.lease_until < now))
    candidates = select(m.id).where(due, ~blocked).order_by(m.available_at, m.id).limit(limit)
    ids = list((await session.execute(lock_skip_locked(session, candidates))).scalars())
    if not ids:
        return []
    await session.execute(
        update(m).where(m.id.in_(ids))
        .values(status=LEASED, lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds),
                attempts=m.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    rows = (await session.execute(select(m).where(m.id.in_(ids)).order_by(m.id))).scalars().all()
    return rows


async def complete(session: AsyncSession, model: type[Any], row_id: int, *, owner: str,
                   status: str = DONE, error: str | None = None) -> bool:
    """Finish a leased row. False means our lease was lost (another worker re-claimed the row)."""
    result = await session.execute(
        update(model).where(model.id == row_id, model.lease_owner == owner, model.status == LEASED)
        .values(status=status, lease_until=None, last_error=error)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def retry_later(session: AsyncSession, model: type[Any], row_id: int, *, owner: str,
                      at: datetime, error: str, refund_attempt: bool = False) -> bool:
    """Hand a leased row back for another try at `at`. The row keeps its place at the head of its lane,
    so nothing behind it overtakes. `refund_attempt` undoes the claim's attempt count (waiting for a
    rate-limit slot is not a failed attempt). False means our lease was lost; nothing was changed."""
    values: dict[str, Any] = {"status": PENDING, "available_at": at, "lease_until": None, "lease_owner": None,
                              "last_error": error}
    if refund_attempt:
        values["attempts"] = model.attempts - 1
    result = await session.execute(
        update(model).where(model.id == row_id, model.lease_owner == owner, model.status == LEASED)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def next_due_at(session: AsyncSession, model: type[Any]) -> datetime | None:
    """When the earliest pending row becomes due, so an idle loop can sleep exactly that long."""
    value = (await session.execute(
        select(model.available_at).where(model.status == PENDING).order_by(model.available_at).limit(1)
    )).scalar()
    return value  # type: ignore[no-any-return]
