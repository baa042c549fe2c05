"""Storing verified events: one row per (channel account, provider event id), whatever the retries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.channels.base import AccountContext, NormalizedEvent
from touchpoint.db.dialect import insert_ignore
from touchpoint.kit.redact import mask_card_numbers
from touchpoint.models import InboundEvent
from touchpoint.runtime import wake_after_commit


def scrub_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Card numbers typed into chat never reach storage: masked here, before the first write, and counted
    so the processor can warn the customer."""
    text = payload.get("text")
    if isinstance(text, str) and text:
        masked, count = mask_card_numbers(text)
        if count:
            payload["text"] = masked
            payload["content"] = {**(payload.get("content") or {}), "masked_card_numbers": count}
    return payload


def lane_for_sender(account_id: int, sender_id: str) -> str:
    """Events of one sender on one account are processed in order (their conversation's order)."""
    return f"a{account_id}:{sender_id}"[:120]


async def store_events(session: AsyncSession, account: AccountContext, events: list[NormalizedEvent]) -> int:
    """Insert the events that are new; duplicates are ignored. Returns how many were new."""
    return (await store_many(session, [(account, events)]))[0]


async def store_many(session: AsyncSession,
                     requests: Sequence[tuple[AccountContext, list[NormalizedEvent]]]) -> list[int]:
    """Store the events of several requests with as few statements as possible (multi-row INSERTs
    instead of one per event). Returns, per request, how many of its events were new; an event
    id that appears twice counts as new once, for the first request that carries it."""
    rows: list[dict[str, Any]] = []
    owners: list[int] = []
    for index, (account, events) in enumerate(requests):
        for event in events:
            rows.append({
                "workspace_id": account.workspace_id, "channel_account_id": account.id,
                "provider_event_id": event.provider_event_id[:200], "kind": event.kind,
                "payload": scrub_payload(event.to_payload()),
                "lane": lane_for_sender(account.id, event.sender_id or event.provider_message_id or "status"),
                "status": "pending", "attempts": 0,
            })
            owners.append(index)
    counts = [0] * len(requests)
    if not rows:
        return counts
    table = InboundEvent.__table__
    # RETURNING with ON CONFLICT DO NOTHING names exactly the rows that were new. Executed with a list
    # of rows, SQLAlchemy sends multi-row INSERTs ("insertmanyvalues") from one cached statement.
    stmt = insert_ignore(session, table, ["channel_account_id", "provider_event_id"])  # type: ignore[arg-type]
    stmt = stmt.returning(table.c.channel_account_id, table.c.provider_event_id)
    result = await session.execute(stmt, rows)
    inserted: set[tuple[int, str]] = {(row[0], row[1]) for row in result.all()}
    for row, owner in zip(rows, owners, strict=True):
        key = (row["channel_account_id"], row["provider_event_id"])
        if key in inserted:
            inserted.discard(key)
            counts[owner] += 1
    if any(counts):
        wake_after_commit(session, "inbound")
    return counts
