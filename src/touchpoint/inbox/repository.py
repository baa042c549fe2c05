"""Inbox queries. Pages load what they show in bulk (one query per kind of row, whatever the page size);
every query filters on the agent's workspace."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from touchpoint.models import (
    Agent,
    ChannelAccount,
    ConsentRecord,
    Contact,
    ContactIdentity,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageStatus,
    SenderKind,
    Workspace,
)


async def active_agents_by_email(session: AsyncSession, email: str, limit: int = 5) -> Sequence[Agent]:
    """Login: the same address may be an agent in several workspaces; the password picks the account."""
    return (await session.execute(
        select(Agent).where(Agent.email == email.strip().lower(), Agent.is_active.is_(True))
        .order_by(Agent.id).limit(limit))).scalars().all()


async def agent_with_workspace(session: AsyncSession, agent_id: int,
                               workspace_id: int) -> tuple[Agent, Workspace] | None:
    row = (await session.execute(
        select(Agent, Workspace).join(Workspace, Workspace.id == Agent.workspace_id)
        .where(Agent.id == agent_id, Agent.workspace_id == workspace_id))).first()
    return None if row is None else (row[0], row[1])


def view_filter(view: str, agent_id: int) -> ColumnElement[bool]:
    """The list tabs. "mine" is what this agent holds; "assigned" is everyone's."""
    status = Conversation.status
    if view == "mine":
        return and_(status == ConversationStatus.assigned.value, Conversation.agent_id == agent_id)
    if view in ("bot", "snoozed", "resolved", "assigned"):
        return status == view
    return status == ConversationStatus.queued.value


async def list_for_view(session: AsyncSession, workspace_id: int, *, view: str, agent_id: int,
                        team_id: int | None, limit: int) -> Sequence[Conversation]:
    stmt = select(Conversation).where(Conversation.workspace_id == workspace_id, view_filter(view, agent_id))
    if team_id:
        stmt = stmt.where(Conversation.team_id == team_id)
    # Waiting customers read oldest first would also make sense; the product rule is newest activity first.
    stmt = stmt.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(limit)
    return (await session.execute(stmt)).scalars().all()


async def view_counts(session: AsyncSession, workspace_id: int, *, agent_id: int,
                      team_id: int | None) -> dict[str, int]:
    """Counts for every tab in one query."""
    mine = func.sum(case(
        (and_(Conversation.status == ConversationStatus.assigned.value, Conversation.agent_id == agent_id), 1),
        else_=0))
    stmt = select(Conversation.status, func.count(), mine).where(Conversation.workspace_id == workspace_id)
    if team_id:
        stmt = stmt.where(Conversation.team_id == team_id)
    counts: dict[str, int] = {status.value: 0 for status in ConversationStatus}
    counts["mine"] = 0
    for status, count, mine_count in (await session.execute(stmt.group_by(Conversation.status))).all():
        counts[status] = int(count)
        counts["mine"] += int(mine_count or 0)
    return counts


async def contacts_by_id(session: AsyncSession, workspace_id: int, ids: Collection[int]) -> dict[int, Contact]:
    if not ids:
        return {}
    rows = (await session.execute(
        select(Contact).where(Contact.workspace_id == workspace_id, Contact.id.in_(set(ids))))).scalars()
    return {row.id: row for row in rows}


async def accounts_of(session: AsyncSession, workspace_id: int) -> dict[int, ChannelAccount]:
    rows = (await session.execute(
        select(ChannelAccount).where(ChannelAccount.workspace_id == workspace_id))).scalars()
    return {row.id: row for row in rows}


async def agents_of(session: AsyncSession, workspace_id: int) -> dict[int, Agent]:
    rows = (await session.execute(
        select(Agent).where(Agent.workspace_id == workspace_id).order_by(Agent.name))).scalars()
    return {row.id: row for row in rows}


async def waiting_since(session: AsyncSession, workspace_id: int,
                        conversation_ids: Collection[int]) -> dict[int, datetime]:
    """For each conversation: when the customer's oldest message that no agent has answered yet arrived.

    One statement for the whole page: inbound messages newer than the conversation's last agent reply.
    """
    if not conversation_ids:
        return {}
    reply = aliased(Message)
    last_agent_reply = (
        select(func.coalesce(func.max(reply.id), 0))
        .where(reply.conversation_id == Message.conversation_id, reply.sender_kind == SenderKind.agent.value,
               reply.direction == Direction.outbound.value, reply.status != MessageStatus.note.value)
        .scalar_subquery())
    # An inbound message's status_at is when it was received (the provider's time for imported history).
    received_at = func.coalesce(Message.status_at, Message.created_at)
    rows = await session.execute(
        select(Message.conversation_id, func.min(received_at))
        .where(Message.workspace_id == workspace_id, Message.conversation_id.in_(set(conversation_ids)),
               Message.direction == Direction.inbound.value, Message.id > last_agent_reply)
        .group_by(Message.conversation_id))
    return {conversation_id: at for conversation_id, at in rows.all() if at is not None}


async def consent_records_of(session: AsyncSession, workspace_id: int, contact_id: int,
                             limit: int = 50) -> Sequence[ConsentRecord]:
    return (await session.execute(
        select(ConsentRecord).where(ConsentRecord.workspace_id == workspace_id,
                                    ConsentRecord.contact_id == contact_id)
        .order_by(ConsentRecord.id.desc()).limit(limit))).scalars().all()


async def identities_of(session: AsyncSession, workspace_id: int, contact_id: int) -> Sequence[ContactIdentity]:
    return (await session.execute(
        select(ContactIdentity).where(ContactIdentity.workspace_id == workspace_id,
                                      ContactIdentity.contact_id == contact_id)
        .order_by(ContactIdentity.id))).scalars().all()


async def access_message(session: AsyncSession, workspace_id: int, conversation_id: int,
                         message_id: int) -> Message | None:
    return (await session.execute(
        select(Message).where(Message.id == message_id, Message.workspace_id == workspace_id,
                              Message.conversation_id == conversation_id))).scalar_one_or_none()


async def message_by_idempotency_key(session: AsyncSession, workspace_id: int, key: str) -> Message | None:
    return (await session.execute(
        select(Message).where(Message.workspace_id == workspace_id, Message.idempotency_key == key)
    )).scalar_one_or_none()


async def other_open_conversation(session: AsyncSession, conversation: Conversation) -> Conversation | None:
    """A newer open conversation with the same person on the same channel: reopening this one would give
    the customer two open threads."""
    return (await session.execute(
        select(Conversation).where(
            Conversation.workspace_id == conversation.workspace_id,
            Conversation.contact_id == conversation.contact_id,
            Conversation.channel_account_id == conversation.channel_account_id,
            Conversation.id != conversation.id,
            Conversation.status != ConversationStatus.resolved.value)
        .order_by(Conversation.id.desc()).limit(1))).scalar_one_or_none()
