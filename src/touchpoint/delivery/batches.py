"""The dispatcher's statements, set-based: a claim is one select (outbox row, message, recipient) and
one or two updates whatever the batch size; recording a batch of outcomes is a handful of statements.
Core statements and plain tuples, not ORM objects: per row, the ORM's identity map and unit of work
cost more than the rest of a send.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.db import queue
from touchpoint.delivery.ratelimit import Limit
from touchpoint.models import ContactIdentity, Conversation, Message, MessageStatus, OutboxItem
from touchpoint.realtime.events import conversation_topic, stage

log = logging.getLogger(__name__)
EXTERNAL_ID_MAX = 200  # messages.external_id column width
QUEUED = (MessageStatus.queued.value, MessageStatus.deferred.value)

_outbox = cast(Table, OutboxItem.__table__)
_messages = cast(Table, Message.__table__)
_conversations = cast(Table, Conversation.__table__)
_identities = cast(Table, ContactIdentity.__table__)


@dataclass(slots=True)
class Job:
    """One claimed outbox row with what sending it needs."""

    outbox_id: int
    message_id: int
    account_id: int
    idempotency_key: str
    attempts: int  # counting this claim
    conversation_id: int
    text: str
    content: dict[str, Any]
    recipient: str | None
    claimed_at: float = 0.0  # monotonic
    limits: list[Limit] = field(default_factory=list)
    account: Any = None  # the dispatcher's view of the channel account, once paced


@dataclass(slots=True)
class Outcome:
    job: Job
    status: str  # sent | retry | failed | deferred
    provider_message_id: str | None = None
    error: str | None = None
    reason: str | None = None
    at: datetime | None = None


async def select_heads(session: AsyncSession, *, now: datetime, limit: int, expired: bool = True) -> list[Job]:
    """Due lane heads in due order, each with its message and the recipient's id on the row's channel
    account (the most recent identity, should a contact have two there)."""
    recipient = (select(_identities.c.external_id)
                 .where(_identities.c.contact_id == _conversations.c.contact_id,
                        _identities.c.channel_account_id == _outbox.c.channel_account_id)
                 .order_by(_identities.c.id.desc()).limit(1).scalar_subquery())
    stmt = (select(_outbox.c.id, _outbox.c.message_id, _outbox.c.channel_account_id, _outbox.c.idempotency_key,
                   _outbox.c.attempts, _messages.c.conversation_id, _messages.c.text, _messages.c.content, recipient)
            .select_from(_outbox.join(_messages, _messages.c.id == _outbox.c.message_id)
                         .join(_conversations, _conversations.c.id == _messages.c.conversation_id)))
    rows = await queue.heads(session, stmt, OutboxItem, now=now, limit=limit, expired=expired)
    return [Job(row[0], row[1], row[2], row[3], row[4] + 1, row[5], row[6] or "", row[7] or {}, row[8])
            for row in rows]


async def lease(session: AsyncSession, jobs: list[Job], *, owner: str, now: datetime, lease_seconds: float) -> None:
    if jobs:
        await queue.lease(session, OutboxItem, [job.outbox_id for job in jobs], owner=owner, now=now,
                          lease_seconds=lease_seconds)


async def postpone(session: AsyncSession, later: list[tuple[Job, datetime]], *, reason: str) -> None:
    await queue.postpone(session, OutboxItem, [(job.outbox_id, at) for job, at in later], reason=reason)


async def record(session: AsyncSession, outcomes: list[Outcome], *, owner: str, now: datetime) -> None:
    """Record a batch in the caller's transaction. Raises on a row that cannot be stored (the caller
    then records row by row, `record_one`)."""
    later = [(o.job.outbox_id, o.at or now, o.error or "", o.status == "deferred")
             for o in outcomes if o.status in ("retry", "deferred")]
    await queue.retry_many(session, OutboxItem, later, owner=owner)
    sent = [o for o in outcomes if o.status == "sent"]
    owned = await queue.complete_many(session, OutboxItem, [o.job.outbox_id for o in sent], owner=owner)
    if len(owned) < len(sent):
        log.warning("%s sent outbox rows had lost their lease (another worker owns them now)", len(sent) - len(owned))
    sent = [o for o in sent if o.job.outbox_id in owned]
    if sent:
        await _mark_sent(session, sent, now)
    for outcome in outcomes:
        if outcome.status == "failed":
            await _mark_failed(session, outcome, owner, now)


async def _mark_sent(session: AsyncSession, sent: list[Outcome], now: datetime) -> None:
    # Which ones move forward: a receipt may have raced ahead of us (delivered before we recorded sent),
    # and status never goes backwards. Known before the update only to tell browsers about the moves.
    ids = [o.job.message_id for o in sent]
    current = dict((await session.execute(
        select(_messages.c.id, _messages.c.status).where(_messages.c.id.in_(bindparam("ids", expanding=True))),
        {"ids": ids})).all())
    # Spelled out, not IN (...): an expanding IN cannot be part of an executemany.
    forward = or_(*(_messages.c.status == status for status in QUEUED))
    await session.execute(
        update(_messages).where(_messages.c.id == bindparam("message_id"))
        .values(status=case((forward, MessageStatus.sent.value), else_=_messages.c.status),
                status_at=case((forward, bindparam("now")), else_=_messages.c.status_at),
                external_id=func.coalesce(bindparam("external_id"), _messages.c.external_id)),
        [{"message_id": o.job.message_id, "now": now, "external_id": o.provider_message_id} for o in sent])
    for outcome in sent:
        if current.get(outcome.job.message_id) in QUEUED:
            stage(session, conversation_topic(outcome.job.conversation_id),
                  {"type": "status", "message_id": outcome.job.message_id, "status": MessageStatus.sent.value})


async def _mark_failed(session: AsyncSession, outcome: Outcome, owner: str, now: datetime) -> None:
    job = outcome.job
    if not await queue.complete(session, OutboxItem, job.outbox_id, owner=owner, status=queue.FAILED,
                                error=outcome.error):
        log.warning("outbox %s: lease lost; another worker owns it now", job.outbox_id)
        return
    log.warning("message %s failed: %s (%s)", job.message_id, outcome.reason, outcome.error)
    row = (await session.execute(
        update(_messages).where(_messages.c.id == job.message_id,
                                _messages.c.status.in_([*QUEUED, MessageStatus.sent.value]))
        .values(status=MessageStatus.failed.value, status_reason=outcome.reason, status_at=now)
        .returning(_messages.c.conversation_id))).first()
    if row is not None:
        stage(session, conversation_topic(row.conversation_id),
              {"type": "status", "message_id": job.message_id, "status": MessageStatus.failed.value})


async def record_one(session: AsyncSession, outcome: Outcome, *, owner: str, now: datetime) -> None:
    """One outcome in a savepoint of its own. If it cannot be stored with the provider's id (say, an id
    that clashes with another message's), it is stored without: the send happened, and leaving the row
    leased would send it again when the lease runs out."""
    try:
        async with session.begin_nested():
            await record(session, [outcome], owner=owner, now=now)
        return
    except Exception:
        log.exception("outbox %s: recording %s failed", outcome.job.outbox_id, outcome.status)
    fallback = Outcome(outcome.job, outcome.status, None, reason=outcome.reason, at=outcome.at,
                       error=f"{outcome.error or ''} (provider message id could not be stored)".strip())
    async with session.begin_nested():
        await record(session, [fallback], owner=owner, now=now)


def later_than(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)


def clip_provider_id(value: str | None) -> str | None:
    return value[:EXTERNAL_ID_MAX] if value else None

