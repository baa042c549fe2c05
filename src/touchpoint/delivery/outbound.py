"""Queueing an outbound message: gate verdict, message row and outbox row in one transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.contacts import repository as contacts_repo
from touchpoint.kit.clock import utcnow
from touchpoint.models import (
    ChannelAccount,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageStatus,
    OutboxItem,
    SenderKind,
)
from touchpoint.policy.gate import Action, ConsentState, GateInput, Purpose, Verdict, decide
from touchpoint.realtime.events import conversation_topic, stage
from touchpoint.runtime import wake_after_commit


def lane_for_conversation(conversation_id: int) -> str:
    return f"c{conversation_id}"


async def gate_for(session: AsyncSession, *, conversation: Conversation, channel: str, purpose: Purpose,
                   topic: str, sender_kind: str, now: datetime, last_inbound_at: datetime | None = None) -> Verdict:
    """`last_inbound_at`: when the conversation's newest inbound message was stored, if the caller knows (the
    processor has just stored it); otherwise it is looked up."""
    consent = await contacts_repo.consent_in_force(session, conversation.contact_id, topic, channel)
    last_inbound = last_inbound_at or (await session.execute(
        select(Message.created_at).where(Message.conversation_id == conversation.id,
                                         Message.direction == Direction.inbound.value)
        .order_by(Message.id.desc()).limit(1)
    )).scalar()
    return decide(GateInput(
        channel=channel, purpose=purpose, topic=topic, sender_kind=sender_kind, now=now,
        consent=ConsentState(consent.granted, consent.topic, consent.channel, consent.created_at)
        if consent else None,
        conversation_human_owned=ConversationStatus(conversation.status).human_owned,
        last_inbound_at=last_inbound,
    ))


async def queue_message(session: AsyncSession, *, conversation: Conversation, text: str, sender_kind: str,
                        purpose: Purpose, topic: str = "service", agent_id: int | None = None,
                        content: dict[str, Any] | None = None, idempotency_key: str | None = None,
                        now: datetime | None = None, last_inbound_at: datetime | None = None) -> Message:
    """Pass the send gate and store the verdict with the message. Sendable messages get an outbox row
    (committed with the message, so a rolled-back reply is never sent). `last_inbound_at`: see gate_for."""
    now = now or utcnow()
    account = await session.get(ChannelAccount, conversation.channel_account_id)
    assert account is not None
    verdict = await gate_for(session, conversation=conversation, channel=account.channel, purpose=purpose,
                             topic=topic, sender_kind=sender_kind, now=now, last_inbound_at=last_inbound_at)
    message = Message(
        workspace_id=conversation.workspace_id, conversation_id=conversation.id,
        channel_account_id=conversation.channel_account_id, direction=Direction.outbound.value,
        sender_kind=sender_kind, agent_id=agent_id, text=text, content=content or {}, purpose=purpose.value,
        topic=topic, gate=verdict.to_dict(), idempotency_key=idempotency_key, status_at=now,
        status=MessageStatus.suppressed.value if verdict.action == Action.suppress else MessageStatus.queued.value,
        status_reason=",".join(verdict.reasons) or None,
    )
    session.add(message)
    await session.flush()
    if verdict.action in (Action.send, Action.defer):
        # A Core insert: nothing in this transaction reads the row back, and the ORM's unit of work costs more
        # than the statement for a row that is written once here and then only by the dispatcher's updates.
        await session.execute(insert(OutboxItem.__table__).values(  # type: ignore[arg-type]
            workspace_id=conversation.workspace_id, message_id=message.id,
            channel_account_id=conversation.channel_account_id, lane=lane_for_conversation(conversation.id),
            available_at=verdict.until or now, idempotency_key=uuid.uuid4().hex,
        ))
        wake_after_commit(session, "outbox")
    if message.status != MessageStatus.suppressed.value and sender_kind != SenderKind.system.value:
        # System notices ("connecting you...", "Maria joined") would hide what the customer asked.
        conversation.last_message_at = now
        conversation.last_message_preview = text[:200]
    stage(session, conversation_topic(conversation.id), {"type": "message", "message_id": message.id})
    return message
