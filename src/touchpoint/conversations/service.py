"""Conversation mutations: open, hand off, take over, assign, resolve, hand back, notes, agent replies.

Services flush, never commit; realtime events are staged and published after commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from touchpoint.conversations import repository, sla
from touchpoint.delivery.outbound import queue_message
from touchpoint.kit.clock import utcnow
from touchpoint.kit.errors import Conflict
from touchpoint.models import (
    Agent,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageStatus,
    SenderKind,
    Team,
)
from touchpoint.policy.gate import Purpose
from touchpoint.realtime.events import conversation_topic, stage, workspace_topic
from touchpoint.workspaces.audit import Actor, record_audit


def announce_change(session: AsyncSession, conversation: Conversation, change: str) -> None:
    """Tell agents' browsers (list and conversation page) after commit."""
    event = {"type": "conversation", "change": change, "conversation_id": conversation.id,
             "status": conversation.status, "team_id": conversation.team_id, "agent_id": conversation.agent_id}
    stage(session, workspace_topic(conversation.workspace_id), event)
    stage(session, conversation_topic(conversation.id), event)


async def get_or_open(session: AsyncSession, *, contact: Contact, channel_account_id: int,
                      now: datetime) -> tuple[Conversation, bool]:
    conversation = await repository.open_conversation_for(session, contact.id, channel_account_id)
    if conversation is not None:
        return conversation, False
    conversation = Conversation(workspace_id=contact.workspace_id, contact_id=contact.id,
                                channel_account_id=channel_account_id, status=ConversationStatus.bot.value,
                                last_message_at=now)
    session.add(conversation)
    await session.flush()
    announce_change(session, conversation, "opened")
    return conversation, True


async def store_inbound(session: AsyncSession, *, conversation: Conversation, text: str,
                        content: dict[str, Any], external_id: str, now: datetime,
                        language: str | None = None) -> Message:
    message = Message(workspace_id=conversation.workspace_id, conversation_id=conversation.id,
                      channel_account_id=conversation.channel_account_id, direction=Direction.inbound.value,
                      sender_kind=SenderKind.contact.value, text=text, content=content,
                      status=MessageStatus.received.value, external_id=external_id, status_at=now,
                      language=language)
    session.add(message)
    if conversation.status == ConversationStatus.snoozed.value:
        # A customer writing again wakes a snoozed conversation for its agent.
        conversation.status = (ConversationStatus.assigned if conversation.agent_id
                               else ConversationStatus.queued).value
        conversation.snoozed_until = None
    conversation.last_message_at = now
    conversation.last_message_preview = text[:200]
    await session.flush()
    stage(session, conversation_topic(conversation.id), {"type": "message", "message_id": message.id})
    announce_change(session, conversation, "message")
    return message


async def hand_off(session: AsyncSession, *, conversation: Conversation, team: Team | None, reason: str,
                   actor: Actor, priority: int = 0, now: datetime | None = None) -> None:
    """Give the conversation to people: queued for a team, the bot goes silent, the SLA clock starts."""
    if not ConversationStatus(conversation.status).human_owned:  # a new hand-off, not a re-queue
        conversation.handed_off_at = now = now or utcnow()
        await sla.schedule_first_response(session, conversation, now)
    conversation.status = ConversationStatus.queued.value
    conversation.team_id = team.id if team else conversation.team_id
    conversation.agent_id = None
    conversation.handoff_reason = reason[:200]
    conversation.priority = max(conversation.priority, priority)
    record_audit(session, workspace_id=conversation.workspace_id, actor=actor, action="conversation.handoff",
                 subject_type="conversation", subject_id=conversation.id, team_id=conversation.team_id,
                 reason=reason)
    await session.flush()
    announce_change(session, conversation, "handoff")


async def take_over(session: AsyncSession, *, conversation: Conversation, agent: Agent) -> None:
    await assign_agent(session, conversation=conversation, agent=agent, actor=Actor("agent", agent.id, agent.name))


