"""Every query the widget makes. A visitor only ever sees messages of their own contact on this
channel account, never internal notes, suppressed messages, or messages not yet sent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.models import (
    Agent,
    ChannelAccount,
    Conversation,
    Direction,
    InboundEvent,
    Message,
    MessageStatus,
    Workspace,
)

# What the visitor has actually been sent. Queued messages are not theirs to see yet (a deferred message
# must not appear before its time); the live push covers the moment between "sending" and "sent".
TRANSCRIPT_OUT_STATUSES = (MessageStatus.sent.value, MessageStatus.delivered.value, MessageStatus.read.value)
PUSHABLE_OUT_STATUSES = (MessageStatus.queued.value, *TRANSCRIPT_OUT_STATUSES)


async def webchat_account(session: AsyncSession, key: str) -> tuple[ChannelAccount, Workspace] | None:
    row = (await session.execute(
        select(ChannelAccount, Workspace).join(Workspace, Workspace.id == ChannelAccount.workspace_id)
        .where(ChannelAccount.key == key, ChannelAccount.channel == "webchat",
               ChannelAccount.is_active.is_(True))
    )).first()
    return None if row is None else (row[0], row[1])


def _visible_to_visitor(statuses: Sequence[str]) -> Any:
    return (Message.direction == Direction.inbound.value) | (
        (Message.direction == Direction.outbound.value) & Message.status.in_(list(statuses)))


def _of_contact(account_id: int, contact_id: int) -> Any:
    return (Conversation.contact_id == contact_id) & (Conversation.channel_account_id == account_id)


async def transcript(session: AsyncSession, *, account_id: int, contact_id: int, after_id: int | None,
                     limit: int) -> list[tuple[Message, str | None]]:
    """Oldest first. Without `after_id`: the newest `limit` messages; with it: the next `limit` after it."""
    stmt = (select(Message, Agent.name)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .outerjoin(Agent, Agent.id == Message.agent_id)
            .where(_of_contact(account_id, contact_id), Message.channel_account_id == account_id,
                   _visible_to_visitor(TRANSCRIPT_OUT_STATUSES)))
    if after_id:
        rows = (await session.execute(stmt.where(Message.id > after_id).order_by(Message.id).limit(limit))).all()
        return [(message, agent) for message, agent in rows]
    rows = (await session.execute(stmt.order_by(Message.id.desc()).limit(limit))).all()
    return [(message, agent) for message, agent in reversed(rows)]


async def message_for_visitor(session: AsyncSession, *, account_id: int, contact_id: int,
                              message_id: int) -> tuple[Message, str | None] | None:
    """One message being pushed live (it may still be 'queued': the adapter is sending it right now)."""
    row = (await session.execute(
        select(Message, Agent.name)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(Agent, Agent.id == Message.agent_id)
        .where(Message.id == message_id, _of_contact(account_id, contact_id),
               _visible_to_visitor(PUSHABLE_OUT_STATUSES))
    )).first()
    return None if row is None else (row[0], row[1])


async def unprocessed_messages(session: AsyncSession, *, account_id: int, lane: str) -> Sequence[InboundEvent]:
    """The visitor's messages that are stored but not yet through the processor (seconds, usually)."""
    return (await session.execute(
        select(InboundEvent).where(InboundEvent.channel_account_id == account_id, InboundEvent.lane == lane,
                                   InboundEvent.kind == "message",
                                   InboundEvent.status.in_(("pending", "leased")))
        .order_by(InboundEvent.id).limit(50)
    )).scalars().all()


async def receipt_candidates(session: AsyncSession, *, account_id: int, contact_id: int, up_to_id: int,
                             statuses: Sequence[str], limit: int = 100) -> list[tuple[int, str, str | None]]:
    """The visitor's outbound messages up to `up_to_id` whose status a receipt could still move forward."""
    rows = (await session.execute(
        select(Message.id, Message.status, Message.external_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(_of_contact(account_id, contact_id), Message.channel_account_id == account_id,
               Message.direction == Direction.outbound.value, Message.id <= up_to_id,
               Message.status.in_(list(statuses)))
        .order_by(Message.id.desc()).limit(limit)
    )).all()
    return [(message_id, status, external_id) for message_id, status, external_id in rows]
