"""Every conversation and message query."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.models import ContactIdentity, Conversation, ConversationStatus, Message, Team


async def access_conversation(session: AsyncSession, workspace_id: int, conversation_id: int) -> Conversation | None:
    return (await session.execute(
        select(Conversation).where(Conversation.id == conversation_id, Conversation.workspace_id == workspace_id)
    )).scalar_one_or_none()


async def open_conversation_for(session: AsyncSession, contact_id: int, channel_account_id: int) -> Conversation | None:
    return (await session.execute(
        select(Conversation)
        .where(Conversation.contact_id == contact_id, Conversation.channel_account_id == channel_account_id,
               Conversation.status != ConversationStatus.resolved.value)
        .order_by(Conversation.id.desc()).limit(1)
    )).scalar_one_or_none()


async def latest_conversation_for(session: AsyncSession, contact_id: int,
                                  channel_account_id: int) -> Conversation | None:
    return (await session.execute(
        select(Conversation)
        .where(Conversation.contact_id == contact_id, Conversation.channel_account_id == channel_account_id)
        .order_by(Conversation.id.desc()).limit(1)
    )).scalar_one_or_none()


async def messages_of(session: AsyncSession, conversation_id: int, *, after_id: int | None = None,
                      limit: int = 200, include_notes: bool = True) -> Sequence[Message]:
    """Without `after_id`: the newest `limit` messages. With it: the next `limit` after it, so a client
    syncing forward never skips any. Both oldest first."""
    stmt = select(Message).where(Message.conversation_id == conversation_id)
    if not include_notes:
        stmt = stmt.where(Message.status != "note")
    if after_id:
        return (await session.execute(stmt.where(Message.id > after_id).order_by(Message.id).limit(limit))
                ).scalars().all()
    rows = (await session.execute(stmt.order_by(Message.id.desc()).limit(limit))).scalars().all()
    return list(reversed(rows))


async def list_conversations(session: AsyncSession, workspace_id: int, *, statuses: Sequence[str] | None = None,
                             team_id: int | None = None, agent_id: int | None = None,
                             limit: int = 50) -> Sequence[Conversation]:
    """Most recent activity first. (Paged lists: api.repository.conversations_page keys on activity.)"""
    stmt = select(Conversation).where(Conversation.workspace_id == workspace_id)
    if statuses:
        stmt = stmt.where(Conversation.status.in_(list(statuses)))
    if team_id:
        stmt = stmt.where(Conversation.team_id == team_id)
    if agent_id:
        stmt = stmt.where(Conversation.agent_id == agent_id)
    stmt = stmt.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(limit)
    return (await session.execute(stmt)).scalars().all()


async def count_by_status(session: AsyncSession, workspace_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(Conversation.status, func.count()).where(Conversation.workspace_id == workspace_id)
        .group_by(Conversation.status))
    return {status: count for status, count in rows.all()}


async def team_by_slug(session: AsyncSession, workspace_id: int, slug: str) -> Team | None:
    return (await session.execute(
        select(Team).where(Team.workspace_id == workspace_id, Team.slug == slug)
    )).scalar_one_or_none()


async def open_statuses_for_senders(session: AsyncSession,
                                    senders: Sequence[tuple[int, str]]) -> dict[tuple[int, str], str]:
    """Per (channel account, sender's external id), the status of the conversation `open_conversation_for` would
    find (the newest not resolved); senders without one are left out. One statement for a whole batch."""
    if not senders:
        return {}
    wanted = set(senders)
    rows = (await session.execute(
        select(ContactIdentity.channel_account_id, ContactIdentity.external_id, Conversation.id, Conversation.status)
        .join(Conversation, (Conversation.contact_id == ContactIdentity.contact_id)
              & (Conversation.channel_account_id == ContactIdentity.channel_account_id))
        .where(ContactIdentity.external_id.in_(sorted({sender for _, sender in wanted})),
               ContactIdentity.channel_account_id.in_(sorted({account for account, _ in wanted})),
               Conversation.status != ConversationStatus.resolved.value)
        .order_by(Conversation.id))).all()
    # Ascending ids: the newest open conversation of each sender is written last.
    return {(account, sender): status for account, sender, _, status in rows if (account, sender) in wanted}
