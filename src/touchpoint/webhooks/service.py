"""Storing verified events: one row per (channel account, provider event id), whatever the retries."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.channels.base import AccountContext, NormalizedEvent
from touchpoint.db.dialect import insert_ignore
from touchpoint.models import InboundEvent
from touchpoint.runtime import wake_after_commit


def lane_for_sender(account_id: int, sender_id: str) -> str:
    """Events of one sender on one account are processed in order (their conversation's order)."""
    return f"a{account_id}:{sender_id}"[:120]


async def store_events(session: AsyncSession, account: AccountContext, events: list[NormalizedEvent]) -> int:
    """Insert the events that are new; duplicates are ignored. Returns how many were new."""
    if not events:
        return 0
    rows = [{
        "workspace_id": account.workspace_id, "channel_account_id": account.id,
        "provider_event_id": event.provider_event_id[:200], "kind": event.kind, "payload": event.to_payload(),
        "lane": lane_for_sender(account.id, event.sender_id or event.provider_message_id or "status"),
        "status": "pending", "attempts": 0,
    } for event in events]
    stmt = insert_ignore(session, InboundEvent.__table__,  # type: ignore[arg-type]
                         ["channel_account_id", "provider_event_id"])
    stmt = stmt.returning(InboundEvent.__table__.c.id)
    inserted = 0
    for row in rows:
        # One statement per row: RETURNING with ON CONFLICT tells us which ones were new.
        result = await session.execute(stmt.values(**row))
        inserted += len(result.all())
    if inserted:
        wake_after_commit(session, "inbound")
    return inserted