async def assign_agent(session: AsyncSession, *, conversation: Conversation, agent: Agent, actor: Actor) -> None:
    if agent.workspace_id != conversation.workspace_id or not agent.is_active:
        raise Conflict("that agent cannot take conversations in this workspace", code="agent_unavailable")
    previous = conversation.agent_id
    conversation.status = ConversationStatus.assigned.value
    conversation.agent_id = agent.id
    conversation.snoozed_until = None
    record_audit(session, workspace_id=conversation.workspace_id, actor=actor, action="conversation.assign",
                 subject_type="conversation", subject_id=conversation.id, agent_id=agent.id, previous=previous)
    await session.flush()
    if previous != agent.id:
        first_name = agent.name.split()[0] if agent.name else "An agent"
        await queue_message(session, conversation=conversation, text=f"{first_name} joined the conversation",
                            sender_kind=SenderKind.system.value, purpose=Purpose.transactional,
                            content={"event": "agent_joined", "agent_name": first_name})
    announce_change(session, conversation, "assigned")


async def assign_team(session: AsyncSession, *, conversation: Conversation, team: Team, actor: Actor) -> None:
    if team.workspace_id != conversation.workspace_id:
        raise Conflict("team belongs to another workspace", code="team_unavailable")
    conversation.team_id = team.id
    if conversation.status in (ConversationStatus.bot.value, ConversationStatus.resolved.value):
        conversation.status = ConversationStatus.queued.value
    elif conversation.status == ConversationStatus.assigned.value:
        # Moving to another team puts it back in that team's queue.
        conversation.status = ConversationStatus.queued.value
        conversation.agent_id = None
    record_audit(session, workspace_id=conversation.workspace_id, actor=actor, action="conversation.assign_team",
                 subject_type="conversation", subject_id=conversation.id, team_id=team.id)
    await session.flush()
    announce_change(session, conversation, "team")


async def resolve(session: AsyncSession, *, conversation: Conversation, actor: Actor) -> None:
    if conversation.status == ConversationStatus.resolved.value:
        return
    conversation.status = ConversationStatus.resolved.value
    conversation.resolved_at = utcnow()
    conversation.snoozed_until = None
    record_audit(session, workspace_id=conversation.workspace_id, actor=actor, action="conversation.resolve",
                 subject_type="conversation", subject_id=conversation.id)
    await session.flush()
    announce_change(session, conversation, "resolved")


async def hand_back_to_bot(session: AsyncSession, *, conversation: Conversation, actor: Actor) -> None:
    conversation.status = ConversationStatus.bot.value
    conversation.agent_id = None
    conversation.handoff_reason = None
    record_audit(session, workspace_id=conversation.workspace_id, actor=actor, action="conversation.to_bot",
                 subject_type="conversation", subject_id=conversation.id)
    await session.flush()
    announce_change(session, conversation, "to_bot")


async def add_note(session: AsyncSession, *, conversation: Conversation, agent: Agent, text: str) -> Message:
    note = Message(workspace_id=conversation.workspace_id, conversation_id=conversation.id,
                   channel_account_id=conversation.channel_account_id, direction=Direction.outbound.value,
                   sender_kind=SenderKind.agent.value, agent_id=agent.id, text=text, content={"note": True},
                   status=MessageStatus.note.value, status_at=utcnow())
    session.add(note)
    await session.flush()
    stage(session, conversation_topic(conversation.id), {"type": "message", "message_id": note.id})
    return note


async def agent_reply(session: AsyncSession, *, conversation: Conversation, agent: Agent, text: str,
                      idempotency_key: str | None = None) -> Message:
    """An agent answering takes the conversation if nobody had it: the bot must not talk over them."""
    if conversation.agent_id != agent.id or conversation.status != ConversationStatus.assigned.value:
        await assign_agent(session, conversation=conversation, agent=agent, actor=Actor("agent", agent.id, agent.name))
    message = await queue_message(session, conversation=conversation, text=text, sender_kind=SenderKind.agent.value,
                                  purpose=Purpose.service, agent_id=agent.id, idempotency_key=idempotency_key)
    await sla.record_agent_reply(session, conversation, utcnow())  # the first answer stops the SLA clock
    announce_change(session, conversation, "message")
    return message
