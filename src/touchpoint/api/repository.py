"""Queries only the public API needs: API-key bookkeeping, keyset pages, idempotency look-ups.

Keyset pages (not offsets) so that a client walking a busy inbox neither skips nor repeats rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.models import ApiKey, AuditEntry, Conversation, Message, MessageStatus

# last_used_at is for humans deciding which keys to revoke: minute precision is plenty, and it keeps
# authenticated reads from turning into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


async def touch_api_key(session: AsyncSession, key: ApiKey, now: datetime) -> None:
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    # Atomic and conditional, so concurrent requests with the same key do not each write.
    await session.execute(
        update(ApiKey).where(ApiKey.id == key.id,
                             or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < now - LAST_USED_RESOLUTION))
        .values(last_used_at=now).execution_options(synchronize_session=False))


async def conversations_page(session: AsyncSession, workspace_id: int, *, statuses: Sequence[str],
                             team_id: int | None, agent_id: int | None, before: tuple[datetime, int] | None,
                             limit: int) -> Sequence[Conversation]:
    """Most recent activity first; `before` is the (last_message_at, id) of the previous page's last row."""
    stmt = select(Conversation).where(Conversation.workspace_id == workspace_id)
    if statuses:
        stmt = stmt.where(Conversation.status.in_(list(statuses)))
    if team_id is not None:
        stmt = stmt.where(Conversation.team_id == team_id)
    if agent_id is not None:
        stmt = stmt.where(Conversation.agent_id == agent_id)
    if before is not None:
        at, conversation_id = before
        stmt = stmt.where(or_(Conversation.last_message_at < at,
                              and_(Conversation.last_message_at == at, Conversation.id < conversation_id)))
    stmt = stmt.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(limit)
    return (await session.execute(stmt)).scalars().all()


async def messages_page(session: AsyncSession, workspace_id: int, conversation_id: int, *, after_id: int,
                        limit: int, include_notes: bool) -> Sequence[Message]:
    """Oldest first from `after_id`, so a client can sync forward without gaps."""
    stmt = select(Message).where(Message.workspace_id == workspace_id, Message.conversation_id == conversation_id,
                                 Message.id > after_id)
    if not include_notes:
        stmt = stmt.where(Message.status != MessageStatus.note.value)
    return (await session.execute(stmt.order_by(Message.id).limit(limit))).scalars().all()


async def latest_messages(session: AsyncSession, workspace_id: int, conversation_id: int, *, limit: int,
                          include_notes: bool) -> Sequence[Message]:
    """The newest `limit` messages, returned oldest first."""
    stmt = select(Message).where(Message.workspace_id == workspace_id, Message.conversation_id == conversation_id)
    if not include_notes:
        stmt = stmt.where(Message.status != MessageStatus.note.value)
    rows = (await session.execute(stmt.order_by(Message.id.desc()).limit(limit))).scalars().all()
    return list(reversed(rows))


async def message_by_idempotency_key(session: AsyncSession, workspace_id: int, key: str) -> Message | None:
    return (await session.execute(
        select(Message).where(Message.workspace_id == workspace_id, Message.idempotency_key == key)
    )).scalar_one_or_none()


async def send_record(session: AsyncSession, workspace_id: int, message_id: int, action: str) -> AuditEntry | None:
    """The audit entry the API wrote when it sent this message (it carries the request hash)."""
    return (await session.execute(
        select(AuditEntry).where(AuditEntry.workspace_id == workspace_id, AuditEntry.subject_type == "message",
                                 AuditEntry.subject_id == message_id, AuditEntry.action == action)
        .order_by(AuditEntry.id).limit(1)
    )).scalar_one_or_none()
